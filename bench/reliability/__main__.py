"""``make reliability``: run every scenario, print one line each, exit 1 if one failed.

Usage::

    PYTHONPATH=bench .venv/bin/python -m reliability [SCENARIO ...]

Environment: ``RELIABILITY_QUICK=1`` (about a minute in all, a smoke run),
``RELIABILITY_SOAK_SECONDS``, ``RELIABILITY_SWAPS``, ``RELIABILITY_WORK`` (folder for
corpora and logs; default ``bench/out/reliability``, corpora are kept between runs).
Each line is also written to ``<work>/results.json``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from reliability.faults import faults
from reliability.harness import ROOT, Outcome, Settings
from reliability.hostile_packages import hostile_packages
from reliability.hostile_requests import hostile_requests
from reliability.reload import reload_under_load
from reliability.slow_clients import slow_clients
from reliability.soak import soak

SCENARIOS: dict[str, Callable[[Settings, Outcome], None]] = {
    "soak": soak,
    "reload": reload_under_load,
    "hostile-requests": hostile_requests,
    "hostile-packages": hostile_packages,
    "faults": faults,
    "slow-clients": slow_clients,
}


def main(argv: list[str]) -> int:
    unknown = [name for name in argv if name not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s) {unknown}; choose from {list(SCENARIOS)}", file=sys.stderr)
        return 2
    work = Path(os.environ.get("RELIABILITY_WORK", ROOT / "bench" / "out" / "reliability"))
    work.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_environ(work)
    outcomes = []
    for name in argv or list(SCENARIOS):
        outcome = Outcome(name)
        began = time.monotonic()
        try:
            SCENARIOS[name](settings, outcome)
        except Exception as exc:  # a broken scenario is a failed one, the others still run
            outcome.check(False, f"{type(exc).__name__}: {str(exc)[:300]}")
            traceback.print_exc(file=sys.stderr)
        outcome.seconds = time.monotonic() - began
        print(outcome.line(), flush=True)
        outcomes.append(outcome)
    (work / "results.json").write_text(
        json.dumps(
            [
                {
                    "scenario": o.name,
                    "passed": o.passed,
                    "seconds": round(o.seconds, 1),
                    "figures": o.figures,
                    "failures": o.failures,
                }
                for o in outcomes
            ],
            indent=2,
            default=str,
        )
    )
    failed = [o.name for o in outcomes if not o.passed]
    mode = "quick" if settings.quick else "full"
    print(f"reliability ({mode}): {len(outcomes) - len(failed)}/{len(outcomes)} passed", end="")
    print(f"; failed: {', '.join(failed)}" if failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
