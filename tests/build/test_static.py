"""``package-registry build --format static``: the tree is the registry's answers.

A corpus of folder and zip packages (the shipped examples and a generated one) is built
once; every URL of the tree is then asked of a real registry over loopback, of nginx
running the generated ``nginx.conf``, and of a registry serving the tree with
``-static-path``, and all must answer the same bytes.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    EXAMPLES,
    EXECUTABLE,
    ROOT,
    RunningRegistry,
    free_port,
    start_registry,
    stop,
    write_config,
)

#: Files of the tree that are not answers.
NOT_ANSWERS = {"nginx.conf", ".package-registry-build.json"}
#: Query answers nginx forwards to the registry.
QUERIES = (
    "/search?all=true&prerelease=true",
    "/search?package=sample_logs",
    "/search?kibana.version=8.12.0",
    "/search?category=security&prerelease=true",
    "/categories?prerelease=true",
    "/categories?include_policy_templates=true",
    "/search?package=",
)


def build(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EPR_")}
    return subprocess.run(
        [EXECUTABLE, "build", *map(str, args)],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def url_of(relpath: str) -> str:
    """The URL a tree file answers."""
    if relpath == "index.json" or relpath.endswith("/index.json"):
        folder = relpath.removesuffix("index.json")
        if folder in ("search/", "categories/"):
            return "/" + folder.rstrip("/")
        return "/" + folder
    return "/" + relpath


def tree_files(tree: Path) -> list[str]:
    return sorted(
        p.relative_to(tree).as_posix()
        for p in tree.rglob("*")
        if p.is_file() and p.relative_to(tree).as_posix() not in NOT_ANSWERS
    )


def headers_of(response: httpx.Response) -> tuple[int, str | None, list[str], str | None]:
    return (
        response.status_code,
        response.headers.get("content-type"),
        response.headers.get_list("cache-control"),
        response.headers.get("access-control-allow-origin"),
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated folder and zip packages (with signature files)."""
    out = tmp_path_factory.mktemp("corpus") / "generated"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "make_corpus.py"),
            str(out),
            *("--packages", "6", "--versions", "40", "--zip-fraction", "0.3"),
            *("--sig-stubs", "--quiet"),
        ],
        check=True,
        timeout=120,
    )
    assert list(out.glob("*.zip")) and [p for p in out.iterdir() if p.is_dir()]
    return out


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, corpus: Path
) -> Iterator[tuple[RunningRegistry, Path]]:
    """A registry over the examples and the corpus, and the tree built from the same."""
    directory = tmp_path_factory.mktemp("served")
    config = write_config(directory, [EXAMPLES, corpus])
    server = start_registry([f"-config={config}", "-workers=1"], cwd=directory)
    tree = directory / "tree"
    done = build(
        *("--format", "static", "--output", tree, "--registry-url", server.base_url),
        *(EXAMPLES, corpus),
        cwd=directory,
    )
    assert done.returncode == 0, done.stderr
    try:
        yield server, tree
    finally:
        stop(server)


def test_every_file_of_the_tree_is_the_registry_answer(
    served: tuple[RunningRegistry, Path],
) -> None:
    server, tree = served
    files = tree_files(tree)
    globals_ = ["index.json", "favicon.ico", "openapi.json", "search/index.json"]
    assert {*globals_, "categories/index.json"} <= set(files)
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        for relpath in files:
            response = client.get(url_of(relpath))
            assert response.status_code == 200, relpath
            assert response.content == (tree / relpath).read_bytes(), relpath
            if relpath.startswith("package/") and not relpath.endswith("/index.json"):
                # The build keeps the source's time, which the registry sends.
                mtime = (tree / relpath).stat().st_mtime
                assert response.headers["last-modified"] == _http_date(mtime), relpath
        assert client.get("/").content == (tree / "index.json").read_bytes()
        everything = client.get("/search?all=true&prerelease=true").json()
    # Every package, its downloads and signature are in the tree.
    assert len(everything) == 6 + 40
    for item in everything:
        name, version = item["name"], item["version"]
        assert (tree / "package" / name / version / "index.json").is_file()
        for suffix in (".zip", ".zip.sig", ".tar.gz"):
            assert (tree / "epr" / name / f"{name}-{version}{suffix}").is_file()


def _http_date(mtime: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(int(mtime)))


def test_archives_are_the_same_bytes_on_every_build(
    served: tuple[RunningRegistry, Path], tmp_path: Path, corpus: Path
) -> None:
    """Folder packages are zipped again into a new tree: the same bytes (and signatures
    made of a built archive stay valid)."""
    _, tree = served
    again = tmp_path / "again"
    done = build("--format", "static", "--output", again, EXAMPLES, corpus, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for archive in (tree / "epr").rglob("*.*"):
        relpath = archive.relative_to(tree)
        assert (again / relpath).read_bytes() == archive.read_bytes(), relpath


def _nginx() -> str:
    """nginx's path; installed from Debian when missing and possible, else skip."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else ""
    )
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "nginx-light"],
            capture_output=True,
            timeout=600,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = shutil.which("nginx") or (
            "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else ""
        )
    if not found:
        pytest.skip("nginx is not installed and cannot be installed here")
    return found


@pytest.fixture(scope="module")
def nginx(
    served: tuple[RunningRegistry, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """nginx running the generated configuration on a loopback port (unprivileged
    paths added), with its base URL."""
    _, tree = served
    binary = _nginx()
    work = tmp_path_factory.mktemp("nginx")
    (work / "tmp").mkdir()
    port = free_port()
    conf = (tree / "nginx.conf").read_text()
    assert "listen 8080;" in conf
    temp_paths = "".join(
        f"  {kind}_temp_path {work}/tmp;\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("http {\n", "http {\n  access_log off;\n" + temp_paths, 1)
    (work / "nginx.conf").write_text(conf)
    # Its workers run as this user, so they can read the tree in the test's folder.
    user = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    directives = f"daemon off; pid {work}/nginx.pid; error_log {work}/error.log warn;"
    if os.geteuid() == 0:
        directives += f" user {user} {group};"
    process = subprocess.Popen(
        [
            binary,
            "-c",
            str(work / "nginx.conf"),
            "-p",
            str(work),
            "-e",
            str(work / "error.log"),
            "-g",
            directives,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        if process.poll() is not None:
            pytest.fail(f"nginx exited: {process.stderr.read() if process.stderr else ''}")
        try:
            httpx.get(base + "/index.json", timeout=1)
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(10)
        if process.stderr is not None:
            process.stderr.close()


def test_nginx_serves_the_tree_and_forwards_queries_like_the_registry(
    served: tuple[RunningRegistry, Path], nginx: str
) -> None:
    server, tree = served
    urls = ["/", *(url_of(f) for f in tree_files(tree)), *QUERIES]
    with (
        httpx.Client(base_url=server.base_url, timeout=10) as ours,
        httpx.Client(base_url=nginx, timeout=10) as theirs,
    ):
        for url in urls:
            expected, got = ours.get(url), theirs.get(url)
            assert headers_of(got) == headers_of(expected), url
            assert got.content == expected.content, url


def test_static_path_serves_like_the_registry(
    served: tuple[RunningRegistry, Path], corpus: Path, tmp_path: Path
) -> None:
    server, tree = served
    config = write_config(tmp_path, [EXAMPLES, corpus])
    from_tree = start_registry(
        [f"-config={config}", "-workers=1", f"-static-path={tree}"], cwd=tmp_path
    )
    try:
        urls = ["/", *(url_of(f) for f in tree_files(tree)), *QUERIES]
        urls += [
            "/package/sample_logs/9.9.9/",  # not in the tree: the registry's own 404
            "/package/sample_logs/1.0.0/missing.txt",
            "/epr/sample_logs/sample_logs-1.0.0.zip.sig",
            "/package/sample_logs/not-a-version/manifest.yml",
        ]
        with (
            httpx.Client(base_url=server.base_url, timeout=10) as ours,
            httpx.Client(base_url=from_tree.base_url, timeout=10) as theirs,
        ):
            for url in urls:
                expected, got = ours.get(url), theirs.get(url)
                assert headers_of(got) == headers_of(expected), url
                assert got.content == expected.content, url
            # Ranges and conditional requests go through the registry's rules.
            file = "/package/sample_logs/1.0.0/docs/README.md"
            ranged = theirs.get(file, headers={"Range": "bytes=0-9"})
            assert ranged.status_code == 206 and len(ranged.content) == 10
            since = theirs.get(file).headers["last-modified"]
            assert theirs.get(file, headers={"If-Modified-Since": since}).status_code == 304
    finally:
        stop(from_tree)


def test_static_path_never_leaves_the_tree(
    served: tuple[RunningRegistry, Path], tmp_path: Path
) -> None:
    _, built = served
    tree = tmp_path / "tree"
    shutil.copytree(built, tree)
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the tree\n")
    package = tree / "package" / "sample_logs" / "1.0.0"
    (package / "link.txt").symlink_to(secret)
    config = write_config(tmp_path, [EXAMPLES])
    server = start_registry(
        [f"-config={config}", "-workers=1", f"-static-path={tree}"], cwd=tmp_path
    )
    try:
        for path in (
            "/package/sample_logs/1.0.0/link.txt",
            "/package/sample_logs/1.0.0/..%2f..%2f..%2fnginx.conf",
            "/package/sample_logs/1.0.0/%2e%2e/%2e%2e/%2e%2e/nginx.conf",
            "/package/..%2f..%2fsecret.txt/1.0.0/x",
            "/epr/x/..-1.0.0.zip",
        ):
            response = server.get(path)
            assert response.status_code in (301, 400, 404), path
            assert b"outside the tree" not in response.content
            assert b"nginx" not in response.content
    finally:
        stop(server)


def test_rebuilding_an_unchanged_corpus_rewrites_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "packages"
    shutil.copytree(EXAMPLES, corpus, symlinks=True)
    tree = tmp_path / "tree"
    first = build("--format", "static", "--output", tree, corpus, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "0 unchanged, 0 removed" in first.stderr

    def stats() -> dict[str, tuple[int, int]]:
        return {
            p.relative_to(tree).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in tree.rglob("*")
            if p.is_file()
        }

    before = stats()
    second = build("--format", "static", "--output", tree, corpus, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert " 0 written, " in second.stderr and " 0 removed" in second.stderr
    assert stats() == before

    # One package changed: only what depends on it is rewritten; a removed one is deleted.
    readme = corpus / "sample_logs" / "1.0.0" / "docs" / "README.md"
    readme.write_text(readme.read_text() + "\nOne more line.\n")
    shutil.rmtree(corpus / "sample_content")
    third = build("--format", "static", "--output", tree, corpus, cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    after = stats()
    changed = {f for f in after if f in before and after[f] != before[f]}
    bookkeeping = {"search/index.json", "categories/index.json", ".package-registry-build.json"}
    assert changed - bookkeeping == {
        "package/sample_logs/1.0.0/docs/README.md",
        "epr/sample_logs/sample_logs-1.0.0.zip",
        "epr/sample_logs/sample_logs-1.0.0.tar.gz",
    }
    assert not (tree / "package" / "sample_content").exists()
    assert not (tree / "epr" / "sample_content").exists()
    assert not any(f.startswith(("package/sample_content", "epr/sample_content")) for f in after)


def test_invalid_packages_are_reported_and_strict_fails(tmp_path: Path) -> None:
    corpus = tmp_path / "packages"
    shutil.copytree(EXAMPLES / "sample_input", corpus / "sample_input")
    bad = corpus / "broken" / "1.0.0"
    bad.mkdir(parents=True)
    (bad / "manifest.yml").write_text("name: broken\nversion: 1.0.0\nformat_version: x\n")
    done = build("--format", "static", "--output", tmp_path / "tree", corpus, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "invalid package skipped" in done.stderr and str(bad) in done.stderr
    assert "1 packages (1 invalid)" in done.stderr
    assert (tmp_path / "tree" / "package" / "sample_input" / "0.2.0" / "index.json").is_file()
    strict = build(
        "--format", "static", "--output", tmp_path / "strict", "--strict", corpus, cwd=tmp_path
    )
    assert strict.returncode == 1
    assert "Init failed" in strict.stderr
    assert not (tmp_path / "strict").exists()


def test_build_is_the_one_subcommand(tmp_path: Path) -> None:
    usage = subprocess.run([EXECUTABLE, "build", "-h"], capture_output=True, text=True, timeout=30)
    assert usage.returncode == 0
    assert "--format {bucket,static}" in usage.stdout and "--output DIR" in usage.stdout
    refused = subprocess.run([EXECUTABLE, "serve"], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2
    assert "package-registry build" in refused.stderr
    missing = build("--output", tmp_path / "x", cwd=tmp_path)
    assert missing.returncode == 2 and "--format" in missing.stderr


def test_nginx_is_told_the_sniffed_types() -> None:
    """Files whose type the registry sniffs: an extension where all its files agree,
    an exact location for the rest (nginx would name a type from ``.md`` that the
    registry, seeing no extension in ``.md``, does not use)."""
    from package_registry.build.nginx import sniffed_types

    extensions, exact = sniffed_types(
        {
            "package/a/1.0.0/agent/stream.yml.hbs": "text/plain; charset=utf-8",
            "package/a/1.0.0/LICENSE": "text/plain; charset=utf-8",
            "package/a/1.0.0/bin/tool.dat": "application/octet-stream",
            "package/a/1.0.0/bin/blob": "application/octet-stream",
            "package/a/1.0.0/.md": "text/plain; charset=utf-8",
        }
    )
    assert extensions == {"hbs": "text/plain; charset=utf-8", "dat": "application/octet-stream"}
    assert exact == {
        "/package/a/1.0.0/.md": "text/plain; charset=utf-8",
        "/package/a/1.0.0/bin/blob": "application/octet-stream",
    }


def test_a_terminal_gets_a_progress_bar(tmp_path: Path) -> None:
    leader, follower = os.openpty()
    try:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("EPR_")}
        done = subprocess.run(
            [EXECUTABLE, "build", "--format", "static", "--output", str(tmp_path / "t"), EXAMPLES],
            cwd=tmp_path,
            env={**environment, "TERM": "xterm", "COLUMNS": "100"},
            stdout=subprocess.DEVNULL,
            stderr=follower,
            timeout=120,
        )
        os.close(follower)
        written = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal is closed once everything is read
                break
            if not chunk:
                break
            written += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert b"building" in written and b"6/6" in written
    assert b"static tree " in written
