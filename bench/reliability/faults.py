"""Faults: the storage endpoint and the proxy upstream down, stalling mid-body, answering
500 or garbage (a real misbehaving HTTP server, :mod:`reliability.fakes`), and the
storage bucket's cursor moving, pointing at a broken index, then the bucket gone.

For each fault a request that needs the upstream must fail fast (within 10 s, with
``-outgoing-read-timeout=5s -outgoing-total-timeout=8s``) with the
reference's answer — 500 ``internal server error`` in proxy mode; in storage mode 500
``error from package-storage server``, or the upstream's own status relayed, or a
connection aborted mid-body (never a complete-looking 200) — while ``/health`` answers
200 within a second and local packages and the last good catalog keep being served.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

from reliability.client import Connection, Dropped, Reply, run
from reliability.fakes import Upstream, closed_port
from reliability.harness import BIN, EXAMPLES, Outcome, Registry, Settings

FAST = 10.0
#: The outgoing limits the registries run with: the defaults (30 s read, 60 s total, and
#: the reference's retry back-off of 1+2+4+8 s in proxy mode) are made for a healthy
#: upstream across the internet; an operator who wants faults answered sooner sets these.
OUTGOING = ("-outgoing-read-timeout=5s", "-outgoing-total-timeout=8s")
CLIENT_TIMEOUT = FAST + 5  # a request still open then is reported as hanging
MODES = ("ok", "down", "stall", "500", "garbage")


async def _timed(port: int, target: str) -> tuple[Reply | str, float]:
    connection = Connection("127.0.0.1", port)
    began = time.monotonic()
    try:
        return await connection.request("GET", target, timeout=CLIENT_TIMEOUT), 0.0
    except TimeoutError:
        return "no answer", time.monotonic() - began
    except Dropped:
        return "aborted", time.monotonic() - began
    finally:
        connection.close()


async def _probe(port: int, target: str, local: str) -> tuple[Reply | str, float, int, int]:
    """``target`` (needs the upstream) with ``/health`` and ``local`` asked meanwhile."""
    began = time.monotonic()
    task = asyncio.ensure_future(_timed(port, target))
    await asyncio.sleep(0.3)
    health, _ = await _timed(port, "/health")
    local_reply, _ = await _timed(port, local)
    health_ok = isinstance(health, Reply) and health.status == 200 and health.latency < 1
    local_ok = isinstance(local_reply, Reply) and local_reply.status == 200
    answer, _ = await task
    return answer, time.monotonic() - began, int(health_ok), int(local_ok)


def _describe(answer: Reply | str) -> str:
    if isinstance(answer, str):
        return answer
    return f"{answer.status} {answer.text()[:40].strip()!r}"


def faults(settings: Settings, outcome: Outcome) -> None:
    directory = settings.work / "faults"
    shutil.rmtree(directory, ignore_errors=True)
    upstreams = {mode: Upstream(mode) for mode in MODES if mode != "down"}
    try:
        _proxy(directory / "proxy", upstreams, outcome)
        _storage(directory / "storage", upstreams, outcome)
    finally:
        for upstream in upstreams.values():
            upstream.stop()


def _url(upstreams: dict[str, Upstream], mode: str) -> str:
    """Where a registry facing ``mode`` sends its requests ("down": nothing listens)."""
    return upstreams[mode].url if mode in upstreams else f"http://127.0.0.1:{closed_port()}/"


def _probe_all(
    registries: dict[str, Registry], target: str, local: str
) -> dict[str, tuple[Reply | str, float, int, int]]:
    """Every mode's registry probed at once (the faults' waits overlap)."""

    async def main() -> list[tuple[Reply | str, float, int, int]]:
        return await asyncio.gather(*(_probe(r.port, target, local) for r in registries.values()))

    return dict(zip(registries, run(main()), strict=True))  # type: ignore[arg-type]


def _start_all(registries: dict[str, Registry]) -> None:
    for registry in registries.values():
        registry.start(60)


def _proxy(directory: Path, upstreams: dict[str, Upstream], outcome: Outcome) -> None:
    registries = {
        mode: Registry(
            directory / mode,
            [EXAMPLES],
            [
                "-workers=1",
                "-feature-proxy-mode",
                f"-proxy-to={_url(upstreams, mode)}",
                "-proxy-allow-insecure",
                *OUTGOING,
            ],
        )
        for mode in MODES
    }
    try:
        _start_all(registries)
        probes = _probe_all(
            registries, "/search?package=sample_logs", "/package/sample_logs/1.0.0/"
        )
    finally:
        for registry in registries.values():
            registry.stop()
    for mode, (answer, seconds, health, local) in probes.items():
        expected = 200 if mode == "ok" else 500
        good = isinstance(answer, Reply) and answer.status == expected
        if mode != "ok" and isinstance(answer, Reply) and good:
            good = answer.text().strip() == "internal server error"
        outcome.check(
            good and seconds < FAST, f"proxy {mode}: {_describe(answer)} in {seconds:.1f} s"
        )
        outcome.check(bool(health), f"proxy {mode}: /health not 200 within 1 s")
        outcome.check(bool(local), f"proxy {mode}: local package not served")
    outcome.figures["proxy"] = ",".join(f"{m}:{p[1]:.1f}s" for m, p in probes.items())


def _storage(directory: Path, upstreams: dict[str, Upstream], outcome: Outcome) -> None:
    emulator_port = closed_port()
    emulator = subprocess.Popen(
        [
            str(BIN / "gcp-storage-emulator"),
            *("start", "--host=127.0.0.1", f"--port={emulator_port}", "--in-memory", "--quiet"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    try:
        _wait_port(emulator_port)
        os.environ["STORAGE_EMULATOR_HOST"] = emulator_url
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        client = storage.Client(project="reliability", credentials=AnonymousCredentials())
        bucket = client.create_bucket(f"faults-{uuid.uuid4().hex[:10]}")

        def publish(cursor: str, index: bytes) -> None:
            bucket.blob(f"v2/metadata/{cursor}/search-index-all.json").upload_from_string(index)
            bucket.blob("v2/metadata/cursor.json").upload_from_string(
                json.dumps({"current": cursor})
            )

        publish("1", _index("storage_a", "storage_b"))
        registries = {
            mode: _storage_registry(
                directory / mode, bucket.name, _url(upstreams, mode), emulator_url
            )
            for mode in MODES
        }
        try:
            _start_all(registries)
            probes = _probe_all(registries, "/epr/storage_a/storage_a-1.0.0.zip", "/search")
        finally:
            for registry in registries.values():
                registry.stop()
        for mode, (answer, seconds, health, local) in probes.items():
            outcome.check(
                _storage_answer_ok(mode, answer) and seconds < FAST,
                f"storage {mode}: {_describe(answer)} in {seconds:.1f} s",
            )
            outcome.check(bool(health), f"storage {mode}: /health not 200 within 1 s")
            outcome.check(bool(local), f"storage {mode}: /search not served")
        outcome.figures["storage"] = ",".join(f"{m}:{p[1]:.1f}s" for m, p in probes.items())

        registry = _storage_registry(
            directory / "cursor", bucket.name, upstreams["ok"].url, emulator_url
        ).start(60)
        try:
            publish("2", _index("storage_a", "storage_b", "storage_c"))
            moved = _eventually(lambda: "storage_c" in _search(registry.port), 15)
            publish("3", b'{"packages": [ {"package_manifest": ')
            time.sleep(3)
            kept = "storage_c" in _search(registry.port)
            emulator.terminate()
            emulator.wait(10)
            time.sleep(3)
            kept_without_bucket = "storage_c" in _search(registry.port)
            health = run(_timed(registry.port, "/health"))[0]
        finally:
            registry.stop()
        outcome.figures["cursor"] = (
            f"moved={int(moved)},bad_index_kept={int(kept)},bucket_gone_kept={int(kept_without_bucket)}"
        )
        outcome.check(moved, "a new storage cursor was not followed within 15 s")
        outcome.check(kept, "a broken index replaced the last good catalog")
        outcome.check(kept_without_bucket, "the catalog was lost when the bucket went away")
        outcome.check(isinstance(health, Reply) and health.status == 200, "/health not 200")
    finally:
        os.environ.pop("STORAGE_EMULATOR_HOST", None)
        if emulator.poll() is None:
            emulator.terminate()
            emulator.wait(10)


def _storage_answer_ok(mode: str, answer: Reply | str) -> bool:
    if mode == "ok":
        return isinstance(answer, Reply) and answer.status == 200
    if mode == "stall" and answer == "aborted":
        return True  # cut off mid-body: the client sees a short transfer, not a whole 200
    if not isinstance(answer, Reply):
        return False
    if mode == "500":
        return answer.status == 500  # the upstream's status, relayed as the reference does
    return answer.status == 500 and answer.text().strip() == "error from package-storage server"


def _storage_registry(directory: Path, bucket: str, endpoint: str, emulator: str) -> Registry:
    return Registry(
        directory,
        [],
        [
            "-workers=1",
            "-feature-storage-indexer",
            f"-storage-indexer-bucket-internal=gs://{bucket}",
            f"-storage-endpoint={endpoint}",
            "-storage-indexer-watch-interval=1s",
            *OUTGOING,
        ],
        env={"STORAGE_EMULATOR_HOST": emulator},
    )


def _index(*names: str) -> bytes:
    packages = [
        {
            "package_manifest": {
                "name": name,
                "title": f"{name} title",
                "version": "1.0.0",
                "description": "A package.",
                "type": "integration",
                "download": f"/epr/{name}/{name}-1.0.0.zip",
                "path": f"/package/{name}/1.0.0",
                "format_version": "1.0.0",
            }
        }
        for name in names
    ]
    return json.dumps({"packages": packages}).encode()


def _search(port: int) -> str:
    answer = run(_timed(port, "/search?all=true"))[0]
    return answer.text() if isinstance(answer, Reply) else ""


def _eventually(check, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return False


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("gcp-storage-emulator did not start") from None
            time.sleep(0.05)
