"""What every scenario needs: settings, a registry process, its memory, a corpus.

A registry runs as its own process group on ``127.0.0.1:0``; its port is read from
``/proc`` (so it can log at ``warn`` and not flood a pipe with access lines), its output
goes to a file that scenarios parse afterwards (ECS JSON lines), and its ``TMPDIR`` is a
folder of the scenario, so the archive cache it makes there can be measured.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "src" / "package_registry" / "examples"
BIN = Path(sys.executable).parent
EXECUTABLE = BIN / "package-registry"
MAKE_CORPUS = ROOT / "bench" / "make_corpus.py"


@dataclass(frozen=True)
class Settings:
    """Durations of one run; ``RELIABILITY_QUICK=1`` shortens everything for a smoke run."""

    quick: bool
    work: Path
    soak_seconds: float
    swaps: int
    hypothesis_seconds: float
    slow_seconds: float

    @classmethod
    def from_environ(cls, work: Path) -> Settings:
        quick = os.environ.get("RELIABILITY_QUICK", "") not in ("", "0")
        soak = float(os.environ.get("RELIABILITY_SOAK_SECONDS", 15 if quick else 300))
        swaps = int(os.environ.get("RELIABILITY_SWAPS", 6 if quick else 100))
        return cls(
            quick=quick,
            work=work,
            soak_seconds=soak,
            swaps=swaps,
            hypothesis_seconds=8 if quick else 90,
            slow_seconds=4 if quick else 20,
        )


@dataclass
class Outcome:
    """One scenario's verdict, its figures (printed in order) and why it failed."""

    name: str
    passed: bool = True
    figures: dict[str, object] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def check(self, condition: bool, failure: str) -> bool:
        if not condition:
            self.passed = False
            self.failures.append(failure)
        return condition

    def line(self) -> str:
        figures = " ".join(f"{key}={_fmt(value)}" for key, value in self.figures.items())
        verdict = "PASS" if self.passed else "FAIL"
        text = f"{self.name:<17} {verdict} {self.seconds:6.1f}s  {figures}"
        if self.failures:
            text += "  | " + "; ".join(self.failures)
        return text


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


class Registry:
    """A ``package-registry`` process over loopback, stopped by :meth:`stop`."""

    def __init__(
        self,
        directory: Path,
        package_paths: Sequence[Path | str],
        flags: Sequence[str] = (),
        *,
        config_extra: str = "",
        env: dict[str, str] | None = None,
        log_level: str = "warn",
    ) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.tmp = directory / "tmp"
        self.tmp.mkdir(exist_ok=True)
        config = directory / "config.yml"
        lines = ["package_paths:"] + [f'  - "{path}"' for path in package_paths]
        config.write_text("\n".join(lines) + "\n" + config_extra)
        self.log_path = directory / "registry.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("EPR_")}
        environment.update(TMPDIR=str(self.tmp), **(env or {}))
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed by stop())
        self.began = time.monotonic()
        self.process = subprocess.Popen(
            [
                str(EXECUTABLE),
                f"-config={config}",
                "-address=127.0.0.1:0",
                f"-log-level={log_level}",
                *flags,
            ],
            cwd=directory,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.port = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float) -> bool:
        """Wait until ``/health`` answers 200; False on timeout or exit."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if not self.port:
                self.port = listening_port(self.pid)
            if self.port:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                    conn.request("GET", "/health")
                    if conn.getresponse().status == 200:
                        return True
                except OSError:
                    pass
            time.sleep(0.05)
        return False

    def start(self, timeout: float = 120) -> Registry:
        if not self.wait_ready(timeout):
            self.stop()
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"registry did not start in {timeout:.0f} s:\n{tail}")
        return self

    def stop(self, grace: float = 10) -> None:
        if self.process.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log.close()

    def logs(self) -> list[dict[str, object]]:
        """The ECS lines written so far, parsed (other lines skipped)."""
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                out.append(record)
        return out

    def pss_mib(self) -> float:
        return tree_pss_mib(self.pid)

    def tmp_mib(self) -> float:
        """Bytes under the registry's ``TMPDIR`` (where its archive cache lives)."""
        return folder_bytes(self.tmp) / 2**20


def help_text() -> str:
    """``package-registry -h``: scenarios look for flags that may not exist yet."""
    done = subprocess.run([str(EXECUTABLE), "-h"], capture_output=True, text=True, timeout=30)
    return done.stdout + done.stderr


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        try:
            with open(f"/proc/{current}/task/{current}/children") as children:
                todo.extend(int(p) for p in children.read().split())
        except OSError:
            continue
    return out


def tree_pss_mib(pid: int) -> float:
    """Sum of ``Pss`` of a process tree (shared pages counted once overall), in MiB."""
    total = 0
    for current in descendants(pid):
        try:
            with open(f"/proc/{current}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def folder_bytes(path: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for file in files:
            try:
                total += os.lstat(os.path.join(folder, file)).st_size
            except OSError:
                continue
    return total


def listening_port(pid: int) -> int:
    """The loopback TCP port that ``pid`` listens on, from ``/proc/net/tcp``."""
    try:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:"):
                inodes.add(target[8:-1])
        with open("/proc/net/tcp") as table:
            next(table)
            for line in table:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:
                    return int(fields[1].split(":")[1], 16)
    except OSError:
        return 0
    return 0


def make_corpus(out: Path, *, packages: int, versions: int, seed: int = 1) -> Path:
    """A generated package path (``bench/make_corpus.py``), kept across runs by size."""
    if not (out / "corpus.json").exists():
        if out.exists():
            shutil.rmtree(out)
        subprocess.run(
            [
                sys.executable,
                str(MAKE_CORPUS),
                str(out),
                *("--packages", str(packages), "--versions", str(versions)),
                *("--seed", str(seed), "--zip-fraction", "0.1", "--quiet"),
            ],
            check=True,
        )
    return out
