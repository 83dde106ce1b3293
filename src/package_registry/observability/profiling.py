"""``-httpprof``: profiles of the running registry over HTTP, on their own listener.

The reference serves Go's pprof handlers there. Python has no equivalent inside the
interpreter that covers every worker process, so this listener runs py-spy, the
sampling profiler that reads a Python process from the outside without stopping it
(``--nonblocking``), once per process: this one and each of its workers.

* ``/debug/pprof/``: the list of profiles;
* ``/debug/pprof/profile?seconds=30``: CPU samples for that long, as collapsed stacks
  (one ``process <pid>;frame;frame… count`` line per stack), which speedscope
  (https://www.speedscope.app), ``flamegraph.pl`` and inferno read;
* ``/debug/pprof/goroutine``: the current stack of every thread of every process, as text.

py-spy is an optional dependency (``pip install 'package-registry[profiling]'``); without
it the profiles answer 501 saying so. Reading another process's memory needs ptrace
permission, which containers may have to be granted (``SYS_PTRACE``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from package_registry.observability.listener import serve_in_thread

#: Longest profile one request may ask for.
MAX_SECONDS = 300
TEXT = "text/plain; charset=utf-8"
MISSING = b"py-spy is not installed: pip install 'package-registry[profiling]'\n"

INDEX = b"""/debug/pprof/

profile    CPU samples of every process, collapsed stacks: /debug/pprof/profile?seconds=30
           (&idle=1 to include waiting threads)
goroutine  the stack of every thread of every process, now: /debug/pprof/goroutine
"""


def py_spy() -> str | None:
    """The py-spy program, next to this Python or on ``PATH``."""
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")


def processes(parent: int) -> list[int]:
    """``parent`` and its children (the workers; not py-spy runs), from ``/proc``."""
    found = [parent]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{entry}/comm", "rb") as handle:
                command = handle.read().strip()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == parent and command != b"py-spy":
            found.append(int(entry))
    return found


class _ProfileHandler(BaseHTTPRequestHandler):
    #: The registry's main process; its workers are its children.
    target: int

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/debug/pprof/":
            self._answer(200, INDEX)
        elif url.path == "/debug/pprof/profile":
            query = urllib.parse.parse_qs(url.query)
            self._profile(query.get("seconds", ["30"])[0], query.get("idle", [""])[0] == "1")
        elif url.path == "/debug/pprof/goroutine":
            self._stacks()
        else:
            self._answer(404, b"404 page not found\n")

    def _stacks(self) -> None:
        program = self._program()
        if program is None:
            return
        dumps = []
        for pid in processes(self.target):
            command = [program, "dump", "--pid", str(pid), "--nonblocking"]
            done = subprocess.run(command, capture_output=True, check=False)
            dumps.append(done.stdout if done.returncode == 0 else done.stderr)
        self._answer(200, b"\n".join(dumps))

    def _profile(self, seconds: str, idle: bool) -> None:
        if not seconds.isdigit() or not 1 <= int(seconds) <= MAX_SECONDS:
            self._answer(400, f"seconds must be 1 to {MAX_SECONDS}\n".encode())
            return
        program = self._program()
        if program is None:
            return
        with tempfile.TemporaryDirectory(prefix="package-registry-profile-") as folder:
            runs = {}
            for pid in processes(self.target):
                output = os.path.join(folder, f"{pid}.txt")
                command = [program, "record", "--pid", str(pid), "--nonblocking", "--format"]
                command += ["raw", "--duration", seconds, "--output", output]
                command += ["--idle"] if idle else []
                runs[pid] = (
                    output,
                    subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE),
                )
            lines, failures = [], []
            for pid, (output, run) in runs.items():  # every run ends before the folder goes
                _, errors = run.communicate()
                if run.returncode != 0:
                    failures.append(errors)
                    continue
                for line in Path(output).read_bytes().splitlines():
                    lines.append(b"process %d;%s" % (pid, line))
        if failures:
            self._answer(500, b"\n".join(failures))
        else:
            self._answer(200, b"\n".join(lines) + b"\n")

    def _program(self) -> str | None:
        """py-spy, or ``None`` after answering 501 that it is missing."""
        program = py_spy()
        if program is None:
            self._answer(501, MISSING)
        return program

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", TEXT)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Profile requests are rare and deliberate: not worth a log line each."""


def serve_profiles(address: str) -> ThreadingHTTPServer:
    """Start the ``-httpprof`` listener on ``host:port`` in a background thread."""
    handler = type("Handler", (_ProfileHandler,), {"target": os.getpid()})
    return serve_in_thread(address, handler, "httpprof")
