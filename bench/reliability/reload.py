"""Reload under load: catalog swaps by the package-path watcher while clients keep asking.

The churn changes the package path one atomic step at a time — a new version folder
renamed in, a version's ``manifest.yml`` replaced (new description), a version added by
the churn renamed out — and waits until a fresh connection sees the new catalog before
the next step, so every step is one swap and the package path is always in exactly one
known state. Meanwhile 64 connections send mixed traffic, and half of their requests are
``/search?all=true&prerelease=true`` answers that must each equal one of those states
(no answer mixing two catalogs); two of the versions an answer lists are then asked for
on the same connection and must resolve, with the same description, unless the churn
removed or changed that very version after the ``/search`` was sent.

Passes with 0 failed requests (no status other than the expected, no connection closed
without an answer), 0 mixed answers, every swap seen, and the registry's memory (PSS)
and temporary folder (archive cache) growing less than 10 % (+2 MiB) between the
first tenth of the swaps and the end.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import time
from pathlib import Path

from reliability.client import Connection, Stats, Worker, run, run_load
from reliability.harness import Outcome, Registry, Settings, make_corpus
from reliability.traffic import Mix, listing, parse_listing

CONNECTIONS = 64
ALL = "/search?all=true&prerelease=true"
Key = tuple[str, str]


class Churn:
    """The package path's states, one step at a time, and when each key was touched."""

    def __init__(self, root: Path, staging: Path, state: dict[Key, str]) -> None:
        self.root, self.staging = root, staging
        self.state = dict(state)
        self.states = {self.frozen()}
        self.touched: dict[Key, float] = {}
        self.added: list[Key] = []
        self.templates = sorted(
            p.parent for p in root.glob("*/*/manifest.yml") if p.parent.parent.parent == root
        )
        self.rng = random.Random(7)
        self.count = 0

    def frozen(self) -> frozenset[tuple[str, str, str]]:
        return frozenset((n, v, d) for (n, v), d in self.state.items())

    def step(self) -> str:
        """Make the next change on disk; returns what it did."""
        self.count += 1
        kind = ("add", "change", "remove")[self.count % 3] if self.added else "add"
        if kind == "add":
            template = self.rng.choice(self.templates)
            name, version = template.parent.name, f"{100 + self.count}.0.0"
            staged = self.staging / f"{name}-{version}"
            shutil.copytree(template, staged)
            old = template.name
            manifest = staged / "manifest.yml"
            text = manifest.read_text().replace(f"\nversion: {old}\n", f"\nversion: {version}\n")
            description = f"Churn step {self.count}."
            text = _with_description(text, description)
            manifest.write_text(text)
            changelog = staged / "changelog.yml"
            changelog.write_text(changelog.read_text().replace(f'"{old}"', f'"{version}"', 1))
            self.touched[(name, version)] = time.monotonic()
            staged.rename(self.root / name / version)
            self.state[(name, version)] = description
            self.added.append((name, version))
        elif kind == "change":
            name, version = self.rng.choice(self.added)
            description = f"Churn step {self.count}, changed."
            manifest = self.root / name / version / "manifest.yml"
            staged = self.staging / f"manifest-{self.count}.yml"
            staged.write_text(_with_description(manifest.read_text(), description))
            self.touched[(name, version)] = time.monotonic()
            staged.replace(manifest)
            self.state[(name, version)] = description
        else:
            name, version = self.added.pop(0)
            self.touched[(name, version)] = time.monotonic()
            gone = self.staging / f"removed-{self.count}"
            (self.root / name / version).rename(gone)
            shutil.rmtree(gone)
            del self.state[(name, version)]
        self.states.add(self.frozen())
        return kind


def _with_description(manifest: str, description: str) -> str:
    lines = [
        f"description: {json.dumps(description)}" if line.startswith("description:") else line
        for line in manifest.splitlines()
    ]
    return "\n".join(lines) + "\n"


def answer_state(body: str) -> frozenset[tuple[str, str, str]]:
    return frozenset((p.name, p.version, p.description) for p in parse_listing(body))


def reload_under_load(settings: Settings, outcome: Outcome) -> None:
    source = make_corpus(settings.work / "corpus-160", packages=40, versions=160, seed=2)
    directory = settings.work / "reload"
    shutil.rmtree(directory, ignore_errors=True)
    root, staging = directory / "packages", directory / "staging"
    shutil.copytree(source, root)
    staging.mkdir(parents=True)
    registry = Registry(
        directory,
        [root],
        ["-workers=2", "-require-package-signatures=false", "-package-paths-enable-watcher"],
    ).start()
    try:
        packages = listing(registry.port)
        churn = Churn(root, staging, {(p.name, p.version): p.description for p in packages})
        mix = Mix(packages, seed=3)
        stats = Stats()
        mixed: list[str] = []
        counters = {"consistent": 0, "resolved": 0, "allowed": 0, "unseen": 0}
        samples: list[tuple[float, float]] = []
        stop = asyncio.Event()
        rng = random.Random(5)

        async def consistent(worker: Worker) -> None:
            sent = time.monotonic()
            reply = await worker.call(ALL, kind="search-all")
            if reply is None or reply.status != 200:
                return
            state = answer_state(reply.text())
            if state not in churn.states:
                mixed.append(f"/search answer matching no catalog state ({len(state)} items)")
                return
            counters["consistent"] += 1
            generation = worker.generation
            for name, version, description in rng.sample(sorted(state), min(2, len(state))):
                if not worker.connection.is_open or worker.generation != generation:
                    return  # the server closed the connection: "same connection" is moot
                answer = await worker.call(f"/package/{name}/{version}/", (200, 404))
                if answer is None:
                    return
                touched = churn.touched.get((name, version), 0.0) >= sent
                if answer.status == 200 and json.loads(answer.body)["description"] == description:
                    counters["resolved"] += 1
                elif touched:
                    counters["allowed"] += 1
                else:
                    mixed.append(f"{name}@{version} listed, then {answer.status} on the connection")

        async def session(worker: Worker) -> None:
            if rng.random() < 0.5:
                await consistent(worker)
            else:
                await mix.one(worker)

        async def observed(expected: frozenset[tuple[str, str, str]], timeout: float) -> bool:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                conn = Connection("127.0.0.1", registry.port)
                try:
                    reply = await conn.request("GET", ALL, timeout=10)
                    if reply.status == 200 and answer_state(reply.body) == expected:
                        return True
                except Exception:  # a worker being replaced; ask again
                    pass
                finally:
                    conn.close()
                await asyncio.sleep(0.2)
            return False

        async def drive() -> None:
            try:
                for _ in range(settings.swaps):
                    churn.step()
                    if not await observed(churn.frozen(), 30):
                        counters["unseen"] += 1
                    samples.append((registry.pss_mib(), registry.tmp_mib()))
            finally:
                stop.set()

        async def main() -> None:
            await asyncio.gather(
                run_load("127.0.0.1", registry.port, CONNECTIONS, 3600, session, stats, stop=stop),
                drive(),
            )

        began = time.monotonic()
        run(main())
        elapsed = time.monotonic() - began
        base = samples[max(0, len(samples) // 10 - 1)]
        pss_growth = (samples[-1][0] - base[0]) / base[0] * 100
        disk_growth = samples[-1][1] - base[1]
        outcome.figures.update(
            swaps=settings.swaps,
            unseen=counters["unseen"],
            seconds_per_swap=elapsed / settings.swaps,
            requests=stats.requests,
            unexpected=sum(stats.unexpected.values()),
            dropped=stats.errors["dropped"],
            timeouts=stats.errors["timeout"],
            consistent=counters["consistent"],
            resolved=counters["resolved"],
            allowed=counters["allowed"],
            mixed=len(mixed),
            pss_mib=f"{base[0]:.0f}->{samples[-1][0]:.0f}",
            tmp_mib=f"{base[1]:.1f}->{samples[-1][1]:.1f}",
        )
        outcome.check(stats.failed == 0, f"{stats.failed} failed: {stats.examples[:2]}")
        outcome.check(not mixed, f"{len(mixed)} mixed: {mixed[:2]}")
        outcome.check(counters["unseen"] == 0, f"{counters['unseen']} swaps never served")
        outcome.check(pss_growth < 10, f"PSS grew {pss_growth:.1f} % across swaps")
        outcome.check(
            disk_growth < base[1] * 0.1 + 2,
            f"temporary folder grew {disk_growth:.1f} MiB across swaps",
        )
    finally:
        registry.stop()
