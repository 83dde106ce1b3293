"""Unit tests against the reference's golden files, in the conformance kit.

Not part of ``make test``: the kit is not in this repository. ``make test-kit`` (and
``.ci/run`` when the kit is there) runs them; ``CONFORMANCE_KIT`` names the kit's folder
(default ``../shared/conformance`` beside the checkout). The project's own tests cover the
same code with fixtures of the repository; these add a byte-for-byte comparison with the
reference's answers, in process, where a difference is quicker to read than in the kit's
black-box run.
"""

from __future__ import annotations

import pytest

from tests_kit.kit import KIT

if not (KIT / "cases.json").is_file():
    raise pytest.UsageError(f"tests_kit needs the conformance kit; not found at {KIT}")
