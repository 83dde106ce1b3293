"""Go ``flag`` syntax and Go value syntax, checked against the behaviour of Go's libraries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from package_registry.config.goflags import (
    FlagSyntaxError,
    GoValueError,
    HelpRequested,
    format_duration,
    go_quote,
    parse_bool,
    parse_command_line,
    parse_decimal_int,
    parse_duration,
    parse_int,
)

# --- strconv.ParseBool ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *[(word, True) for word in ("1", "t", "T", "TRUE", "true", "True")],
        *[(word, False) for word in ("0", "f", "F", "FALSE", "false", "False")],
    ],
)
def test_parse_bool_accepts_go_spellings(text: str, expected: bool) -> None:
    assert parse_bool(text) is expected


@pytest.mark.parametrize("text", ["", "yes", "on", "tRUE", " true", "2"])
def test_parse_bool_rejects_other_words(text: str) -> None:
    with pytest.raises(GoValueError) as caught:
        parse_bool(text)
    assert str(caught.value) == f"strconv.ParseBool: parsing {go_quote(text)}: invalid syntax"
    assert caught.value.flag_reason == "parse error"


# --- strconv.ParseInt(s, 0, 64) and strconv.Atoi -------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("42", 42),
        ("-42", -42),
        ("+7", 7),
        ("0x10", 16),
        ("0X1f", 31),
        ("010", 8),
        ("0o10", 8),
        ("0b101", 5),
        ("1_000", 1000),
        ("0x_ff", 255),
        ("0_10", 8),
        ("-9223372036854775808", -(2**63)),
        ("9223372036854775807", 2**63 - 1),
    ],
    ids=lambda value: str(value),
)
def test_parse_int_accepts_go_integer_literals(text: str, expected: int) -> None:
    assert parse_int(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "abc", "1.5", "08", "_1", "1_", "1__0", "0x", "0x__1", " 1", "1 ", "\u0663", "0x0x1"],
    ids=repr,
)
def test_parse_int_rejects_invalid_syntax(text: str) -> None:
    with pytest.raises(GoValueError) as caught:
        parse_int(text)
    assert str(caught.value) == f"strconv.ParseInt: parsing {go_quote(text)}: invalid syntax"
    assert caught.value.flag_reason == "parse error"


@pytest.mark.parametrize("text", ["9223372036854775808", "-9223372036854775809", "0x1" + "0" * 16])
def test_parse_int_reports_out_of_range(text: str) -> None:
    with pytest.raises(GoValueError) as caught:
        parse_int(text)
    assert caught.value.flag_reason == "value out of range"


@pytest.mark.parametrize(("text", "expected"), [("12", 12), ("-3", -3), ("+4", 4), ("007", 7)])
def test_parse_decimal_int_accepts_plain_decimals(text: str, expected: int) -> None:
    assert parse_decimal_int(text) == expected


@pytest.mark.parametrize("text", ["", "0x10", "1_0", "1.0", " 1"], ids=repr)
def test_parse_decimal_int_rejects_go_literals(text: str) -> None:
    with pytest.raises(GoValueError, match=r"^strconv\.Atoi: parsing .*: invalid syntax$"):
        parse_decimal_int(text)


# --- time.ParseDuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("-0", 0.0),
        ("10s", 10.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1h", 3600.0),
        ("1.5s", 1.5),
        ("-1s", -1.0),
        ("+5m", 300.0),
        ("2h45m", 9900.0),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("1h0m0s", 3600.0),
        ("100ns", 1e-7),
        ("1us", 1e-6),
        ("1\u00b5s", 1e-6),
        ("1\u03bcs", 1e-6),
        ("24h", 86400.0),
        ("1.0000000001s", 1.0),
    ],
    ids=lambda value: str(value),
)
def test_parse_duration_accepts_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds, abs=1e-12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("10", 'time: missing unit in duration "10"'),
        ("1x", 'time: unknown unit "x" in duration "1x"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("s", 'time: invalid duration "s"'),
        (".s", 'time: invalid duration ".s"'),
        ("-", 'time: invalid duration "-"'),
        ("1s 2s", 'time: unknown unit "s " in duration "1s 2s"'),
        ("abc", 'time: invalid duration "abc"'),
        ("9999999999h", 'time: invalid duration "9999999999h"'),
    ],
    ids=repr,
)
def test_parse_duration_rejects_with_go_messages(text: str, message: str) -> None:
    with pytest.raises(GoValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == message
    assert caught.value.flag_reason == "parse error"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (10, "10s"),
        (600, "10m0s"),
        (86400, "24h0m0s"),
        (90, "1m30s"),
        (1.5, "1.5s"),
        (0.5, "500ms"),
        (-1, "-1s"),
        (1e-9, "1ns"),
        (1e-6, "1\u00b5s"),
        (1.5e-6, "1.5\u00b5s"),
        (0.0015, "1.5ms"),
        (3600.5, "1h0m0.5s"),
    ],
    ids=lambda value: str(value),
)
def test_format_duration_matches_go_string(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_formatted_durations_parse_back(nanoseconds: int) -> None:
    text = format_duration(nanoseconds / 1e9)
    assert format_duration(parse_duration(text)) == text


# --- %q ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("abc", '"abc"'),
        ('a"b', '"a\\"b"'),
        ("a\\b", '"a\\\\b"'),
        ("a\nb", '"a\\nb"'),
        ("\x7f", '"\\x7f"'),
        ("\u00e9", '"\u00e9"'),
        ("\u200b", '"\\u200b"'),
    ],
    ids=repr,
)
def test_go_quote_escapes_like_go(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


# --- flag.FlagSet.Parse ------------------------------------------------------------------------

_BOOLS = {"v": True, "a": False, "n": False}


def _parse(args: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    stored: list[tuple[str, str]] = []

    def set_flag(name: str, value: str) -> None:
        if name == "n" and value.startswith("bad"):
            raise GoValueError("detail", "parse error")
        if name == "v" and value not in ("true", "false"):
            raise GoValueError("detail", "parse error")
        stored.append((name, value))

    rest = parse_command_line(args, _BOOLS.get, set_flag)
    return stored, rest


_FORMS = [
    (["-a=b"], [("a", "b")], []),
    (["-a", "b"], [("a", "b")], []),
    (["--a=b"], [("a", "b")], []),
    (["--a", "b"], [("a", "b")], []),
    (["-a="], [("a", "")], []),
    (["-a=x=y"], [("a", "x=y")], []),
    (["-a", "-v"], [("a", "-v")], []),
    (["-a=1", "-a=2"], [("a", "1"), ("a", "2")], []),
    (["-v"], [("v", "true")], []),
    (["--v"], [("v", "true")], []),
    (["-v=false"], [("v", "false")], []),
    (["-v", "false"], [("v", "true")], ["false"]),
    (["-a=b", "pos", "-v"], [("a", "b")], ["pos", "-v"]),
    (["--", "-v"], [], ["-v"]),
    (["-v", "--"], [("v", "true")], []),
    (["-"], [], ["-"]),
    ([], [], []),
]


@pytest.mark.parametrize(
    ("args", "stored", "rest"), _FORMS, ids=[" ".join(args) or "no-args" for args, *_ in _FORMS]
)
def test_command_line_forms(
    args: list[str], stored: list[tuple[str, str]], rest: list[str]
) -> None:
    assert _parse(args) == (stored, rest)


_ERRORS = [
    (["-a"], "flag needs an argument: -a"),
    (["-x"], "flag provided but not defined: -x"),
    (["--x=1"], "flag provided but not defined: -x"),
    (["---a"], "bad flag syntax: ---a"),
    (["-=a"], "bad flag syntax: -=a"),
    (["-v=maybe"], 'invalid boolean value "maybe" for -v: parse error'),
    (["-n", "bad"], 'invalid value "bad" for flag -n: parse error'),
    (["-a=1", "-x", "-h"], "flag provided but not defined: -x"),
]


@pytest.mark.parametrize(("args", "message"), _ERRORS, ids=[" ".join(a) for a, _ in _ERRORS])
def test_command_line_errors_use_go_messages(args: list[str], message: str) -> None:
    with pytest.raises(FlagSyntaxError) as caught:
        _parse(args)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "args", [["-h"], ["-help"], ["--help"], ["--h"], ["-h=1"], ["-a=1", "-h"]], ids=" ".join
)
def test_help_flags_request_usage(args: list[str]) -> None:
    with pytest.raises(HelpRequested):
        _parse(args)
