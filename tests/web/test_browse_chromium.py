"""``/browse/`` in a real browser: headless Chromium loads the pages from a live server.

``--dump-dom`` gives the document as the browser built it (after parsing, loading images
and running whatever it would run), ``--screenshot`` what a person sees. Whether an image
loaded is read from the server's request log: the browser asked for it and got it.
The tests run where a ``chromium`` binary exists (``.ci/run`` installs Debian's).

``make browse-screenshots`` writes the README's screenshots with the same code: it sets
``BROWSE_SCREENSHOTS`` to the folder to write them to.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import (
    EXAMPLES,
    RunningRegistry,
    eventually,
    start_registry,
    stop,
    write_config,
)
from tests.web.test_browse import HOSTILE_README, assert_inert, elements, write_package

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (Debian: apt-get install chromium; .ci/run does)",
)

DESKTOP = (1280, 900)
PHONE = (390, 844)


def chromium(profile: Path, *args: str) -> str:
    """Run headless Chromium once (its own profile folder) and return its stdout."""
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # tests may run as root, where the sandbox refuses to start
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=True)
    return done.stdout


def dump_dom(profile: Path, url: str) -> str:
    return chromium(profile, "--dump-dom", url)


def screenshot(profile: Path, url: str, target: Path, size: tuple[int, int]) -> tuple[int, int]:
    """Save a PNG of ``url`` seen in a window of ``size``; returns the PNG's size."""
    chromium(profile, f"--window-size={size[0]},{size[1]}", f"--screenshot={target}", url)
    header = target.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


class _Text(HTMLParser):
    """The text of a document outside ``<head>``, whitespace collapsed."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._head = False

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._head = self._head or tag == "head"

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self._head = False

    def handle_data(self, data: str) -> None:
        if not self._head:
            self.parts.append(data)


def visible_text(dom: str) -> str:
    parser = _Text()
    parser.feed(dom)
    return " ".join(" ".join(parser.parts).split())


def fetched_by_browser(server: RunningRegistry, path: str) -> list[int]:
    """Status codes of the browser's requests for ``path``, from the request log (lines
    are written in batches: wait for them with ``eventually``)."""
    codes = []
    for line in server.logs():
        url, http = line.get("url"), line.get("http")
        agent = line.get("user_agent")
        if not (isinstance(url, dict) and isinstance(http, dict) and isinstance(agent, dict)):
            continue
        if url.get("path") == path and "HeadlessChrome" in str(agent.get("original")):
            codes.append(http["response"]["code"])
    return codes


def images(dom: str) -> list[str]:
    return [str(attrs["src"]) for tag, attrs in elements(dom) if tag == "img" and attrs.get("src")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The examples and one hostile package, request log on (it shows what was fetched)."""
    root = tmp_path_factory.mktemp("browser")
    write_package(root / "packages", "hostile", "1.0.0", HOSTILE_README)
    config = write_config(root, [EXAMPLES, root / "packages"])
    running = start_registry(
        [f"-config={config}", "-workers=1", "-require-package-signatures=false"], cwd=root
    )
    yield running
    stop(running)


@pytest.fixture
def profile(tmp_path):
    return tmp_path / "profile"


def test_the_list_as_a_person_sees_it(server, profile):
    dom = dump_dom(profile, server.url("/browse/"))
    text = visible_text(dom)
    for title in ("Sample Logs", "Sample Metrics", "Sample File Input", "Sample Web Content"):
        assert title in text
    assert "Sample Logs 1.1.0 ga integration" in text
    icons = images(dom)
    assert "/package/sample_logs/1.1.0/img/sample_logs.svg" in icons
    for src in icons:
        eventually(lambda src=src: 200 in fetched_by_browser(server, src))
        assert server.get(src).headers["content-type"].startswith("image/")


def test_a_filtered_list(server, profile):
    dom = dump_dom(profile, server.url("/browse/?q=logs&prerelease=true&kibana.version=8.13.0"))
    text = visible_text(dom)
    assert "Sample Logs 1.2.0-beta1 beta" in text
    assert "Sample Metrics" not in text and "Sample Web Content" not in text
    form = {attrs.get("name"): attrs for tag, attrs in elements(dom) if tag == "input"}
    assert form["q"]["value"] == "logs"
    assert form["kibana.version"]["value"] == "8.13.0"
    assert "checked" in form["prerelease"]


def test_a_package_page(server, profile):
    dom = dump_dom(profile, server.url("/browse/sample_logs/"))
    tags = elements(dom)
    headings = [tag for tag, _ in tags if tag in ("h1", "h2")]
    assert headings.count("h1") == 2  # the page's title and the README's
    text = visible_text(dom)
    assert "Sample Logs sample_logs 1.1.0 ga integration" in text
    assert "Compatibility" in text and "Exported fields" in text  # README headings
    assert "## Compatibility" not in text  # rendered, not shown as Markdown
    for row in ("1.2.0-beta1 beta ^8.13.0 || ^9.0.0", "1.1.0 ga ^8.10.0 || ^9.0.0", "1.0.0 ga"):
        assert row in text
    for src in images(dom):
        eventually(lambda src=src: 200 in fetched_by_browser(server, src))


def test_a_hostile_readme_is_inert_in_the_browser(server, profile):
    dom = dump_dom(profile, server.url("/browse/hostile/1.0.0/"))
    body = next(attrs for tag, attrs in elements(dom) if tag == "body")
    assert "data-pwned" not in body  # nothing the README carried ran
    assert_inert(dom)
    text = visible_text(dom)
    assert "Hostile <b>heading</b>" in text  # raw HTML shown as text
    assert "Second heading" in text
    assert not [src for src in images(dom) if not src.startswith("/")]


@pytest.mark.parametrize(
    ("path", "name"), [("/browse/", "list"), ("/browse/sample_logs/", "package")]
)
@pytest.mark.parametrize(("size", "device"), [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_screenshots(examples_server, profile, tmp_path, path, name, size, device):
    folder = Path(os.environ.get("BROWSE_SCREENSHOTS") or tmp_path)
    target = folder / f"browse-{name}-{device}.png"
    assert screenshot(profile, examples_server.url(path), target, size) == size
