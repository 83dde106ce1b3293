"""Where the conformance kit is: ``CONFORMANCE_KIT``, else ``../shared/conformance``."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KIT = Path(os.environ.get("CONFORMANCE_KIT", ROOT.parent / "shared" / "conformance"))
DATA = KIT / "data"
GENERATED = DATA / "generated"
