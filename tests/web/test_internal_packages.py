"""``internal: true`` hides a package from ``/search`` and ``/categories`` unless the query
says ``internal=true``: one rule for local, storage and upstream packages.

A local folder package says it in its manifest; a storage or upstream package in its
JSON document (``"internal": true``, as the reference wrote it before it dropped the
rule). Looking a package up by name and version is never hidden.
"""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.web.test_proxy_mode import proxy_flags
from tests.web.test_relay_faults import manifest, write_index


def names(answer) -> set[str]:  # type: ignore[no-untyped-def]
    assert answer.status_code == 200
    return {item["name"] for item in answer.json()}


def internal_folder(root: Path) -> Path:
    """``sample_input`` 0.2.0 marked internal (its categories are custom, custom_logs)."""
    target = root / "sample_input" / "0.2.0"
    shutil.copytree(EXAMPLES / "sample_input" / "0.2.0", target)
    manifest_file = target / "manifest.yml"
    manifest_file.write_text(manifest_file.read_text() + "internal: true\n")
    return root


def test_local_and_storage_packages_follow_one_rule(registry, tmp_path):
    hidden = manifest("hidden")
    hidden["package_manifest"].update(internal=True, categories=["security"])  # type: ignore[union-attr]
    index = write_index(tmp_path / "index.json", [hidden, manifest("shown")])
    server = registry(
        package_paths=[internal_folder(tmp_path / "local")],
        flags=[
            "-feature-storage-indexer",
            "-storage-endpoint=http://127.0.0.1:1/",
            "-require-package-signatures=false",
            "-workers=1",
        ],
        env={"EPR_EMULATOR_INDEX_PATH": str(index)},
    )
    assert names(server.get("/search")) == {"shown"}
    assert names(server.get("/search?internal=true")) == {"shown", "hidden", "sample_input"}
    assert names(server.get("/search?experimental=true")) == {"shown"}
    categories = {item["id"] for item in server.get("/categories").json()}
    assert not categories & {"security", "custom", "custom_logs"}
    for path in ("/package/hidden/1.0.0/", "/package/sample_input/0.2.0/"):
        assert server.get(path).status_code == 200, path


class _OldUpstream(http.server.BaseHTTPRequestHandler):
    """An upstream that writes ``"internal": true`` in its /search items."""

    def do_GET(self) -> None:
        items = [
            {"name": "secret", "version": "1.0.0", "title": "Secret", "internal": True},
            {"name": "public", "version": "1.0.0", "title": "Public"},
        ]
        body = json.dumps(items).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def old_upstream() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OldUpstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_upstream_packages_follow_the_same_rule(registry, tmp_path, old_upstream):
    proxy = registry(
        [internal_folder(tmp_path / "local")], [*proxy_flags(old_upstream), "-workers=1"]
    )
    assert names(proxy.get("/search")) == {"public"}
    assert names(proxy.get("/search?internal=true")) == {"public", "secret", "sample_input"}


def test_a_chain_of_registries_keeps_the_rule(registry, tmp_path):
    upstream = registry(
        [internal_folder(tmp_path / "upstream")],
        ["-workers=1", "-require-package-signatures=false"],
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    proxy = registry([empty], [*proxy_flags(upstream.base_url), "-workers=1"])
    assert names(proxy.get("/search")) == set()
    assert names(proxy.get("/search?internal=true")) == {"sample_input"}
