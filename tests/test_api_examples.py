"""docs/api/ is what a live registry answers: rendered again and compared byte for byte."""

from __future__ import annotations

from scripts import api_examples

from package_registry.web import router
from tests.conftest import ROOT

DOCS = ROOT / "docs" / "api"


def test_committed_examples_match_a_live_registry(examples_server):
    pages = api_examples.render_all(examples_server.base_url)
    committed = {path.name: path.read_text() for path in DOCS.glob("*.md")}
    assert sorted(committed) == sorted(pages), "run scripts/api_examples.py"
    stale = [name for name, text in pages.items() if committed[name] != text]
    assert not stale, f"out of date (run scripts/api_examples.py): {stale}"


def test_every_route_has_an_example():
    shown = [router.resolve(e.path.split("?")[0], "") for e in api_examples.EXAMPLES_SHOWN]
    matched = {m.route.name for m in shown if isinstance(m, router.Match)}
    assert matched == {route.name for route in router.ROUTES}
