"""``-httpprof``: py-spy profiles of a real registry and its workers over HTTP."""

from __future__ import annotations

import httpx
import pytest

from package_registry.observability.profiling import py_spy
from tests.conftest import free_port

pytestmark = pytest.mark.skipif(py_spy() is None, reason="py-spy is not installed")


@pytest.fixture
def profiled(registry):
    port = free_port()
    server = registry(flags=["-workers=2", f"-httpprof=127.0.0.1:{port}"])
    return server, f"http://127.0.0.1:{port}/debug/pprof"


def test_index_and_unknown_paths(profiled):
    _, base = profiled
    index = httpx.get(f"{base}/", timeout=10)
    assert index.status_code == 200 and "/debug/pprof/profile" in index.text
    assert httpx.get(f"{base}/heap", timeout=10).status_code == 404


def test_stacks_of_every_process(profiled):
    server, base = profiled
    dump = httpx.get(f"{base}/goroutine", timeout=30)
    assert dump.status_code == 200, dump.text
    processes = [line for line in dump.text.splitlines() if line.startswith("Process ")]
    assert len(processes) == 3  # the supervisor and two workers
    assert str(server.process.pid) in processes[0]


def test_cpu_profile_as_collapsed_stacks(profiled):
    server, base = profiled
    answer = httpx.get(f"{base}/profile?seconds=1&idle=1", timeout=30)
    assert answer.status_code == 200, answer.text
    lines = answer.text.splitlines()
    pids = {line.split(";", 1)[0] for line in lines}
    assert f"process {server.process.pid}" in pids
    assert len(pids) == 3  # the supervisor and two workers
    assert all(line.rsplit(" ", 1)[1].isdigit() for line in lines)
    assert httpx.get(f"{base}/profile?seconds=0", timeout=10).status_code == 400
