"""The project's single JSON writer, byte-compatible with the reference's Go encoder.

Go writes two-space indented JSON without HTML escaping, escapes U+2028/U+2029, ends
every document with a newline and formats floats its own way. ``render_json`` gives
that output for documents prepared with ``json_float``, which load time applies to
every float it stores.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import orjson

_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
_LINE_SEP = "\u2028".encode()
_PARA_SEP = "\u2029".encode()
_INT64_MAX = 2**63 - 1


class UnsupportedFloat(float):
    """A NaN or infinity: Go refuses to encode it, so ``render_json`` fails on it too."""

    __slots__ = ()


def render_json(obj: Any) -> bytes:
    """Encode ``obj`` as Go's ``json.Encoder`` (indent 2, no HTML escaping) would.

    Raises ``ValueError`` for values Go cannot encode (NaN, infinities).
    """
    try:
        out = orjson.dumps(obj, option=_OPTIONS)
    except orjson.JSONEncodeError as exc:
        raise ValueError(f"json: unsupported value: {exc}") from exc
    if _LINE_SEP in out:
        out = out.replace(_LINE_SEP, b"\\u2028")
    if _PARA_SEP in out:
        out = out.replace(_PARA_SEP, b"\\u2029")
    return out


def json_float(value: float) -> Any:
    """Return what to store for a float so that ``render_json`` prints Go's text for it.

    Go prints integral floats below 1e21 without a fraction, and numbers in [1e-6, 1e-5)
    in fixed notation; orjson agrees with Go everywhere else.
    """
    if math.isnan(value) or math.isinf(value):
        return UnsupportedFloat(value)
    magnitude = abs(value)
    if value == 0:
        return orjson.Fragment(b"-0") if math.copysign(1.0, value) < 0 else 0
    if magnitude < 1e21 and value.is_integer():
        number = int(value) if magnitude < 2**53 else int(Decimal(repr(value)))
        return number if magnitude <= _INT64_MAX else orjson.Fragment(str(number).encode())
    if 1e-6 <= magnitude < 1e-5:
        return orjson.Fragment(format(Decimal(repr(value)), "f").encode())
    return value
