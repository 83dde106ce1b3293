"""Write docs/api/: one request/response page per route, parameter and error answer.

Every page is what a registry over the shipped example packages answers, so the pages
cannot drift from the code: the test suite renders them again against a live server
and compares with the committed files.

Usage (with the project installed, e.g. ``.venv/bin/python``)::

    python scripts/api_examples.py
        Start a registry over src/package_registry/examples on a free loopback port,
        ask it every example request and rewrite docs/api/.

Headers that change from one run or checkout to the next (``date``, ``last-modified``)
are left out; bodies that are not text are shown by size and SHA-256.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "src" / "package_registry" / "examples"
OUT = REPO / "docs" / "api"
#: Headers whose value differs between runs of the same request.
VOLATILE = frozenset({"date", "last-modified"})
TEXT_TYPES = ("application/json", "text/", "application/pgp-signature")
#: JSON bodies longer than this are summarised like binary ones (the OpenAPI document).
MAX_SHOWN = 16 * 1024
_LISTENING = re.compile(r"listening on (https?://[^\s\"]+)")


@dataclass(frozen=True)
class Example:
    """One request to show: ``slug`` names its page."""

    slug: str
    title: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    #: The request's ``If-None-Match`` is the ``ETag`` answered to ``path``.
    revalidate: bool = False


SEARCH = "/search"
LOGS = "/package/sample_logs/1.0.0"
SIG = "/epr/sample_logs/sample_logs-1.0.0.zip.sig"
FIELDS = "fields:url.path,http.response.status_code"

EXAMPLES_SHOWN: tuple[Example, ...] = (
    Example("index", "Service name and version", "/"),
    Example("index-json", "Service name and version, as `/`", "/index.json"),
    Example("health", "Health check", "/health"),
    Example("favicon", "The registry's icon", "/favicon.ico"),
    Example("openapi", "The OpenAPI 3.1 description (docs/openapi.json)", "/openapi.json"),
    Example("search", "Latest release of each package", SEARCH),
    Example("search-package", "One package", f"{SEARCH}?package=sample_logs"),
    Example("search-all", "Every version", f"{SEARCH}?package=sample_logs&all=true"),
    Example(
        "search-prerelease", "Prereleases too", f"{SEARCH}?package=sample_logs&prerelease=true"
    ),
    Example("search-type", "Packages of one type", f"{SEARCH}?type=input"),
    Example("search-category", "Packages of one category", f"{SEARCH}?category=custom"),
    Example(
        "search-kibana-version", "Packages for a Kibana version", f"{SEARCH}?kibana.version=8.11.0"
    ),
    Example(
        "search-agent-version", "Packages for an Agent version", f"{SEARCH}?agent.version=8.11.0"
    ),
    Example("search-capabilities", "Packages for capabilities", f"{SEARCH}?capabilities=security"),
    Example(
        "search-spec", "Packages in a package-spec range", f"{SEARCH}?spec.min=3.0&spec.max=3.3"
    ),
    Example("search-discovery", "Packages by discovery fields", f"{SEARCH}?discovery={FIELDS}"),
    Example("search-experimental", "Legacy filtering (deprecated)", f"{SEARCH}?experimental=true"),
    Example("search-not-modified", "Revalidation with the ETag", SEARCH, revalidate=True),
    Example("categories", "Categories with counts", "/categories"),
    Example(
        "categories-include-policy-templates",
        "Policy templates' categories too",
        "/categories?include_policy_templates=true",
    ),
    Example("categories-prerelease", "Prereleases too", "/categories?prerelease=true"),
    Example(
        "categories-kibana-version", "For a Kibana version", "/categories?kibana.version=8.11.0"
    ),
    Example("categories-agent-version", "For an Agent version", "/categories?agent.version=8.11.0"),
    Example("categories-capabilities", "For capabilities", "/categories?capabilities=security"),
    Example("categories-spec", "In a package-spec range", "/categories?spec.min=3.0&spec.max=3.3"),
    Example("categories-discovery", "By discovery fields", f"/categories?discovery={FIELDS}"),
    Example(
        "categories-experimental", "Legacy filtering (deprecated)", "/categories?experimental=true"
    ),
    Example("package", "A package version's document", f"{LOGS}/"),
    Example("package-redirect", "Without the trailing slash", LOGS),
    Example("package-file", "A file of a package", f"{LOGS}/manifest.yml"),
    Example(
        "package-file-range", "A range of a file", f"{LOGS}/manifest.yml", {"Range": "bytes=0-31"}
    ),
    Example("artifact", "The zip archive", "/epr/sample_metrics/sample_metrics-1.0.0.zip"),
    Example("signature", "The zip archive's signature", SIG),
    Example("signature-range-unsatisfiable", "A range past the end", SIG, {"Range": "bytes=9999-"}),
    Example("tarball", "The tar.gz archive", "/epr/sample_metrics/sample_metrics-1.0.0.tar.gz"),
    Example("error-kibana-version", "400: not a version", f"{SEARCH}?kibana.version=eight"),
    Example("error-boolean", "400: not a boolean", f"{SEARCH}?prerelease=maybe"),
    Example("error-spec", "400: spec version without minor", f"{SEARCH}?spec.min=3"),
    Example("error-discovery", "400: unknown discovery filter", f"{SEARCH}?discovery=tags:a"),
    Example(
        "error-include-policy-templates",
        "400: not a boolean",
        "/categories?include_policy_templates=maybe",
    ),
    Example("error-package-version", "400: not a version", "/package/sample_logs/latest/"),
    Example("error-unknown-path", "404: no such route", "/nothing-here"),
    Example("error-package", "404: no such package", "/package/sample_logs/9.9.9/"),
    Example("error-package-file", "404: no such file", f"{LOGS}/nothing.txt"),
    Example("error-artifact", "404: no such archive", "/epr/sample_logs/sample_logs-9.9.9.zip"),
    Example(
        "error-signature", "404: no such signature", "/epr/sample_logs/sample_logs-9.9.9.zip.sig"
    ),
)


def _is_text(content_type: str) -> bool:
    return content_type.startswith(TEXT_TYPES)


def _body_block(response: httpx.Response) -> list[str]:
    body = response.content
    if not body:
        return []
    content_type = response.headers.get("content-type", "")
    if not _is_text(content_type) or len(body) > MAX_SHOWN:
        digest = hashlib.sha256(body).hexdigest()
        return [f"Body: {len(body)} bytes, SHA-256 `{digest}`.", ""]
    language = "json" if content_type.startswith("application/json") else "text"
    text = body.decode("utf-8")
    return [f"```{language}", text.rstrip("\n"), "```", ""]


def render_page(example: Example, client: httpx.Client) -> str:
    """The Markdown page of ``example``, asked of the registry behind ``client``."""
    headers = dict(example.headers)
    if example.revalidate:
        headers["If-None-Match"] = client.get(example.path).headers["etag"]
    response = client.get(example.path, headers=headers)
    options = "".join(f" -H '{name}: {value}'" for name, value in headers.items())
    lines = [
        f"# {example.title}",
        "",
        "```sh",
        f"curl -i{options} 'http://localhost:8080{example.path}'",
        "```",
        "",
        "```http",
        f"HTTP/1.1 {response.status_code} {response.reason_phrase}",
    ]
    for raw_name, raw_value in response.headers.raw:
        name = raw_name.decode("latin-1").lower()
        if name not in VOLATILE:
            lines.append(f"{name}: {raw_value.decode('latin-1')}")
    lines += ["```", ""]
    lines += _body_block(response)
    return "\n".join(lines)


def render_index() -> str:
    """docs/api/README.md: the list of pages."""
    lines = [
        "# API examples",
        "",
        "What a registry serving the example packages of `src/package_registry/examples`",
        "answers, request by request. Generated by `scripts/api_examples.py`; the test suite",
        "checks that they still match. The machine-readable description is",
        "[docs/openapi.json](../openapi.json), served at `/openapi.json`.",
        "",
        "Headers that change on every run (`date`, `last-modified`) are left out.",
        "",
    ]
    lines += [f"- [{e.title}]({e.slug}.md): `GET {e.path}`" for e in EXAMPLES_SHOWN]
    return "\n".join(lines) + "\n"


def render_all(base_url: str) -> dict[str, str]:
    """Every file of docs/api/ by name, asked of the registry at ``base_url``."""
    pages = {"README.md": render_index()}
    # Bodies as sent without compression; the examples show the registry's own bytes.
    with httpx.Client(base_url=base_url, headers={"Accept-Encoding": "identity"}) as client:
        for example in EXAMPLES_SHOWN:
            pages[f"{example.slug}.md"] = render_page(example, client)
    return pages


def _serve_examples(directory: Path) -> tuple[subprocess.Popen[str], str]:
    """A registry over the example packages on a free loopback port, and its URL."""
    config = directory / "config.yml"
    config.write_text(f'package_paths:\n  - "{EXAMPLES}"\n')
    executable = Path(sys.executable).parent / "package-registry"
    process = subprocess.Popen(
        [str(executable), f"-config={config}", "-address=127.0.0.1:0", "-workers=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        found = _LISTENING.search(line)
        if found:
            # Keep reading the log so the server never blocks on a full pipe.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            _wait_healthy(found.group(1))
            return process, found.group(1)
    raise SystemExit("the registry exited before listening")


def _wait_healthy(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the registry never answered /health")
        time.sleep(0.05)


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        process, url = _serve_examples(Path(directory))
        try:
            pages = render_all(url)
        finally:
            process.terminate()
            process.wait(10)
    OUT.mkdir(parents=True, exist_ok=True)
    for stale in set(p.name for p in OUT.glob("*.md")) - set(pages):
        (OUT / stale).unlink()
    for name, text in pages.items():
        (OUT / name).write_text(text)
    print(f"wrote {len(pages)} files to {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
