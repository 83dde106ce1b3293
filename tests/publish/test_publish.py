"""Publishing over HTTP against real registries on loopback: POST and DELETE
``/api/v1/packages`` with tokens, signatures made here with a key made here, several
workers, and the publish path as the only place anything is written."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    EXAMPLES,
    RunningRegistry,
    free_port,
    start_registry,
    stop_registry,
    write_config,
)
from tests.sources.test_hostile_packages import manifest, write_zip, zip_package

pytestmark = pytest.mark.skipif(
    shutil.which("gpg") is None or shutil.which("gpgv") is None, reason="GnuPG is not installed"
)

TOKEN = "publisher-token-0123456789"
OTHER_TOKEN = "second-token-abcdefghijklmnop"
API = "/api/v1/packages"
KiB = 1024


@dataclass
class Keys:
    home: Path

    def sign(self, path: Path) -> bytes:
        signature = path.with_name(path.name + ".asc")
        subprocess.run(
            ["gpg", "--batch", "--yes", "--armor", "--detach-sign", "--output", str(signature),
             str(path)],
            env={**os.environ, "GNUPGHOME": str(self.home)},
            check=True,
            capture_output=True,
        )  # fmt: skip
        data = signature.read_bytes()
        signature.unlink()
        return data


def make_keys(home: Path, uid: str) -> tuple[Keys, bytes]:
    """A signing key made in ``home`` and its armored public key."""
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"],
        env=env,
        check=True,
        capture_output=True,
    )
    public = subprocess.run(
        ["gpg", "--armor", "--export"], env=env, check=True, capture_output=True
    ).stdout
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False, capture_output=True)
    return Keys(home), public


def package_zip(folder: Path, name: str, version: str = "1.0.0", **files: bytes) -> Path:
    """A valid zip as elastic-package builds it: ``<name>-<version>/`` at the top."""
    members = {
        key.replace("-1.0.0/", f"-{version}/"): value
        for key, value in zip_package(name, files).items()
    }
    members[f"{name}-{version}/manifest.yml"] = manifest(name).replace(
        b"version: 1.0.0", f"version: {version}".encode()
    )
    return write_zip(folder / f"{name}-{version}.zip", members)


def tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` with its content (folders as empty markers)."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        out[key] = path.read_bytes() if path.is_file() else b"<dir>"
    return out


@dataclass
class Setup:
    root: Path
    publish: Path
    other: Path
    keys: Keys
    stranger: Keys
    tokens: Path
    key_file: Path
    metrics_port: int = 0

    def flags(self, *extra: str) -> list[str]:
        return [
            f"-publish-tokens-file={self.tokens}",
            f"-publish-path={self.publish}",
            f"-publish-verification-key={self.key_file}",
            *extra,
        ]


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post(
    server: RunningRegistry,
    package: bytes | None,
    signature: bytes | None = None,
    token: str | None = TOKEN,
    filename: str = "package.zip",
) -> httpx.Response:
    files = {}
    if package is not None:
        files["package"] = (filename, package, "application/zip")
    if signature is not None:
        files["signature"] = (filename + ".sig", signature, "application/pgp-signature")
    headers = auth(token) if token else {}
    return httpx.post(server.url(API), files=files, headers=headers, timeout=60)


def delete(server: RunningRegistry, name: str, version: str, token: str = TOKEN) -> httpx.Response:
    return httpx.delete(server.url(f"{API}/{name}/{version}"), headers=auth(token), timeout=60)


def listed(server: RunningRegistry, name: str) -> list[str]:
    found = server.get(f"/search?package={name}&all=true&prerelease=true").json()
    return [item["version"] for item in found]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("publish")
    homes = tmp_path_factory.mktemp("gnupg")  # outside ``root``: gpg-agent writes there
    keys, public = make_keys(homes / "publisher", "Publisher <publisher@example.invalid>")
    stranger, _ = make_keys(homes / "stranger", "Stranger <stranger@example.invalid>")
    key_file = root / "publisher.asc"
    key_file.write_bytes(public)
    publish = root / "published"
    publish.mkdir()
    other = root / "other"
    other.mkdir()
    for name in ("sample_metrics-1.0.0.zip", "sample_metrics-1.0.0.zip.sig"):
        shutil.copy(EXAMPLES / name, other / name)
    digest = hashlib.sha256(OTHER_TOKEN.encode()).hexdigest()
    tokens = root / "tokens"
    tokens.write_text(f"# publishers\nci:{TOKEN}\n\nsha256:{digest}\n")
    write_config(root, [publish, other])
    yield Setup(root, publish, other, keys, stranger, tokens, key_file)
    for home in (keys.home, stranger.home):
        env = {**os.environ, "GNUPGHOME": str(home)}
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False)


@pytest.fixture(scope="module")
def server(setup: Setup) -> Iterator[RunningRegistry]:
    """Two workers, signatures required and verified, 64 KiB members, 1 MiB uploads."""
    setup.metrics_port = free_port()
    flags = setup.flags(
        "-workers=2",
        "-publish-max-size=1048576",
        "-package-max-zip-member-size=65536",
        "-publish-rate-limit=0",
        f"-metrics-address=127.0.0.1:{setup.metrics_port}",
    )
    running = start_registry([f"-config={setup.root / 'config.yml'}", *flags], cwd=setup.root)
    yield running
    stop_registry(running.process)


@pytest.fixture
def unchanged(setup: Setup) -> Iterator[None]:
    """The test writes nothing anywhere: the whole module folder is the same after it."""
    before = tree(setup.root)
    yield
    assert tree(setup.root) == before


def signed(setup: Setup, path: Path) -> tuple[bytes, bytes]:
    return path.read_bytes(), setup.keys.sign(path)


# --- refusals --------------------------------------------------------------------------


def test_a_request_without_a_valid_token_is_401(server, setup, unchanged, tmp_path):
    data, sig = signed(setup, package_zip(tmp_path, "tokenless"))
    for token in (None, "not-a-token-of-this-registry", TOKEN + "x"):
        answer = post(server, data, sig, token=token)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == 'Bearer realm="package-registry"'
        assert answer.json() == {
            "error": "a valid bearer token is required (Authorization: Bearer)"
        }
    basic = httpx.post(server.url(API), headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401
    assert delete(server, "tokenless", "1.0.0", token="nope-nope-nope-nope").status_code == 401


def test_packages_the_loader_refuses_are_400_with_its_reason(server, setup, unchanged, tmp_path):
    def refused(path: Path, filename: str = "package.zip") -> str:
        data, sig = signed(setup, path)
        answer = post(server, data, sig, filename=filename)
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"] == "application/json"
        return answer.json()["error"]

    text = tmp_path / "notzip.zip"
    text.write_bytes(b"not a zip at all\n")
    assert refused(text, "notzip.zip").endswith("open notzip.zip: File is not a zip file")
    bad = write_zip(
        tmp_path / "bad.zip",
        {"bad-1.0.0/manifest.yml": b"name: bad\nversion: [\n", "bad-1.0.0/docs/README.md": b"x"},
    )
    assert "failed to create package from path bad.zip" in refused(bad, "bad.zip")
    untitled = write_zip(
        tmp_path / "untitled.zip",
        {"untitled-1.0.0/manifest.yml": manifest("untitled").replace(b"title: T\n", b"")},
    )
    assert "no title set for package: untitled" in refused(untitled)
    misnamed = write_zip(tmp_path / "misnamed.zip", zip_package("misnamed"))
    renamed = {k.replace("misnamed-1.0.0/", "other-2.0.0/"): v for k, v in
               zip_package("misnamed").items()}  # fmt: skip
    write_zip(misnamed, renamed)
    assert refused(misnamed) == (
        "the package's top folder in the zip is 'other-2.0.0'; a package misnamed 1.0.0 is "
        "built into 'misnamed-1.0.0'"
    )
    slip = write_zip(
        tmp_path / "slip.zip", {**zip_package("slip"), "slip-1.0.0/../../escape.txt": b"x"}
    )
    assert refused(slip) == (
        "zip member 'slip-1.0.0/../../escape.txt' has an unsafe name ('..' or a leading '/')"
    )
    big = package_zip(tmp_path, "big", **{"img/noise.png": os.urandom(100 * KiB)})
    assert refused(big).endswith(
        "zip member big-1.0.0/img/noise.png inflates to 102400 bytes, more than the 65536 allowed"
        " (-package-max-zip-member-size)"
    )


def test_a_signature_is_required_and_verified(server, setup, unchanged, tmp_path):
    path = package_zip(tmp_path, "unsigned")
    answer = post(server, path.read_bytes())
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("a signature is required")
    wrong_key = post(server, path.read_bytes(), setup.stranger.sign(path))
    assert wrong_key.status_code == 400
    assert wrong_key.json()["error"].startswith("signature verification failed: ")
    other = package_zip(tmp_path, "other_content")
    wrong_file = post(server, path.read_bytes(), setup.keys.sign(other))
    assert wrong_file.status_code == 400
    assert "unsigned" not in listed(server, "unsigned")


def test_malformed_forms_are_400(server, unchanged):
    plain = httpx.post(server.url(API), content=b"zip", headers=auth())
    assert plain.status_code == 400
    assert plain.json()["error"].startswith("the body must be multipart/form-data")
    stray = httpx.post(server.url(API), files={"other": ("x", b"y")}, headers=auth())
    assert stray.status_code == 400
    assert (
        stray.json()["error"]
        == "unexpected form field 'other': send 'package' and 'signature' only"
    )
    missing = httpx.post(
        server.url(API),
        content=b'--b\r\nContent-Disposition: form-data; name="package"\r\n\r\nPK',
        headers={**auth(), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert missing.status_code == 400
    assert missing.json()["error"] == "malformed multipart/form-data body: it ends early"


def raw_exchange(server: RunningRegistry, head: bytes, body_chunks: Iterator[bytes]) -> bytes:
    """Send a request by hand, stopping at the first failed write; return the answer."""
    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except OSError:
            pass
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:
            pass
    return answer


def test_bodies_over_the_limit_are_413_without_being_read(server, unchanged):
    headers = f"Authorization: Bearer {TOKEN}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
    declared = raw_exchange(
        server,
        f"POST {API} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: 1048577\r\n\r\n".encode(),
        iter([b"--b\r\n"]),
    )
    assert declared.startswith(b"HTTP/1.1 413 ")
    assert b"request body larger than 1048576 bytes (-publish-max-size)" in declared
    sent = []

    def chunked() -> Iterator[bytes]:
        part = b'--b\r\nContent-Disposition: form-data; name="package"\r\n\r\n'
        yield b"%x\r\n%s\r\n" % (len(part), part)
        for _ in range(64 * 1024):  # 4 GiB offered, in 64 KiB chunks
            sent.append(1)
            yield b"10000\r\n" + bytes(65536) + b"\r\n"

    unbounded = raw_exchange(
        server,
        f"POST {API} HTTP/1.1\r\nHost: x\r\n{headers}Transfer-Encoding: chunked\r\n\r\n".encode(),
        chunked(),
    )
    assert unbounded.startswith(b"HTTP/1.1 413 ")
    assert len(sent) < 200  # the connection was closed long before 4 GiB


# --- publishing ------------------------------------------------------------------------


def test_a_published_package_is_served_at_once_by_every_worker(server, setup, tmp_path):
    before = tree(setup.root)
    data, sig = signed(setup, package_zip(tmp_path, "fresh", "1.2.3"))
    started = time.monotonic()
    answer = post(server, data, sig, filename="fresh-1.2.3.zip")
    assert answer.status_code == 201, answer.text
    assert time.monotonic() - started < 5
    assert answer.json() == {
        "name": "fresh",
        "version": "1.2.3",
        "path": "/package/fresh/1.2.3",
        "download": "/epr/fresh/fresh-1.2.3.zip",
    }
    assert server.get("/epr/fresh/fresh-1.2.3.zip").content == data
    assert server.get("/epr/fresh/fresh-1.2.3.zip.sig").content == sig
    for _ in range(20):  # each request may reach either worker
        assert listed(server, "fresh") == ["1.2.3"]
    after = tree(setup.root)
    added = {k: v for k, v in after.items() if k not in before}
    assert added == {"published/fresh-1.2.3.zip": data, "published/fresh-1.2.3.zip.sig": sig}
    assert {k: v for k, v in after.items() if k in before} == before


def test_an_existing_name_and_version_is_409(server, setup, unchanged, tmp_path):
    data, sig = signed(setup, package_zip(tmp_path, "fresh", "1.2.3"))
    again = post(server, data, sig)
    assert again.status_code == 409
    assert again.json() == {"error": "package fresh 1.2.3 already exists"}
    # served from the other package path
    data, sig = signed(setup, package_zip(tmp_path, "sample_metrics", "1.0.0"))
    elsewhere = post(server, data, sig)
    assert elsewhere.status_code == 409


def test_concurrent_uploads_of_different_packages_all_land(server, setup, tmp_path):
    uploads = [signed(setup, package_zip(tmp_path, f"parallel_{n}")) for n in range(6)]
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda upload: post(server, *upload), uploads))
    assert [a.status_code for a in answers] == [201] * 6
    for n in range(6):
        assert listed(server, f"parallel_{n}") == ["1.0.0"]


def test_the_same_package_uploaded_twice_at_once_lands_once(server, setup, tmp_path):
    upload = signed(setup, package_zip(tmp_path, "racing"))
    barrier = threading.Barrier(2)

    def race(_: int) -> int:
        barrier.wait()
        return post(server, *upload).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(race, range(2)))
    assert statuses == [201, 409]
    assert server.get("/epr/racing/racing-1.0.0.zip").content == upload[0]
    assert sorted(p.name for p in setup.publish.iterdir() if p.name.startswith("racing")) == [
        "racing-1.0.0.zip",
        "racing-1.0.0.zip.sig",
    ]


def test_a_digest_entry_in_the_tokens_file_authenticates(server, setup, tmp_path):
    upload = signed(setup, package_zip(tmp_path, "by_digest"))
    assert post(server, *upload, token=OTHER_TOKEN).status_code == 201
    assert delete(server, "by_digest", "1.0.0", token=OTHER_TOKEN).status_code == 204


# --- deleting --------------------------------------------------------------------------


def test_delete_removes_the_package_from_every_worker(server, setup, tmp_path):
    upload = signed(setup, package_zip(tmp_path, "doomed", "2.0.0"))
    assert post(server, *upload).status_code == 201
    answer = delete(server, "doomed", "2.0.0")
    assert answer.status_code == 204
    assert answer.content == b""
    for _ in range(20):
        assert listed(server, "doomed") == []
    assert server.get("/epr/doomed/doomed-2.0.0.zip").status_code == 404
    assert not any(p.name.startswith("doomed") for p in setup.publish.iterdir())
    assert delete(server, "doomed", "2.0.0").status_code == 404
    assert delete(server, "never", "1.0.0").status_code == 404
    assert delete(server, "..", "..").status_code == 404


def test_only_packages_of_the_publish_path_can_be_deleted(server, unchanged):
    answer = delete(server, "sample_metrics", "1.0.0")
    assert answer.status_code == 409
    assert "only published packages can be deleted" in answer.json()["error"]
    assert listed(server, "sample_metrics") == ["1.0.0"]


def test_other_methods_are_405(server, unchanged):
    assert httpx.get(server.url(API)).status_code == 405
    assert httpx.get(server.url(f"{API}/fresh/1.2.3")).status_code == 405


# --- audit and metrics -----------------------------------------------------------------


def test_every_request_is_audited_and_counted_never_with_the_token(server, setup):
    audit = [line for line in server.logs() if line["log"]["logger"] == "package_registry.audit"]
    published = [
        line for line in audit
        if line["event"]["action"] == "package-publish"
        and line["http"]["response"]["status_code"] == 201
        and line.get("package", {}).get("name") == "fresh"
    ]  # fmt: skip
    assert len(published) == 1
    line = published[0]
    assert line["event"]["outcome"] == "success"
    assert line["user"]["name"] == "ci"
    assert line["package"]["version"] == "1.2.3"
    assert line["client"]["address"] == "127.0.0.1"
    digest_user = hashlib.sha256(OTHER_TOKEN.encode()).hexdigest()[:8]
    assert any(line["user"]["name"] == digest_user for line in audit)
    refused = [line for line in audit if line["http"]["response"]["status_code"] == 401]
    assert refused and all(line["event"]["outcome"] == "failure" for line in refused)
    assert all(line["user"]["name"] == "-" for line in refused)
    joined = "\n".join(server.log_lines)
    assert TOKEN not in joined and OTHER_TOKEN not in joined
    metrics = httpx.get(f"http://127.0.0.1:{setup.metrics_port}/metrics").text
    assert 'epr_publish_requests_total{action="publish",result="201"}' in metrics
    assert 'epr_publish_requests_total{action="delete",result="204"}' in metrics
    assert 'epr_publish_requests_total{action="publish",result="401"}' in metrics


def test_the_publish_path_holds_only_packages_after_all_that(server, setup):
    names = sorted(p.name for p in setup.publish.iterdir())
    assert names and all(n.endswith((".zip", ".zip.sig")) for n in names), names


def test_a_restart_keeps_published_packages(server, setup):
    stop_registry(server.process)
    again = start_registry(
        [f"-config={setup.root / 'config.yml'}", *setup.flags("-workers=2")], cwd=setup.root
    )
    try:
        assert listed(again, "fresh") == ["1.2.3"]
        assert again.get("/epr/fresh/fresh-1.2.3.zip").status_code == 200
    finally:
        stop_registry(again.process)


# --- one worker, no signatures, rate limits, tokens re-read -----------------------------


@pytest.fixture
def lenient(tmp_path: Path) -> Iterator[tuple[RunningRegistry, Path, Path]]:
    publish = tmp_path / "published"
    publish.mkdir()
    tokens = tmp_path / "tokens"
    tokens.write_text(f"ci:{TOKEN}\n")
    config = write_config(tmp_path, [publish])
    flags = [
        f"-config={config}",
        "-workers=1",
        f"-publish-tokens-file={tokens}",
        f"-publish-path={publish}",
        "-require-package-signatures=false",
        "-publish-rate-limit=3",
    ]
    running = start_registry(flags, cwd=tmp_path)
    yield running, publish, tokens
    stop_registry(running.process)


def test_one_worker_without_signatures_and_a_rate_limit(lenient, tmp_path):
    server, publish, _ = lenient
    path = package_zip(tmp_path, "plain")
    answer = post(server, path.read_bytes())
    assert answer.status_code == 201
    assert server.get("/epr/plain/plain-1.0.0.zip").content == path.read_bytes()
    assert sorted(p.name for p in publish.iterdir()) == ["plain-1.0.0.zip"]
    assert delete(server, "plain", "1.0.0").status_code == 204
    # without a verification key a signature is stored as it comes
    assert post(server, path.read_bytes(), b"unchecked\n").status_code == 201
    assert server.get("/epr/plain/plain-1.0.0.zip.sig").content == b"unchecked\n"
    limited = delete(server, "plain", "1.0.0")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 20
    assert limited.json()["error"].startswith("too many requests for this token")


def test_the_tokens_file_is_read_again_when_it_changes(lenient, tmp_path):
    server, _, tokens = lenient
    newcomer = "newcomer-token-0123456789"
    assert delete(server, "x", "1.0.0", token=newcomer).status_code == 401
    tokens.write_text(f"ci:{TOKEN}\nnew:{newcomer}\n")
    assert delete(server, "x", "1.0.0", token=newcomer).status_code == 404
    tokens.write_text(f"new:{newcomer}\n")
    assert delete(server, "x", "1.0.0", token=TOKEN).status_code == 401
    tokens.unlink()
    assert delete(server, "x", "1.0.0", token=newcomer).status_code == 401


# --- start-up ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["-publish-path={publish}"], "needs both -publish-tokens-file and -publish-path"),
        (
            ["-publish-tokens-file={tokens}", "-publish-path={tmp}"],
            "-publish-path {tmp} is not one of the package paths",
        ),
        (
            ["-publish-tokens-file={tmp}/missing", "-publish-path={publish}"],
            "can't read -publish-tokens-file {tmp}/missing",
        ),
        (
            ["-publish-tokens-file={tokens}", "-publish-path={publish}",
             "-publish-verification-key={tokens}"],
            "can't use -publish-verification-key {tokens}",
        ),
    ],
)  # fmt: skip
def test_publishing_misconfigured_refuses_to_start(tmp_path, flags, message):
    publish = tmp_path / "published"
    publish.mkdir()
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN}\n")
    config = write_config(tmp_path, [publish])
    values = {"publish": publish, "tokens": tokens, "tmp": tmp_path}
    from tests.conftest import EXECUTABLE

    done = subprocess.run(
        [EXECUTABLE, f"-config={config}", "-address=127.0.0.1:0",
         *(flag.format(**values) for flag in flags)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("EPR_")},
    )  # fmt: skip
    assert done.returncode == 1
    assert '"log.level":"critical"' in done.stderr
    assert message.format(**values) in done.stderr
