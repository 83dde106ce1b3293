"""Hostile requests: property-based random requests against a live registry.

Hypothesis draws methods, paths (route words, package names and files, traversal forms
raw and percent-encoded, invalid UTF-8, NUL, long segments), query strings (every known
parameter with good, bad, huge and invalid-UTF-8 values) and headers (``Range`` with
odd, huge and many ranges, conditionals, ``Accept-Encoding`` variants), for a time
budget. Requests are written byte for byte on a keep-alive connection. A canary token is
planted in files outside every package (beside the package path, in its root, in a
package's name folder); it must never appear in an answer.

Passes with no 5xx, every request answered within 10 s (no hang, no connection closed
without an answer), no canary, ``/health`` answering after the run, and a ``Range`` of
thousands of overlapping ranges not answering more than twice the file's size.
"""

from __future__ import annotations

import asyncio
import gzip
import secrets
import shutil
import time
import urllib.parse
import zlib

from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as budget
from hypothesis import strategies as st

from reliability.client import Connection, Dropped
from reliability.harness import EXAMPLES, Outcome, Registry, Settings

WORDS = (
    "package", "epr", "search", "categories", "health", "index.json", "favicon.ico",
    "sample_logs", "sample_metrics", "sample_content", "1.0.0", "1.1.0", "1.2.0-beta1",
    "sample_logs-1.0.0.zip", "sample_logs-1.1.0.zip.sig", "sample_metrics-1.0.0.zip",
    "sample_metrics-1.0.0.zip.sig", "sample_logs-1.0.0.tar.gz", "img", "docs", "README.md",
    "manifest.yml", "changelog.yml", "icon.svg", "canary.txt", "..", ".", "%2e%2e", "%2E%2e",
    "..%2f", "%2f", "%5c", "..\\", "%00", "%ff", "%c0%ae%c0%ae", "~", "", "*", "%20",
    "static", "metrics", "debug", "..%252f", "%252e%252e",
)  # fmt: skip
KEYS = (
    "kibana.version", "prerelease", "all", "category", "package", "type", "spec.min",
    "spec.max", "agent.version", "capabilities", "experimental", "internal", "discovery",
)  # fmt: skip
VALUES = (
    "8.15.0", "7.17.0", "9.0.0", "true", "false", "1", "", "%ff%fe", "%80", "%c3%28",
    "8.x", "^8.0.0", "2.0", "3.3", "integration", "security", "fields:host.name",
    "9" * 400, "-1", "%00", "%25", "1.0.0-", "a,b", "%e2%82%28",
)  # fmt: skip
METHODS = ("GET", "GET", "GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE", "TRACE", "FOO")
SAFE = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="?#% ")


segments = st.one_of(
    st.sampled_from(WORDS),
    st.text(SAFE, max_size=12),
    st.text(max_size=6).map(lambda text: urllib.parse.quote(text, safe="")),
    st.integers(0, 5000).map(lambda n: "a" * n),
)
paths = st.builds(
    lambda parts, slash, lead: lead + "/".join(parts) + ("/" if slash else ""),
    st.lists(segments, max_size=8),
    st.booleans(),
    st.sampled_from(("/", "/", "/", "//", "/./", "/../")),
)
values = st.one_of(st.sampled_from(VALUES), st.text(SAFE, max_size=20), st.binary(max_size=8))
queries = st.lists(
    st.tuples(st.one_of(st.sampled_from(KEYS), st.text(SAFE, max_size=8)), values), max_size=6
).map(
    lambda pairs: "&".join(
        f"{k}={''.join(f'%{b:02X}' for b in v) if isinstance(v, bytes) else v}" for k, v in pairs
    )
)
numbers = st.one_of(
    st.integers(0, 2**64).map(str), st.integers(1, 5000).map(lambda n: "9" * n), st.just("")
)
one_range = st.one_of(
    st.builds(lambda a, b: f"{a}-{b}", numbers, numbers),
    numbers.map(lambda n: f"-{n}"),
    st.sampled_from(("0-", "-0", "1-0", "x-y", "0-0,0-0", "-", "5-1")),
)
ranges = st.one_of(
    st.lists(one_range, min_size=1, max_size=8).map(lambda r: "bytes=" + ",".join(r)),
    st.integers(1, 3000).map(lambda n: "bytes=" + ",".join(["0-"] * n)),
    st.sampled_from(("bytes=", "items=0-1", "bytes 0-1", "bytes=0-1;x")),
)
headers = st.lists(
    st.one_of(
        st.tuples(st.just("Range"), ranges),
        st.tuples(st.just("If-None-Match"), st.sampled_from(('"x"', "*", 'W/"a", "b"', ""))),
        st.tuples(
            st.just("If-Modified-Since"),
            st.sampled_from(("Mon, 01 Jan 2024 00:00:00 GMT", "yesterday", "", "0")),
        ),
        st.tuples(st.just("If-Range"), st.sampled_from(('"x"', "Mon, 01 Jan 2024 00:00:00 GMT"))),
        st.tuples(
            st.just("Accept-Encoding"),
            st.sampled_from(("gzip", "gzip;q=0", "br", "*", "identity;q=0", "gzip;q=x", "")),
        ),
        st.tuples(
            st.text(SAFE.filter(lambda c: c not in ':()<>@,;\\"/[]={}'), min_size=1, max_size=10),
            st.text(SAFE, max_size=30),
        ),
    ),
    max_size=4,
)


def hostile_requests(settings: Settings, outcome: Outcome) -> None:
    directory = settings.work / "hostile-requests"
    shutil.rmtree(directory, ignore_errors=True)
    root = directory / "packages"
    shutil.copytree(EXAMPLES, root)
    (root / "sample_logs" / "1.1.0.sig").unlink()  # a package without a signature
    token = "CANARY-" + secrets.token_hex(12)
    for place in (directory / "canary.txt", root / "canary.txt", root / "sample_logs/canary.txt"):
        place.write_text(token + "\n")
    registry = Registry(
        directory, [root], ["-workers=2", "-require-package-signatures=false"]
    ).start()
    loop = asyncio.new_event_loop()
    connection = Connection("127.0.0.1", registry.port)
    counts = {"requests": 0, "5xx": 0, "hang": 0, "dropped": 0, "canary": 0, "slowest": 0.0}
    failures: list[str] = []
    previous = [""]

    def send(method: str, target: str, pairs: list[tuple[str, str]]) -> None:
        counts["requests"] += 1
        asked, previous[0] = previous[0], f"{method} {target[:80]} {_short(pairs)}"
        try:
            reply = loop.run_until_complete(connection.request(method, target, pairs, timeout=10))
        except TimeoutError:
            counts["hang"] += 1
            failures.append(f"no answer in 10 s: {method} {target[:120]} {_short(pairs)}")
            return
        except Dropped as exc:
            counts["dropped"] += 1
            failures.append(
                f"closed without answer ({exc}): {method} {target[:120]} {_short(pairs)}"
                f" (after {asked})"
            )
            return
        counts["slowest"] = max(counts["slowest"], reply.latency)
        if reply.status >= 500:
            counts["5xx"] += 1
            failures.append(f"{reply.status} for {method} {target[:120]} {_short(pairs)}")
        if token.encode() in _decoded(reply.body, reply.headers.get("content-encoding", "")):
            counts["canary"] += 1
            failures.append(f"canary served for {method} {target[:120]}")

    @budget(
        max_examples=200,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(METHODS), paths, st.one_of(st.none(), queries), headers)
    def probe(method: str, path: str, query: str | None, pairs: list[tuple[str, str]]) -> None:
        send(method, path + ("" if query is None else "?" + query), pairs)

    began = time.monotonic()
    try:
        # The forms found in review first, so that a short budget covers them too.
        send("GET", "/search?kibana.version=%ff%fe", [])
        send("GET", "/categories?kibana.version=%80", [])
        readme = "/package/sample_logs/1.0.0/docs/README.md"
        send("GET", readme, [("Range", f"bytes={'9' * 100000}-1")])
        send("GET", "/epr/sample_logs/sample_logs-1.1.0.zip.sig", [])
        send("GET", "/package/sample_logs/1.0.0/../../canary.txt", [])
        while time.monotonic() - began < settings.hypothesis_seconds:
            probe()
        amplification = _amplification(loop, registry.port)
        health = loop.run_until_complete(
            Connection("127.0.0.1", registry.port).request("GET", "/health", timeout=2)
        )
    finally:
        connection.close()
        loop.close()
        registry.stop()
    outcome.figures.update(
        requests=counts["requests"],
        rps=counts["requests"] / (time.monotonic() - began),
        five_xx=counts["5xx"],
        hangs=counts["hang"],
        dropped=counts["dropped"],
        canary=counts["canary"],
        slowest_ms=counts["slowest"] * 1000,
        range_amplification=amplification,
    )
    outcome.check(
        not failures, f"{len(failures)} bad: " + " ; ".join(dict.fromkeys(failures))[:900]
    )
    outcome.check(health.status == 200, f"/health answered {health.status} afterwards")
    outcome.check(amplification <= 2, f"{amplification:.1f}x the file for overlapping ranges")


def _amplification(loop: asyncio.AbstractEventLoop, port: int) -> float:
    """Answer size over file size for a ``Range`` of 400 overlapping ranges on a file."""
    target = "/package/sample_logs/1.0.0/docs/README.md"
    connection = Connection("127.0.0.1", port)
    try:
        whole = loop.run_until_complete(connection.request("GET", target))
        ranged = loop.run_until_complete(
            connection.request(
                "GET",
                target,
                [("Range", "bytes=" + ",".join(f"{i}-" for i in range(400)))],
                timeout=30,
            )
        )
    except (TimeoutError, Dropped):
        return float("inf")
    finally:
        connection.close()
    return len(ranged.body) / max(1, len(whole.body))


def _decoded(body: bytes, encoding: str) -> bytes:
    if "gzip" in encoding:
        try:
            return body + zlib.decompressobj(wbits=31).decompress(body, 64 << 20)
        except (zlib.error, gzip.BadGzipFile):
            return body
    return body


def _short(pairs: list[tuple[str, str]]) -> str:
    return " ".join(f"{k}: {v[:60]}{'…' if len(v) > 60 else ''}" for k, v in pairs)
