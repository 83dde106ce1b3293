"""Semantic versions and version constraints, matching the reference registry exactly.

Package versions, ``format_version``, the ``kibana.version`` / ``agent.version`` query
parameters and the ``conditions.*.version`` ranges must parse, order and match the way the
reference does (Masterminds semver v3), error texts included, because those texts end up in
HTTP 400 bodies and load errors. Parsing is memoised and constraints are compiled to plain
key comparisons, since a query checks one constraint per package version.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from package_registry.gotext import go_quote

__all__ = [
    "Constraint",
    "ConstraintError",
    "Version",
    "VersionError",
]


class VersionError(ValueError):
    """A version string the reference rejects; ``str()`` is the reference's error text."""


class ConstraintError(ValueError):
    """A constraint string the reference rejects; ``str()`` is the reference's error text."""


#: Sort key of a version: ``(major, minor, patch, 1)`` for a release, or
#: ``(major, minor, patch, 0, identifiers)`` for a prerelease, where each identifier is
#: ``(0, number)`` or ``(1, text)``. Plain tuple order then equals semver precedence.
_Key = tuple[Any, ...]

_UINT64_MAX = (1 << 64) - 1
#: Parsed versions remembered: the texts of a catalog's packages and constraints repeat.
_CACHE_SIZE = 1 << 16
#: Longest prerelease whose sort key is remembered (packages use short ones): longer
#: ones, which only a crafted request sends, would make the memo's bytes unbounded.
_MEMO_PRERELEASE = 32

# Go's RE2 ``\s`` (ASCII only, no vertical tab); Python's ``\s`` would accept far more.
_WS = r"[\t\n\f\r ]"
_DIGITS_RE = re.compile(r"[0-9]+")
_IDENTIFIER_RE = re.compile(r"[0-9A-Za-z-]+")
#: The texts the strict parser accepts, bar leading zeros in numeric prerelease
#: identifiers and numbers that overflow uint64 (checked separately, in linear time).
_STRICT_RE = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
#: A numeric prerelease identifier with a leading zero, inside an already matched prerelease.
_LEADING_ZERO_RE = re.compile(r"(?:^|\.)0[0-9]+(?:\.|$)")
_LOOSE_RE = re.compile(
    r"v?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


def _parse_uint(digits: str, prefix: str) -> int:
    """Go's ``strconv.ParseUint(digits, 10, 64)`` for ASCII digit strings, same errors."""
    if len(digits) < 20:
        if digits:
            return int(digits)
        raise VersionError(f'{prefix}strconv.ParseUint: parsing "": invalid syntax')
    # Checking the length first keeps int() away from huge inputs.
    if len(digits.lstrip("0")) > 20 or int(digits) > _UINT64_MAX:
        raise VersionError(f'{prefix}strconv.ParseUint: parsing "{digits}": value out of range')
    return int(digits)


def _check_prerelease(prerelease: str) -> None:
    for identifier in prerelease.split("."):
        if not identifier:
            raise VersionError("invalid prerelease string")
        if _DIGITS_RE.fullmatch(identifier):
            if len(identifier) > 1 and identifier[0] == "0":
                raise VersionError("version segment starts with 0")
        elif not _IDENTIFIER_RE.fullmatch(identifier):
            raise VersionError("invalid prerelease string")


def _check_metadata(metadata: str) -> None:
    for identifier in metadata.split("."):
        if not identifier or not _IDENTIFIER_RE.fullmatch(identifier):
            raise VersionError("invalid metadata string")


def _prerelease_key(prerelease: str) -> tuple[tuple[int, int | str], ...]:
    if len(prerelease) <= _MEMO_PRERELEASE:
        return _remembered_prerelease_key(prerelease)
    return _compute_prerelease_key(prerelease)


@lru_cache(maxsize=4096)
def _remembered_prerelease_key(prerelease: str) -> tuple[tuple[int, int | str], ...]:
    return _compute_prerelease_key(prerelease)


def _compute_prerelease_key(prerelease: str) -> tuple[tuple[int, int | str], ...]:
    parts: list[tuple[int, int | str]] = []
    for identifier in prerelease.split("."):
        # Numeric means "parses as a uint64"; longer digit runs compare as text.
        if _DIGITS_RE.fullmatch(identifier) and len(identifier) <= 20:
            number = int(identifier)
            if number <= _UINT64_MAX:
                parts.append((0, number))
                continue
        parts.append((1, identifier))
    return tuple(parts)


@dataclass(frozen=True, slots=True, eq=False)
class Version:
    """A parsed semantic version. Equality, ordering and hashing ignore build metadata."""

    major: int
    minor: int
    patch: int
    prerelease: str = ""
    metadata: str = ""
    #: The text this version was parsed from (canonical form when built directly).
    original: str = ""
    _key: _Key = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.prerelease:
            key: _Key = (self.major, self.minor, self.patch, 0, _prerelease_key(self.prerelease))
        else:
            key = (self.major, self.minor, self.patch, 1)
        object.__setattr__(self, "_key", key)
        if not self.original:
            object.__setattr__(self, "original", self.canonical())

    def canonical(self) -> str:
        """Masterminds' ``Version.String()``: ``major.minor.patch[-pre][+meta]`` with the
        numbers as parsed (``v1.02`` is ``1.2.0``), whatever text it was parsed from."""
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + self.prerelease
        if self.metadata:
            text += "+" + self.metadata
        return text

    @classmethod
    def parse_strict(cls, text: str) -> Version:
        """Parse a complete ``X.Y.Z[-pre][+meta]`` version (no ``v``, no leading zeros)."""
        return _parse_strict(text)

    @classmethod
    def parse_loose(cls, text: str, *, remember: bool = True) -> Version:
        """Parse ``[v]X[.Y[.Z]][-pre][+meta]``; missing parts are 0, leading zeros allowed.

        ``remember=False`` for texts a client sent: the memo is sized for a catalog's
        versions, and every distinct request value would stay in it.
        """
        return _parse_loose(text) if remember else _parse_loose.__wrapped__(text)

    def compare(self, other: Version) -> int:
        """-1, 0 or 1 as ``self`` is lower than, equal to or higher than ``other``."""
        a, b = self._key, other._key
        return (a > b) - (a < b)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key == other._key

    def __ne__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key != other._key

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key < other._key

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key <= other._key

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key > other._key

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key >= other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __str__(self) -> str:
        return self.original


@lru_cache(maxsize=_CACHE_SIZE)
def _parse_strict(text: str) -> Version:
    match = _STRICT_RE.fullmatch(text)
    if match is not None:
        major, minor, patch, prerelease, metadata = match.groups()
        if prerelease is not None and _LEADING_ZERO_RE.search(prerelease):
            raise VersionError("version segment starts with 0")
        return Version(
            _parse_uint(major, ""),
            _parse_uint(minor, ""),
            _parse_uint(patch, ""),
            prerelease or "",
            metadata or "",
            text,
        )
    return _parse_strict_slowly(text)


def _parse_strict_slowly(text: str) -> Version:
    """The reference's step-by-step strict parse, which decides which error is reported."""
    if not text:
        raise VersionError("version string empty")
    parts = text.split(".", 2)
    if len(parts) != 3:
        raise VersionError("invalid semantic version")
    major, minor, rest = parts
    metadata = prerelease = ""
    if "+" in rest:
        rest, metadata = rest.split("+", 1)
        _check_metadata(metadata)
    if "-" in rest:
        rest, prerelease = rest.split("-", 1)
        _check_prerelease(prerelease)
    for number in (major, minor, rest):
        # An empty part passes both checks, as in the reference, and fails in ParseUint.
        if number and not _DIGITS_RE.fullmatch(number):
            raise VersionError("invalid characters in version")
        if len(number) > 1 and number[0] == "0":
            raise VersionError("version segment starts with 0")
    return Version(
        _parse_uint(major, ""),
        _parse_uint(minor, ""),
        _parse_uint(rest, ""),
        prerelease,
        metadata,
        text,
    )


_SEGMENT_ERROR = "error parsing version segment: "


@lru_cache(maxsize=_CACHE_SIZE)
def _parse_loose(text: str) -> Version:
    match = _LOOSE_RE.fullmatch(text)
    if match is None:
        raise VersionError("invalid semantic version")
    major, minor, patch, prerelease, metadata = match.groups()
    version_major = _parse_uint(major, _SEGMENT_ERROR)
    version_minor = _parse_uint(minor, _SEGMENT_ERROR) if minor is not None else 0
    version_patch = _parse_uint(patch, _SEGMENT_ERROR) if patch is not None else 0
    if prerelease is not None and _LEADING_ZERO_RE.search(prerelease):
        raise VersionError("version segment starts with 0")
    # The pattern already guarantees well-formed identifiers and metadata.
    return Version(
        version_major,
        version_minor,
        version_patch,
        prerelease or "",
        metadata or "",
        text,
    )


# --- Constraints -------------------------------------------------------------------------

# One version inside a constraint: numbers may be the wildcards x, X, * (and, as in the
# reference's character class, '|').
_CV_NUMBER = r"[0-9|xX*]+"
_CV_EXTRA = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_CV = rf"v?{_CV_NUMBER}(?:\.{_CV_NUMBER})?(?:\.{_CV_NUMBER})?(?:-{_CV_EXTRA})?(?:\+{_CV_EXTRA})?"
_OP = r"(?:!=|>=|=>|<=|=<|~>|[=><~^])?"
_ITEM_RE = re.compile(
    rf"({_OP}){_WS}*"
    rf"(v?({_CV_NUMBER})(\.{_CV_NUMBER})?(\.{_CV_NUMBER})?(-{_CV_EXTRA})?(?:\+{_CV_EXTRA})?)"
)
_SPACES_RE = re.compile(rf"{_WS}*")
_RANGE_HINT_RE = re.compile(rf"{_WS}-{_WS}")
_RANGE_RE = re.compile(rf"{_WS}*({_CV}){_WS}+-{_WS}+({_CV}){_WS}*")
_WILDCARDS = frozenset(("x", "X", "*"))
_MEMO_LIMIT = 4096

_Check = Callable[[_Key], bool]


def _rewrite_ranges(text: str) -> str:
    """``A - B`` becomes ``>= A, <= B `` (surrounding whitespace is absorbed)."""
    if "-" not in text or _RANGE_HINT_RE.search(text) is None:
        return text
    return _RANGE_RE.sub(lambda m: f">= {m[1]}, <= {m[2]} ", text)


def _split_group(group: str) -> list[re.Match[str]] | None:
    """The items of one AND group, or None when the group is not well formed.

    Items are ``<op><ws>*<version>``, separated by whitespace and/or one comma, with
    optional whitespace around the whole group.
    """
    items: list[re.Match[str]] = []
    end = len(group)
    pos = _skip_spaces(group, 0)
    while True:
        item = _ITEM_RE.match(group, pos)
        if item is None:
            return None
        items.append(item)
        after = item.end()
        pos = _skip_spaces(group, after)
        if pos == end:
            return items
        if group[pos] == ",":
            pos = _skip_spaces(group, pos + 1)
        elif pos == after:
            return None  # two items with nothing between them


def _skip_spaces(text: str, pos: int) -> int:
    match = _SPACES_RE.match(text, pos)
    return match.end() if match is not None else pos


class _Dirt(enum.Enum):
    """Which number of a constraint item is a wildcard or missing (the first one wins).

    ``MAJOR`` leaves base 0.0.0; ``MINOR`` is the reference's "minor-dirty", ``PATCH`` its
    "patch-dirty"; any of the three is "dirty".
    """

    NONE = 0
    MAJOR = 1
    MINOR = 2
    PATCH = 3


def _next_major(major: int) -> _Key:
    """A key above every X.*.* version and below every (X+1).*.* version."""
    return (major + 1, 0, 0, 0, ())


def _next_minor(major: int, minor: int) -> _Key:
    return (major, minor + 1, 0, 0, ())


def _next_patch(major: int, minor: int, patch: int) -> _Key:
    return (major, minor, patch + 1, 0, ())


def _at_least(low: _Key) -> _Check:
    return lambda k: k >= low


def _below(high: _Key) -> _Check:
    return lambda k: k < high


def _between(low: _Key, high: _Key) -> _Check:
    return lambda k: low <= k < high


def _tilde(base: Version, dirt: _Dirt) -> _Check:
    low = base._key
    # Base 0.0.0 (numbers only; a prerelease does not matter) with no open minor or patch.
    zero = base.major == 0 and base.minor == 0 and base.patch == 0
    if zero and dirt in (_Dirt.NONE, _Dirt.MAJOR):
        return _at_least(low)
    if dirt is _Dirt.MINOR:
        return _between(low, _next_major(base.major))
    return _between(low, _next_minor(base.major, base.minor))


def _caret(base: Version, dirt: _Dirt) -> _Check:
    low = base._key
    if base.major > 0 or dirt is _Dirt.MINOR:
        return _between(low, _next_major(base.major))
    if base.minor > 0 or dirt is _Dirt.PATCH:
        return _between(low, _next_minor(0, base.minor))
    return _between(low, _next_patch(0, 0, base.patch))


def _compile_item(op: str, base: Version, dirt: _Dirt) -> _Check:
    """The rule of one ``<op><version>`` item as a test on a version's sort key.

    Every rule of the reference reduces to comparisons against the base's key or against
    the first key of the next major/minor/patch line.
    """
    key = base._key
    major, minor = base.major, base.minor
    if op in ("", "="):
        if dirt is _Dirt.NONE:
            return lambda k: k == key
        return _tilde(base, dirt)
    if op == "!=":
        if dirt is _Dirt.MINOR:
            return lambda k: k[0] != major
        if dirt is _Dirt.PATCH:
            # Same major and minor: only a different prerelease makes it "not equal".
            tail = key[3:]
            return lambda k: k[0] != major or k[1] != minor or k[3:] != tail
        return lambda k: k != key
    if op == ">":
        if dirt is _Dirt.MINOR:
            return _at_least(_next_major(major))
        if dirt is _Dirt.PATCH:
            return _at_least(_next_minor(major, minor))
        return lambda k: k > key
    if op == "<":
        return _below(key)
    if op in (">=", "=>"):
        return _at_least(key)
    if op in ("<=", "=<"):
        if dirt is _Dirt.NONE:
            return lambda k: k <= key
        if dirt is _Dirt.MINOR:
            return _below(_next_major(major))
        return _below(_next_minor(major, minor))
    if op in ("~", "~>"):
        return _tilde(base, dirt)
    if op == "^":
        return _caret(base, dirt)
    raise AssertionError(f"unknown operator {op!r}")  # pragma: no cover


def _item_base(match: re.Match[str]) -> tuple[Version, _Dirt]:
    """Base version of one matched item and which of its numbers were left open."""
    text, major, minor, patch, prerelease = match.group(2, 3, 4, 5, 6)
    prerelease = prerelease or ""
    try:
        if major in _WILDCARDS:
            return _parse_loose("0.0.0" + prerelease), _Dirt.MAJOR
        if minor is None or minor[1:] in _WILDCARDS:
            return _parse_loose(f"{major}.0.0{prerelease}"), _Dirt.MINOR
        if patch is None or patch[1:] in _WILDCARDS:
            return _parse_loose(f"{major}{minor}.0{prerelease}"), _Dirt.PATCH
        return _parse_loose(text), _Dirt.NONE
    except VersionError:
        raise ConstraintError("constraint parser error") from None


class Constraint:
    """A parsed version range such as ``^7.16.0 || ^8.0.0`` (OR of AND groups)."""

    __slots__ = ("_groups", "_memo", "original")

    original: str
    _groups: tuple[tuple[bool, tuple[_Check, ...]], ...]
    _memo: dict[_Key, bool]

    def __init__(self, original: str, groups: tuple[tuple[bool, tuple[_Check, ...]], ...]):
        self.original = original
        self._groups = groups
        self._memo = {}

    @classmethod
    def parse(cls, text: str) -> Constraint:
        """Parse a constraint; equal texts share one (immutable) instance."""
        return _parse_constraint(text)

    def check(self, version: Version) -> bool:
        """Whether ``version`` satisfies every item of at least one OR group.

        A prerelease version only counts for groups that mention a prerelease.
        """
        key = version._key
        memo = self._memo
        result = memo.get(key)
        if result is None:
            result = self._evaluate(key)
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[key] = result
        return result

    def _evaluate(self, key: _Key) -> bool:
        is_prerelease = key[3] == 0
        for has_prerelease, items in self._groups:
            if is_prerelease and not has_prerelease:
                continue
            for item in items:
                if not item(key):
                    break
            else:
                return True
        return False

    def __str__(self) -> str:
        return self.original

    def __repr__(self) -> str:
        return f"Constraint({self.original!r})"


@lru_cache(maxsize=4096)
def _parse_constraint(text: str) -> Constraint:
    groups: list[tuple[bool, tuple[_Check, ...]]] = []
    for group in _rewrite_ranges(text).split("||"):
        matches = _split_group(group)
        if matches is None:
            raise ConstraintError(f"improper constraint: {go_quote(group)}")
        checks: list[_Check] = []
        has_prerelease = False
        for match in matches:
            base, dirt = _item_base(match)
            has_prerelease = has_prerelease or bool(base.prerelease)
            checks.append(_compile_item(match[1], base, dirt))
        groups.append((has_prerelease, tuple(checks)))
    return Constraint(text, tuple(groups))


def is_strict_version(text: str) -> bool:
    """Whether ``text`` is a strict semver version (package folders and URL versions)."""
    try:
        Version.parse_strict(text)
    except VersionError:
        return False
    return True
