"""Whether a client takes a gzip body, read from ``Accept-Encoding`` as RFC 9110 says.

Both the application and the replay fast path decide with this one function, so a
replayed answer is encoded exactly as a fresh one would be.
"""

from __future__ import annotations

import functools
import re

#: Header values up to this length are remembered (browsers and clients send few forms).
_MEMO_LIMIT = 256
#: RFC 9110 ``qvalue``: 0 or 1 with at most three decimals, never above 1.
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


def gzip_accepted(header: str | bytes | None) -> bool:
    """True when ``header`` (an ``Accept-Encoding`` value, as text or as the raw bytes
    the replay path has) makes gzip acceptable and not less preferred than an
    unencoded body.

    Codings and the ``q`` parameter are case-insensitive; ``gzip;q=0`` refuses gzip,
    ``*`` stands for codings not named, and ``x-gzip`` is gzip. An explicit (or
    ``*``-given) weight of ``identity`` above gzip's keeps the body unencoded.
    """
    if not header:
        return False
    if len(header) <= _MEMO_LIMIT:
        return _decide(header)
    return _decide.__wrapped__(header)


@functools.lru_cache(maxsize=64)
def _decide(header: str | bytes) -> bool:
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    weights: dict[str, float] = {}
    for element in header.split(","):
        coding, _, params = element.partition(";")
        coding = coding.strip(" \t").lower()
        if not coding:
            continue
        weight = _weight(params)
        if weight is None:
            continue  # a malformed weight: the element is ignored
        if coding == "x-gzip":
            coding = "gzip"
        weights.setdefault(coding, weight)
    gzip = weights.get("gzip", weights.get("*", 0.0))
    if gzip <= 0.0:
        return False
    identity = weights.get("identity", weights.get("*"))
    return identity is None or gzip >= identity


def _weight(params: str) -> float | None:
    """The ``q`` of an element's parameters (1 when absent); ``None`` when malformed."""
    weight = 1.0
    for param in params.split(";"):
        name, sep, value = param.partition("=")
        name = name.strip(" \t").lower()
        if not name:
            continue
        if name != "q" or not sep:
            continue  # other parameters do not change the weight
        value = value.strip(" \t")
        if _QVALUE.fullmatch(value) is None:
            return None
        weight = float(value)
    return weight
