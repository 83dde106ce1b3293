"""Long reads of one request never stall the others of the same worker (real server).

A range near the end of a large compressed zip member means inflating everything
before it; with one worker, ``/health`` must still answer at once meanwhile. The member
is made as a deflate stream of one repeated block, so a 4 GB member costs a few MB on
disk and little time to write.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import urllib.parse
import zipfile
import zlib
from pathlib import Path

import httpx

from package_registry.web.offload import READERS
from tests.conftest import EXAMPLES, Factory

BLOCK = bytes(range(256)) * 4096  # 1 MiB
BLOCKS = 4000  # almost 4 GiB inflated (no zip64 needed)
PREFIX = "sample_metrics-1.0.0"
BIG = "/package/sample_metrics/1.0.0/docs/big.bin"
#: One worker, and load limits raised so the big member is accepted (by default a zip
#: member may inflate to 256 MiB at most, 200 times its size).
FLAGS = [
    "-workers=1",
    "-require-package-signatures=false",
    "-package-max-zip-member-size=5000000000",
    "-package-max-zip-ratio=100000",
]


def _deflated_repeats(block: bytes, count: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``block`` repeated ``count`` times, and its CRC-32.

    After a full flush a deflate stream refers to nothing before it, so the compressed
    bytes of one block can be repeated as they are; an empty final block ends it.
    """
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    piece = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(1, zlib.DEFLATED, -15).flush()
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    return piece * count + end, crc


def _write_zip(path: Path, members: list[tuple[str, int, bytes, int, int]]) -> None:
    """A zip of (name, method, stored bytes, crc, inflated size) members, by hand."""
    local, central = bytearray(), bytearray()
    for name, method, data, crc, size in members:
        raw = name.encode()
        offset = len(local)
        local += struct.pack(
            "<4sHHHHHIIIHH",
            b"PK\x03\x04",
            20,
            0,
            method,
            0,
            0x21,
            crc,
            len(data),
            size,
            len(raw),
            0,
        )
        local += raw + data
        central += struct.pack(
            "<4sHHHHHHIIIHHHHHII",
            *(b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(data), size, len(raw)),
            *(0, 0, 0, 0, 0o100644 << 16, offset),
        )
        central += raw
    end = struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(local), 0
    )
    path.write_bytes(bytes(local + central + end))


def big_member_package(directory: Path, blocks: int) -> Path:
    """The sample zip package with ``docs/big.bin``: ``blocks`` MiB once inflated."""
    members = []
    with zipfile.ZipFile(EXAMPLES / f"{PREFIX}.zip") as source:
        for info in source.infolist():
            data = source.read(info)
            compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
            packed = compressor.compress(data) + compressor.flush()
            method = 0 if info.is_dir() else 8
            stored = b"" if info.is_dir() else packed
            members.append((info.filename, method, stored, zlib.crc32(data), len(data)))
    big, crc = _deflated_repeats(BLOCK, blocks)
    members.append((f"{PREFIX}/docs/big.bin", 8, big, crc, len(BLOCK) * blocks))
    directory.mkdir()
    _write_zip(directory / f"{PREFIX}.zip", members)
    return directory


def test_range_deep_in_a_compressed_member_does_not_stall_health(registry: Factory, tmp_path):
    packages = big_member_package(tmp_path / "packages", BLOCKS)
    server = registry(package_paths=[packages], flags=FLAGS)
    size = len(BLOCK) * BLOCKS
    url = server.url(BIG)
    result: dict[str, object] = {}

    def fetch() -> None:
        started = time.monotonic()
        r = httpx.get(url, headers={"Range": f"bytes={size - 16}-"}, timeout=120)
        result.update(status=r.status_code, body=r.content, seconds=time.monotonic() - started)

    reader = threading.Thread(target=fetch)
    reader.start()
    waits = []
    with httpx.Client(timeout=30) as client:
        time.sleep(0.2)  # let the range request reach the server first
        while reader.is_alive() and len(waits) < 200:
            started = time.monotonic()
            assert client.get(server.url("/health")).status_code == 200
            waits.append(time.monotonic() - started)
            time.sleep(0.05)
    reader.join(120)
    assert result["status"] == 206
    assert result["body"] == BLOCK[-16:]
    assert waits, "the range was answered before /health could be asked"
    assert max(waits) < 1.0, (max(waits), result["seconds"])


def test_ranges_out_of_order_in_a_compressed_member_get_the_whole_file(registry, tmp_path):
    packages = big_member_package(tmp_path / "packages", 2)
    server = registry(package_paths=[packages], flags=FLAGS)
    forward = server.get(BIG, headers={"Range": "bytes=0-9,1048576-1048585"})
    assert forward.status_code == 206
    assert forward.headers["content-type"].startswith("multipart/byteranges")
    assert int(forward.headers["content-length"]) == len(forward.content)
    assert forward.content.count(BLOCK[:10]) == 2
    backward = server.get(BIG, headers={"Range": "bytes=1048576-1048585,0-9"})
    assert backward.status_code == 200
    assert backward.content == BLOCK * 2


def test_clients_that_leave_free_the_readers(registry: Factory, tmp_path):
    """Deep ranges abandoned by their clients stop being read: a later streamed answer
    does not wait for them (more were sent than the worker has reader threads)."""
    packages = big_member_package(tmp_path / "packages", BLOCKS)
    server = registry(package_paths=[packages], flags=FLAGS)
    size = len(BLOCK) * BLOCKS
    parsed = urllib.parse.urlsplit(server.base_url)
    for _ in range(READERS + 2):
        with socket.create_connection((parsed.hostname, parsed.port)) as sock:
            sock.sendall(
                f"GET {BIG} HTTP/1.1\r\nHost: x\r\nRange: bytes={size - 16}-\r\n\r\n".encode()
            )
            time.sleep(0.05)
    time.sleep(0.5)  # the server notices the closed connections
    started = time.monotonic()
    r = httpx.get(server.url(BIG), headers={"Range": "bytes=0-15"}, timeout=120)
    assert (r.status_code, r.content) == (206, BLOCK[:16])
    assert time.monotonic() - started < 3.0
