"""``/browse/`` over real servers: the pages, their bounds, hostile packages and queries,
and ``-browse=false``. What a browser makes of the pages is in ``test_browse_chromium.py``."""

from __future__ import annotations

import re
import threading
import time
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from package_registry.queries.browse import PAGE_SIZE
from package_registry.web.browse.markdown import render_readme
from package_registry.web.browse.pages import README_MAX
from tests.conftest import EXAMPLES, start_registry, stop, write_config

#: A README trying every way of getting markup or a script into the page.
HOSTILE_README = """\
# Hostile <b>heading</b>

<script>document.body.setAttribute('data-pwned', 'script')</script>

<img src="/nothing.png" onerror="document.body.setAttribute('data-pwned', 'onerror')">

<iframe src="https://example.com/"></iframe>

[script link](javascript:document.body.setAttribute('data-pwned','link'))
[spaced link]( JaVaScRiPt:alert(1))
[entity link](java&#x09;script:alert(1))
[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)
<javascript:alert(1)>
![data image](data:image/svg+xml;base64,PHN2Zy8+)
![relative image](../img/logo.svg)
[outside](https://example.com/docs)

## Second heading
"""

MANIFEST = """\
format_version: 3.0.0
name: {name}
title: "{title}"
version: {version}
description: "A package whose texts try to inject markup: <img src=x onerror=alert(1)>"
type: integration
categories:
  - security
icons:
  - src: /img/logo.svg
    title: logo
    size: 16x16
    type: image/svg+xml
owner:
  github: "evil/<script>"
  type: community
"""

LOGO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16">'
    b'<rect width="16" height="16" fill="#c00"/></svg>\n'
)


def write_package(
    root: Path,
    name: str,
    version: str,
    readme: str,
    title: str = "Hostile <script>alert(1)</script>",
) -> Path:
    folder = root / name / version
    (folder / "docs").mkdir(parents=True)
    (folder / "img").mkdir()
    (folder / "docs" / "README.md").write_text(readme)
    (folder / "img" / "logo.svg").write_bytes(LOGO)
    (folder / "manifest.yml").write_text(
        MANIFEST.format(name=name, version=version, title=title.replace('"', '\\"'))
    )
    return folder


class _Elements(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.tags


def assert_inert(html: str) -> None:
    """No script, frame, event handler, or address with a scheme other than http(s)."""
    for tag, attrs in elements(html):
        assert tag not in ("script", "iframe", "object", "embed"), tag
        for key, value in attrs.items():
            assert not key.startswith("on"), (tag, key)
            if key in ("href", "src", "action") and value is not None:
                scheme = re.match(r"\s*([a-zA-Z][a-zA-Z0-9+.-]*):", value)
                assert scheme is None or scheme.group(1).lower() in ("http", "https"), value


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    """A registry serving one hostile package next to the examples."""
    root = tmp_path_factory.mktemp("hostile")
    write_package(root / "packages", "hostile", "1.0.0", HOSTILE_README)
    write_package(root / "packages", "hostile", "2.0.0-beta1", "# Beta\n")
    config = write_config(root, [root / "packages", EXAMPLES])
    server = start_registry(
        [f"-config={config}", "-workers=1", "-require-package-signatures=false"], cwd=root
    )
    yield server
    stop(server)


def test_the_list_shows_the_latest_version_of_each_package(examples_server):
    r = examples_server.get("/browse/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none'
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    text = r.text
    for title in ("Sample Logs", "Sample Metrics", "Sample File Input", "Sample Web Content"):
        assert title in text
    assert "1.1.0" in text  # sample_logs' latest GA, its 1.2.0-beta1 hidden by default
    assert "1.2.0-beta1" not in text
    assert 'src="/package/sample_logs/1.1.0/img/sample_logs.svg"' in text


def test_the_list_applies_the_search_filters(examples_server):
    text = examples_server.get("/browse/?prerelease=true&q=LOGS").text
    assert "1.2.0-beta1" in text and "Sample Metrics" not in text
    text = examples_server.get("/browse/?type=content").text
    assert "Sample Web Content" in text and "Sample Logs" not in text
    text = examples_server.get("/browse/?category=observability&kibana.version=8.10.0").text
    assert "Sample Metrics" in text or "Sample Logs" in text
    assert "Sample Web Content" not in text
    assert '<option value="observability" selected>Observability</option>' in text


def test_a_bad_filter_is_a_400_page_with_the_search_text_escaped(examples_server):
    r = examples_server.get("/browse/?kibana.version=<script>x</script>")
    assert r.status_code == 400
    assert "invalid Kibana version &#39;&lt;script&gt;x&lt;/script&gt;&#39;" in r.text
    assert "<script>" not in r.text
    assert "no-store" in r.headers["cache-control"]


def test_query_values_come_back_escaped_in_the_form(examples_server):
    r = examples_server.get('/browse/?q="><script>alert(1)</script>&category="><x>')
    assert r.status_code == 200
    assert "<script>alert(1)" not in r.text and "<x>" not in r.text
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in r.text
    assert_inert(r.text)


def test_package_pages(examples_server):
    latest = examples_server.get("/browse/sample_logs/")
    assert latest.status_code == 200
    page = latest.text
    assert "<h1>Sample Logs</h1>" in page  # the README's heading, rendered
    assert "<h2>Compatibility</h2>" in page
    for version in ("1.2.0-beta1", "1.1.0", "1.0.0"):
        assert f'href="/browse/sample_logs/{version}/"' in page
    assert "^8.10.0 || ^9.0.0" in page  # 1.1.0's Kibana constraint
    assert 'href="/epr/sample_logs/sample_logs-1.1.0.zip"' in page
    assert 'href="/epr/sample_logs/sample_logs-1.1.0.zip.sig"' in page
    assert 'src="/package/sample_logs/1.1.0/img/sample_logs_overview.png"' in page
    assert "example-org/sample-integrations" in page
    assert "Sample web service access logs" in page  # a data stream
    assert "Sample web service logs and metrics" in page  # the policy template
    assert examples_server.get("/browse/sample_logs/1.1.0/").content == latest.content
    older = examples_server.get("/browse/sample_logs/1.0.0/").text
    assert 'href="/epr/sample_logs/sample_logs-1.0.0.zip"' in older


def test_zip_package_page_reads_its_readme_from_the_zip(examples_server):
    page = examples_server.get("/browse/sample_metrics/1.0.0/").text
    assert "<h1>" in page.split('class="readme"', 1)[1]


@pytest.mark.parametrize(
    "path",
    ["/browse/nope/", "/browse/sample_logs/9.9.9/", "/browse/sample_logs/not-a-version/"],
)
def test_unknown_packages_are_404_pages(examples_server, path):
    r = examples_server.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"] == "text/html; charset=utf-8"


def test_categories_page_counts_like_the_api(examples_server):
    api = {item["id"]: item for item in examples_server.get("/categories").json()}
    page = examples_server.get("/browse/-/categories/").text
    for cid, item in api.items():
        assert re.search(
            rf'href="/browse/\?category={cid}">{re.escape(item["title"])}</a>\s*'
            rf'<span class="n">{item["count"]}</span>',
            page,
        ), cid


def test_pages_are_cached_with_etags_and_gzip(examples_server):
    first = examples_server.get("/browse/", headers={"accept-encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip"
    again = examples_server.get("/browse/", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    css = examples_server.get("/browse/-/style.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"


def test_strict_slash_and_path_cleaning_apply(examples_server):
    r = examples_server.get("/browse", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (301, "/browse/")
    r = examples_server.get("/browse/sample_logs", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (301, "/browse/sample_logs/")


def test_the_list_is_paginated(registry, tmp_path):
    root = tmp_path / "many"
    for i in range(PAGE_SIZE + 3):
        write_package(root, f"pkg_{i:03d}", "1.0.0", "# Readme\n", title=f"Package {i:03d}")
    server = registry(package_paths=[root], flags=["-require-package-signatures=false"])
    first = server.get("/browse/").text
    assert first.count('class="card"') == PAGE_SIZE
    assert f"{PAGE_SIZE + 3} packages" in first
    assert 'href="/browse/?page=2"' in first
    second = server.get("/browse/?page=2").text
    assert second.count('class="card"') == 3
    last = server.get("/browse/?page=" + "9" * 5000)  # past the end: the last page
    assert last.text.count('class="card"') == 3
    for odd in ("0", "-1", "%C2%B2", "x"):
        assert server.get(f"/browse/?page={odd}").text.count('class="card"') == PAGE_SIZE, odd
    filtered = server.get("/browse/?q=package+00&page=1").text
    assert filtered.count('class="card"') == 10


def test_a_long_readme_is_cut(registry, tmp_path):
    readme = "# Long\n\n" + ("word " * 20 + "\n\n") * (README_MAX // 100 + 10)
    write_package(tmp_path / "p", "long", "1.0.0", readme, title="Long")
    server = registry(package_paths=[tmp_path / "p"], flags=["-require-package-signatures=false"])
    page = server.get("/browse/long/").text
    assert "The README is longer than shown here" in page
    assert len(page) < README_MAX * 1.5


def test_the_event_loop_answers_while_a_costly_readme_renders(registry, tmp_path):
    # Unclosed brackets are the slowest Markdown there is: seconds for README_MAX bytes.
    write_package(tmp_path / "p", "slow", "1.0.0", "[" * README_MAX, title="Slow")
    server = registry(
        package_paths=[tmp_path / "p"], flags=["-require-package-signatures=false", "-workers=1"]
    )
    done: dict[str, float] = {}

    def fetch_page() -> None:
        assert httpx.get(server.url("/browse/slow/"), timeout=60).status_code == 200
        done["page"] = time.monotonic()

    page = threading.Thread(target=fetch_page)
    page.start()
    time.sleep(0.2)
    assert server.get("/health").status_code == 200
    done["health"] = time.monotonic()
    page.join()
    assert done["health"] < done["page"]


def test_hostile_package_texts_are_inert(hostile_server):
    page = hostile_server.get("/browse/hostile/1.0.0/").text
    assert_inert(page)
    assert "&lt;script&gt;document.body" in page  # raw HTML shown as text
    assert "Hostile &lt;script&gt;alert(1)&lt;/script&gt;" in page  # the title
    assert 'href="https://github.com/evil/%3Cscript%3E"' in page
    assert "<dt>License</dt>" not in page  # none in the manifest
    assert 'src="/package/hostile/1.0.0/img/logo.svg"' in page  # relative image resolved
    assert 'href="https://example.com/docs" rel="nofollow noopener noreferrer"' in page
    assert_inert(hostile_server.get("/browse/").text)


def test_browse_can_be_turned_off(registry):
    server = registry(flags=["-browse=false"])
    for path in ("/browse/", "/browse", "/browse/sample_logs/", "/browse/-/style.css"):
        r = server.get(path, follow_redirects=False)
        assert (r.status_code, r.text) == (404, "404 page not found\n"), path
    assert server.get("/search").status_code == 200


def test_browse_is_off_through_its_variable(registry):
    server = registry(env={"EPR_BROWSE": "false"})
    assert server.get("/browse/").status_code == 404


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("[a](javascript:alert(1))", "<p>[a](javascript:alert(1))</p>\n"),
        ("[a](data:text/html,x)", "<p>[a](data:text/html,x)</p>\n"),
        ("![a](data:image/png;base64,AA)", "<p>![a](data:image/png;base64,AA)</p>\n"),
        ("[a](vbscript:x)", "<p>[a](vbscript:x)</p>\n"),
        ("<b onclick=x>b</b>", "<p>&lt;b onclick=x&gt;b&lt;/b&gt;</p>\n"),
        ("[a](other.md)", '<p><a href="/package/p/1.0.0/docs/other.md">a</a></p>\n'),
        ("[a](#part)", '<p><a href="#part">a</a></p>\n'),
        ("[a](//example.com/)", '<p><a href="//example.com/" rel="nofollow noopener'),
        ("[a](/\\example.com/)", '<p><a href="/%5Cexample.com/">a</a></p>\n'),
        ("[a](mailto:x@example.com)", '<p><a href="mailto:x@example.com"'),
        ("| a |\n| - |\n| b |", "<table>"),
    ],
)
def test_readme_markdown_is_sanitised(markdown, expected):
    html = render_readme(markdown, "/package/p/1.0.0/docs/README.md")
    assert html.startswith(expected)
