"""Soak: mixed traffic at 256 connections on a 2-worker registry over 2,000 versions.

Passes with 0 unexpected statuses (and 0 requests without an answer within 30 s) and memory — the
summed PSS of the registry's processes — growing less than 10 % between the end of the
first fifth of the run (minute 1 of 5) and its end.
"""

from __future__ import annotations

import asyncio
import time

from reliability.client import Stats, run, run_load
from reliability.harness import Outcome, Registry, Settings, make_corpus
from reliability.traffic import Mix, listing

CONNECTIONS = 256
#: A request not answered by then counts as failed (the machine may be shared: generous).
REQUEST_TIMEOUT = 30.0


def soak(settings: Settings, outcome: Outcome) -> None:
    corpus = make_corpus(settings.work / "corpus-2000", packages=100, versions=2000)
    registry = Registry(
        settings.work / "soak",
        [corpus],
        ["-workers=2", "-require-package-signatures=false"],
    ).start()
    try:
        packages = listing(registry.port)
        outcome.figures["versions"] = len(packages)
        outcome.check(len(packages) >= 2000, f"only {len(packages)} versions listed")
        stats = Stats()
        samples: list[tuple[float, float]] = []
        mix = Mix(packages)
        seconds = settings.soak_seconds

        async def sample() -> None:
            began = time.monotonic()
            while time.monotonic() - began < seconds:
                samples.append((time.monotonic() - began, registry.pss_mib()))
                await asyncio.sleep(2)

        async def main() -> None:
            await asyncio.gather(
                run_load(
                    "127.0.0.1",
                    registry.port,
                    CONNECTIONS,
                    seconds,
                    mix.one,
                    stats,
                    timeout=REQUEST_TIMEOUT,
                ),
                sample(),
            )

        run(main())
        samples.append((seconds, registry.pss_mib()))
        first = next(pss for at, pss in samples if at >= seconds / 5)
        last = samples[-1][1]
        growth = (last - first) / first * 100
        outcome.figures.update(
            connections=CONNECTIONS,
            requests=stats.requests,
            rps=stats.requests / seconds,
            unexpected=sum(stats.unexpected.values()),
            no_answer=sum(stats.errors.values()),
            p50_ms=stats.percentile(0.5),
            p99_ms=stats.percentile(0.99),
            pss_first_mib=first,
            pss_last_mib=last,
            pss_growth_pct=growth,
        )
        outcome.check(stats.failed == 0, f"{stats.failed} failed: {stats.examples[:3]}")
        outcome.check(growth < 10, f"PSS grew {growth:.1f} % ({first:.0f} → {last:.0f} MiB)")
    finally:
        registry.stop()
