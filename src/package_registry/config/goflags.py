"""Go ``flag`` command-line syntax and Go value syntax, independent of any particular flag.

The reference server is configured through Go's ``flag`` package, ``strconv`` and
``time.ParseDuration``; users' scripts, Dockerfiles and Helm charts depend on those exact
spellings, so this module reproduces them (and Go's error texts) for the settings layer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from package_registry.gotext import go_quote
from package_registry.gotext import parse_bool as go_parse_bool

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


_NS_PER_UNIT = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek small letter mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_NS_PER_SECOND = 1_000_000_000
_NUMBER = re.compile(r"([0-9]*)(?:\.([0-9]*))?")
_UNIT = re.compile(r"[^0-9.]*")
_DIGITS = {2: re.compile("[01_]+"), 8: re.compile("[0-7_]+"), 10: re.compile("[0-9_]+")}
_DIGITS[16] = re.compile("[0-9a-fA-F_]+")
_HELP_NAMES = frozenset({"h", "help"})


class GoValueError(ValueError):
    """A value that Go's parsers would reject.

    ``str(error)`` is the detailed Go error (``time: invalid duration "x"``); ``flag_reason``
    is what Go's ``flag`` package reports instead (``parse error``, ``value out of range``, or
    the detailed text for custom value kinds).
    """

    def __init__(self, detail: str, flag_reason: str | None = None) -> None:
        super().__init__(detail)
        self.flag_reason = detail if flag_reason is None else flag_reason


class FlagSyntaxError(Exception):
    """A command line that Go's ``flag`` package refuses, with Go's message."""


class HelpRequested(Exception):
    """``-h``, ``-help`` or ``--help`` was given on the command line."""


def parse_bool(text: str) -> bool:
    """Parse a boolean as ``strconv.ParseBool`` does (``1``, ``t``, ``TRUE``, ``false``...)."""
    value = go_parse_bool(text)
    if value is not None:
        return value
    raise GoValueError(
        f"strconv.ParseBool: parsing {go_quote(text)}: invalid syntax", "parse error"
    )


def parse_int(text: str) -> int:
    """Parse a Go integer literal as ``strconv.ParseInt(text, 0, 64)`` does.

    Accepts an optional sign, ``0x``/``0o``/``0b`` prefixes, a leading ``0`` for octal and
    ``_`` between digits (``1_000``, ``0x_ff``).
    """
    syntax = GoValueError(
        f"strconv.ParseInt: parsing {go_quote(text)}: invalid syntax", "parse error"
    )
    body = text[1:] if text[:1] in ("+", "-") else text
    base, digits, checked = 10, body, body
    if len(body) > 1 and body[0] == "0":
        prefix = body[1].lower()
        if prefix in ("x", "o", "b"):
            base = {"x": 16, "o": 8, "b": 2}[prefix]
            digits = body[2:]
            # The prefix counts as a digit: "0x_1f" is fine, "0x__1f" is not.
            checked = "0" + digits
        else:
            base = 8
    if _DIGITS[base].fullmatch(digits) is None or not all(checked.split("_")):
        raise syntax
    value = int(digits.replace("_", ""), base)
    if text[:1] == "-":
        value = -value
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise GoValueError(
            f"strconv.ParseInt: parsing {go_quote(text)}: value out of range", "value out of range"
        )
    return value


def parse_decimal_int(text: str) -> int:
    """Parse a plain decimal integer as ``strconv.Atoi`` does (sign allowed, nothing else)."""
    if re.fullmatch(r"[+-]?[0-9]+", text) is None:
        raise GoValueError(f"strconv.Atoi: parsing {go_quote(text)}: invalid syntax", "parse error")
    value = int(text)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise GoValueError(
            f"strconv.Atoi: parsing {go_quote(text)}: value out of range", "value out of range"
        )
    return value


def parse_duration(text: str) -> float:
    """Parse a Go duration (``10s``, ``1m30s``, ``1.5h``, ``-500ms``) into seconds.

    Follows ``time.ParseDuration``: a sequence of decimal numbers, each with a unit
    (``ns``, ``us``, ``µs``, ``ms``, ``s``, ``m``, ``h``); a bare ``0`` needs no unit.
    """
    return _parse_duration_ns(text) / _NS_PER_SECOND


def _parse_duration_ns(text: str) -> int:
    invalid = GoValueError(f"time: invalid duration {go_quote(text)}", "parse error")
    rest = text[1:] if text[:1] in ("+", "-") else text
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0
    while rest:
        number = _NUMBER.match(rest)
        assert number is not None  # the pattern also matches the empty string
        whole, fraction = number.group(1), number.group(2) or ""
        if not whole and not fraction:
            raise invalid
        rest = rest[number.end() :]
        unit_match = _UNIT.match(rest)
        assert unit_match is not None
        unit = unit_match.group(0)
        rest = rest[unit_match.end() :]
        if not unit:
            raise GoValueError(f"time: missing unit in duration {go_quote(text)}", "parse error")
        if unit not in _NS_PER_UNIT:
            raise GoValueError(
                f"time: unknown unit {go_quote(unit)} in duration {go_quote(text)}", "parse error"
            )
        scale = _NS_PER_UNIT[unit]
        total += int(whole or "0") * scale
        if fraction:
            total += int(fraction) * scale // 10 ** len(fraction)
        if total > 2**63:
            raise invalid
    if text[:1] == "-":
        return -total
    if total > _INT64_MAX:
        raise invalid
    return total


def format_duration(seconds: float) -> str:
    """Format seconds as Go's ``time.Duration.String`` does: ``10s``, ``10m0s``, ``24h0m0s``."""
    nanoseconds = round(seconds * _NS_PER_SECOND)
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    size = abs(nanoseconds)
    if size < 1_000:
        return f"{sign}{size}ns"
    if size < 1_000_000:
        return f"{sign}{_decimal(size, 1_000)}\u00b5s"
    if size < _NS_PER_SECOND:
        return f"{sign}{_decimal(size, 1_000_000)}ms"
    hours, size = divmod(size, 3600 * _NS_PER_SECOND)
    minutes, size = divmod(size, 60 * _NS_PER_SECOND)
    text = f"{hours}h{minutes}m" if hours else (f"{minutes}m" if minutes else "")
    return f"{sign}{text}{_decimal(size, _NS_PER_SECOND)}s"


def _decimal(value: int, unit: int) -> str:
    """``value / unit`` as a decimal without trailing zeros (``1500, 1000`` → ``1.5``)."""
    whole, part = divmod(value, unit)
    if not part:
        return str(whole)
    digits = str(part).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def parse_command_line(
    args: Sequence[str],
    is_bool: Callable[[str], bool | None],
    set_flag: Callable[[str, str], None],
) -> list[str]:
    """Parse ``args`` (without the program name) as Go's ``flag.FlagSet.Parse`` does.

    ``is_bool(name)`` tells whether a flag is boolean, or returns ``None`` for an unknown
    name. ``set_flag(name, value)`` stores one value and raises :class:`GoValueError` to reject
    it; values are stored in command-line order, so a later occurrence wins. Returns the
    arguments left after the first non-flag argument (or after ``--``). Raises
    :class:`FlagSyntaxError` or :class:`HelpRequested`.
    """
    position = 0
    while position < len(args):
        arg = args[position]
        if len(arg) < 2 or arg[0] != "-":
            break
        position += 1
        if arg == "--":
            break
        name = arg[2:] if arg[1] == "-" else arg[1:]
        if not name or name[0] in "-=":
            raise FlagSyntaxError(f"bad flag syntax: {arg}")
        name, has_value, value = name.partition("=")
        boolean = is_bool(name)
        if boolean is None:
            if name in _HELP_NAMES:
                raise HelpRequested
            raise FlagSyntaxError(f"flag provided but not defined: -{name}")
        if boolean:
            value = value if has_value else "true"
        elif not has_value:
            if position == len(args):
                raise FlagSyntaxError(f"flag needs an argument: -{name}")
            value = args[position]
            position += 1
        try:
            set_flag(name, value)
        except GoValueError as error:
            if boolean:
                message = f"invalid boolean value {go_quote(value)} for -{name}"
            else:
                message = f"invalid value {go_quote(value)} for flag -{name}"
            raise FlagSyntaxError(f"{message}: {error.flag_reason}") from None
    return list(args[position:])
