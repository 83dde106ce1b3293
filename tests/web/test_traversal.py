"""No request path can read outside a package, however it is spelled."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from package_registry.packages.files import safe_relpath
from tests.conftest import EXAMPLES
from tests.web.test_routes import raw_request

SECRET = b"top secret, outside every package"

ATTEMPTS = [
    pytest.param("/package/sample_logs/1.1.0/../../../secret.txt", id="dotdot"),
    pytest.param("/package/sample_logs/1.1.0/%2e%2e/%2e%2e/%2e%2e/secret.txt", id="encoded-dots"),
    pytest.param("/package/sample_logs/1.1.0/..%2f..%2f..%2fsecret.txt", id="encoded-slash"),
    pytest.param("/package/sample_logs/1.1.0/%2fetc%2fpasswd", id="encoded-absolute"),
    pytest.param("/package/sample_logs/1.1.0//etc/passwd", id="double-slash-absolute"),
    pytest.param("/package/sample_logs/1.1.0/docs/..%5c..%5c..%5csecret.txt", id="backslashes"),
    pytest.param("/package/sample_logs/1.1.0/%00manifest.yml", id="nul-byte"),
    pytest.param("/package/sample_logs/1.1.0/outside.txt", id="symlink-out-of-package"),
    pytest.param("/package/sample_logs/1.1.0/docs/linked", id="symlinked-dir-out-of-package"),
    pytest.param("/package/evil/1.0.0/../secret.txt", id="zip-dotdot-request"),
    pytest.param("/package/evil/1.0.0/secret.txt", id="zip-member-with-dotdot"),
]


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory, request):
    """Examples plus a symlink leaving a package and a zip with a ``..`` member."""
    from tests.conftest import start_registry, stop, write_config

    base = tmp_path_factory.mktemp("hostile")
    (base / "secret.txt").write_bytes(SECRET)
    packages = base / "packages"
    shutil.copytree(EXAMPLES / "sample_logs", packages / "sample_logs")
    version = packages / "sample_logs" / "1.1.0"
    os.symlink(base / "secret.txt", version / "outside.txt")
    os.symlink(base, version / "docs" / "linked")
    _evil_zip(packages / "evil-1.0.0.zip")
    config = write_config(base, [packages])
    server = start_registry(
        [f"-config={config}", "-require-package-signatures=false", "-workers=1"], cwd=base
    )
    yield server
    stop(server)


def _evil_zip(path: Path) -> None:
    manifest = (EXAMPLES / "sample_logs/1.1.0/manifest.yml").read_text()
    manifest = manifest.replace("name: sample_logs", "name: evil").replace(
        "version: 1.1.0", "version: 1.0.0"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil-1.0.0/manifest.yml", manifest)
        archive.writestr("evil-1.0.0/docs/README.md", "# evil\n")
        archive.writestr("evil-1.0.0/../secret.txt", SECRET)
        archive.writestr("/etc/secret.txt", SECRET)


@pytest.mark.parametrize("path", ATTEMPTS)
def test_request_never_reads_outside_the_package(hostile_server, path):
    status, headers, body = raw_request(hostile_server, path)
    if status == 301:
        location = headers["Location"]
        status, headers, body = raw_request(hostile_server, location)
    assert SECRET not in body
    assert status in (301, 400, 404)


def test_a_symlink_inside_the_package_is_not_in_the_download(hostile_server):
    status, _, body = raw_request(hostile_server, "/epr/sample_logs/sample_logs-1.1.0.zip")
    assert status == 200
    assert SECRET not in body


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("docs/README.md", "docs/README.md"),
        ("./docs//README.md", "docs/README.md"),
        ("../x", None),
        ("docs/../../x", None),
        ("/etc/passwd", None),
        ("a\\..\\b", None),
        ("a\x00b", None),
        ("", None),
        (".", None),
    ],
)
def test_safe_relpath_refuses_every_escape(raw, clean):
    assert safe_relpath(raw) == clean
