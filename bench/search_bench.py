"""End-to-end query benchmark: a real server on a 20,000-version corpus, over loopback.

Generates the corpus with ``bench/make_corpus.py`` (kept between runs in ``bench/out``),
starts ``package-registry`` on it and reports:

* start-up time (process start until ``/health`` answers) and memory (PSS) of the whole
  process tree;
* p50/p99 latency of distinct, uncached ``/search?kibana.version=X`` queries;
* time to answer ``/search?all=true&prerelease=true`` (first, uncached, and cached);
* RSS after repeated large answers, to show it does not grow.

Usage::

    .venv/bin/python bench/search_bench.py [--versions 20000] [--packages 160] [--queries 500]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXECUTABLE = Path(sys.executable).parent / "package-registry"


def ensure_corpus(versions: int, packages: int) -> Path:
    """The benchmark corpus, generated once per size."""
    out = ROOT / "bench" / "out" / f"corpus-{versions}-{packages}"
    if not (out / "corpus.json").exists():
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "make_corpus.py"),
                str(out),
                "--versions",
                str(versions),
                "--packages",
                str(packages),
                "--seed",
                "1",
                "--zip-fraction",
                "0.1",
                "--force",
                "--quiet",
            ],
            check=True,
        )
    return out


def tree_rss_mib(pid: int) -> float:
    """Memory of a process and all its descendants, in MiB.

    Proportional set size (Pss), so pages that forked workers share with the parent
    count once in total rather than once per process.
    """
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            with open(f"/proc/{current}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
            with open(f"/proc/{current}/task/{current}/children") as children:
                pids.extend(int(p) for p in children.read().split())
        except OSError:
            continue
    return total / 1024


def start(corpus: Path, workers: int) -> tuple[subprocess.Popen[str], str, float]:
    directory = Path(tempfile.mkdtemp(prefix="search-bench-"))
    config = directory / "config.yml"
    config.write_text(f'package_paths:\n  - "{corpus}"\n')
    began = time.perf_counter()
    process = subprocess.Popen(
        [
            str(EXECUTABLE),
            f"-config={config}",
            "-address=127.0.0.1:0",
            f"-workers={workers}",
            "-require-package-signatures=false",
            "-log-level=warn",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    address = ""
    # -log-level=warn hides the "listening on" line; read the port from /proc instead.
    while not address:
        if process.poll() is not None:
            raise SystemExit("server exited:\n" + process.stdout.read())
        address = _listening_address(process.pid)
        if not address:
            time.sleep(0.02)
    host, port = address.rsplit(":", 1)
    while True:
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=5)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.02)
    return process, address, time.perf_counter() - began


def _listening_address(pid: int) -> str:
    """The loopback port a process listens on, read from /proc/net/tcp."""
    try:
        inodes = {
            os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1]
            for fd in os.listdir(f"/proc/{pid}/fd")
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        }
        with open("/proc/net/tcp") as table:
            next(table)
            for line in table:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:
                    return f"127.0.0.1:{int(fields[1].split(':')[1], 16)}"
    except OSError:
        return ""
    return ""


def timed_get(conn: http.client.HTTPConnection, path: str) -> tuple[float, int]:
    began = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - began
    assert response.status == 200, (path, response.status, body[:200])
    return elapsed, len(body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=20000)
    parser.add_argument("--packages", type=int, default=160)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    corpus = ensure_corpus(args.versions, args.packages)
    process, address, startup = start(corpus, args.workers)
    try:
        host, port = address.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        rss_start = tree_rss_mib(process.pid)

        rng = random.Random(1)
        versions = {
            f"{rng.choice([7, 8, 9])}.{rng.randrange(30)}.{rng.randrange(10)}"
            for _ in range(args.queries * 3)
        }
        queries = sorted(versions)[: args.queries]
        rng.shuffle(queries)
        latencies = sorted(timed_get(conn, f"/search?kibana.version={v}")[0] for v in queries)
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]

        big = "/search?all=true&prerelease=true"
        first, size = timed_get(conn, big)
        cached = statistics.median(timed_get(conn, big)[0] for _ in range(5))
        timed_get(conn, "/search?all=true")
        rss_warm = tree_rss_mib(process.pid)
        for _ in range(args.repeats):
            timed_get(conn, big)
            timed_get(conn, "/search?all=true")
        rss_end = tree_rss_mib(process.pid)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)

    print(f"corpus: {args.versions} versions over {args.packages} names ({corpus})")
    print(f"cores: {os.cpu_count()}, workers: {args.workers}")
    print(f"start-up to /health: {startup:.2f} s")
    print(
        f"distinct kibana.version queries: {len(latencies)}, "
        f"p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms (target p99 <= 2 ms)"
    )
    print(
        f"all=true&prerelease=true ({size / 1e6:.1f} MB): first {first * 1000:.0f} ms, "
        f"cached {cached * 1000:.0f} ms (target <= 100 ms)"
    )
    print(
        f"memory (PSS): {rss_start:.0f} MiB after start-up, {rss_warm:.0f} MiB once the large "
        f"answers are cached, {rss_end:.0f} MiB after {2 * args.repeats} more "
        f"(growth {rss_end - rss_warm:+.0f} MiB; target <= 600 MB, no growth)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
