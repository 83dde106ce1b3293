"""Query strings of ``/search`` and ``/categories`` turned into frozen query objects.

The reference reads its parameters through Go's ``url.ParseQuery`` and answers 400 with
very particular texts; both are reproduced here so the handlers only translate. The query
objects also provide a normalised ``cache_key()`` so equivalent spellings share one answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from package_registry.gotext import go_quote, parse_bool
from package_registry.packages.versions import Version, VersionError

__all__ = [
    "CategoriesQuery",
    "DiscoveryFilter",
    "Filters",
    "InvalidQuery",
    "SearchQuery",
    "parse_categories_query",
    "parse_query_string",
    "parse_search_query",
]


class InvalidQuery(ValueError):
    """A query parameter the reference refuses; the message is the exact 400 body."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> bytes:
        """The message as response bytes (undecodable query bytes are written back raw)."""
        return self.message.encode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------------------
# Go url.ParseQuery


_HEX = frozenset(b"0123456789abcdefABCDEF")


def _unescape(raw: bytes) -> bytes | None:
    """Go's query-component unescape: ``+`` is a space; a bad ``%`` escape is ``None``."""
    if b"%" not in raw:
        return raw.replace(b"+", b" ")
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == 0x25:  # '%'
            if i + 2 >= n or raw[i + 1] not in _HEX or raw[i + 2] not in _HEX:
                return None
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        elif c == 0x2B:  # '+'
            out.append(0x20)
            i += 1
        else:
            out.append(c)
            i += 1
    return bytes(out)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def parse_query_string(raw_query: str | bytes) -> dict[str, list[str]]:
    """Parse a raw query string as Go's ``url.ParseQuery`` does, ignoring its errors.

    Keys keep the order of their first appearance; values keep their order. Segments with
    a ``;`` or an invalid percent-escape are dropped; ``+`` decodes to a space.
    """
    if isinstance(raw_query, str):
        # A raw query string is ASCII in practice; any other byte arrives as one
        # latin-1 character when the server decoded the bytes that way.
        try:
            raw_query = raw_query.encode("latin-1")
        except UnicodeEncodeError:
            raw_query = raw_query.encode("utf-8", "surrogateescape")
    values: dict[str, list[str]] = {}
    for segment in raw_query.split(b"&"):
        if not segment or b";" in segment:
            continue
        key_raw, _, value_raw = segment.partition(b"=")
        key = _unescape(key_raw)
        if key is None:
            continue
        value = _unescape(value_raw)
        if value is None:
            continue
        values.setdefault(_text(key), []).append(_text(value))
    return values


def _version_text(version: Version | None) -> str:
    """Go's ``%s`` of a ``*semver.Version``: its canonical form, ``<nil>`` when absent."""
    return "<nil>" if version is None else version.canonical()


# --------------------------------------------------------------------------------------
# Query objects


@dataclass(frozen=True, slots=True)
class DiscoveryFilter:
    """One ``discovery=<kind>:<a>,<b>`` value: ``kind`` is ``fields`` or ``datasets``."""

    kind: str
    names: frozenset[str]

    def matches(self, fields: Sequence[str], datasets: Sequence[str]) -> bool:
        if self.kind == "fields":
            # Every field of the package must be listed; a package without fields never matches.
            return bool(fields) and all(f in self.names for f in fields)
        # At least one dataset of the package must be listed.
        return any(d in self.names for d in datasets)


@dataclass(frozen=True, slots=True)
class Filters:
    """The filter parameters ``/search`` and ``/categories`` share."""

    kibana_version: Version | None = None
    agent_version: Version | None = None
    prerelease: bool = False
    experimental: bool = False
    capabilities: frozenset[str] | None = None
    spec_min: Version | None = None
    spec_max: Version | None = None
    discovery: tuple[DiscoveryFilter, ...] = ()
    internal: bool = False

    @property
    def legacy(self) -> bool:
        """``experimental=true``: the reference's legacy pipeline (``Filter.legacyApply``)."""
        return self.experimental

    def spec_bounds_text(self) -> str:
        return f"{_version_text(self.spec_min)}-{_version_text(self.spec_max)}"

    def _filter_key(self) -> tuple[Any, ...]:
        kibana = _version_text(self.kibana_version) if self.kibana_version else None
        if self.legacy:
            # The legacy pipeline ignores everything but kibana.version (and names/types).
            return ("legacy", kibana, self.internal)
        return (
            "standard",
            kibana,
            _version_text(self.agent_version) if self.agent_version else None,
            self.prerelease,
            None if self.capabilities is None else tuple(sorted(self.capabilities)),
            _version_text(self.spec_min) if self.spec_min else None,
            _version_text(self.spec_max) if self.spec_max else None,
            tuple(sorted({(d.kind, tuple(sorted(d.names))) for d in self.discovery})),
            self.internal,
        )


@dataclass(frozen=True, slots=True)
class SearchQuery(Filters):
    """Everything ``/search`` accepts (``newSearchFilterFromQuery``), already validated."""

    category: str | None = None
    package: str | None = None
    type: str | None = None
    all: bool = False

    def cache_key(self) -> tuple[Any, ...]:
        """Equal for queries that must give the same answer, whatever their spelling."""
        return ("search", self._filter_key(), self.category, self.package, self.type, self.all)


@dataclass(frozen=True, slots=True)
class CategoriesQuery(Filters):
    """Everything ``/categories`` accepts (``newCategoriesFilterFromQuery``), validated."""

    include_policy_templates: bool = False

    def cache_key(self) -> tuple[Any, ...]:
        return ("categories", self._filter_key(), self.include_policy_templates)


# --------------------------------------------------------------------------------------
# Parsing


def _parse_version(value: str, what: str) -> Version:
    try:
        return Version.parse_loose(value, remember=False)
    except VersionError as exc:
        raise InvalidQuery(f"invalid {what} version '{value}': {exc}") from None


def _parse_spec(value: str, param: str) -> Version:
    if len(value.split(".")) != 2:
        raise InvalidQuery(
            f"invalid '{param}' version: invalid version '{value}': it should be <major.version>"
        )
    try:
        return Version.parse_loose(value, remember=False)
    except VersionError as exc:
        raise InvalidQuery(
            f"invalid '{param}' version: invalid spec version '{value}': {exc}"
        ) from None


def _parse_flag(value: str, param: str) -> bool:
    parsed = parse_bool(value)
    if parsed is None:
        raise InvalidQuery(f"invalid '{param}' query param: '{value}'")
    return parsed


def _parse_discovery(values: list[str]) -> tuple[DiscoveryFilter, ...]:
    filters = []
    for value in values:  # every value counts, empty ones included
        kind, sep, args = value.partition(":")
        if not sep:
            detail = f"could not parse filter {go_quote(value)}"
        elif kind not in ("fields", "datasets"):
            detail = f"unknown discovery filter {go_quote(kind)}"
        else:
            filters.append(DiscoveryFilter(kind, frozenset(args.split(","))))
            continue
        raise InvalidQuery(f"invalid 'discovery' query param: '{value}': {detail}")
    return tuple(filters)


_SHARED = frozenset(
    {
        "kibana.version",
        "agent.version",
        "prerelease",
        "experimental",
        "capabilities",
        "spec.min",
        "spec.max",
        "discovery",
    }
)
_SEARCH_ONLY = frozenset({"category", "package", "type", "all", "internal"})
_CATEGORIES_ONLY = frozenset({"include_policy_templates"})


def _parse_filters(
    params: Mapping[str, list[str]], known: frozenset[str], allow_unknown: bool
) -> dict[str, Any]:
    """Validate every parameter, in order of first appearance, into constructor arguments."""
    out: dict[str, Any] = {}
    for key, values in params.items():
        if key not in known:
            if not allow_unknown:
                raise InvalidQuery(f"unknown query parameter: {go_quote(key)}")
            continue
        if key == "discovery":
            discovery = _parse_discovery(values)
            if discovery:
                out["discovery"] = discovery
            continue
        value = values[0] if values else ""
        if key == "internal":
            # Never validated by the reference; our extension only honours a true value.
            out["internal"] = parse_bool(value) is True
            continue
        if value == "":
            continue  # an empty first value means "not set"
        match key:
            case "kibana.version":
                out["kibana_version"] = _parse_version(value, "Kibana")
            case "agent.version":
                out["agent_version"] = _parse_version(value, "agent")
            case "spec.min":
                out["spec_min"] = _parse_spec(value, "spec.min")
            case "spec.max":
                out["spec_max"] = _parse_spec(value, "spec.max")
            case "capabilities":
                out["capabilities"] = frozenset(value.split(","))
            case "prerelease" | "experimental" | "all":
                out[key] = _parse_flag(value, key)
            case "category" | "package" | "type":
                out[key] = value
            case "include_policy_templates":
                pass  # validated last: a filter error takes precedence over this one
    return out


def _params(raw_query: str | bytes | Mapping[str, list[str]]) -> Mapping[str, list[str]]:
    if isinstance(raw_query, (str, bytes)):
        return parse_query_string(raw_query)
    return raw_query


def parse_search_query(
    raw_query: str | bytes | Mapping[str, list[str]], allow_unknown: bool = True
) -> SearchQuery:
    """Build a ``SearchQuery`` from a raw query string (or already parsed values).

    Raises ``InvalidQuery`` with the reference's 400 text.
    """
    params = _params(raw_query)
    return SearchQuery(**_parse_filters(params, _SHARED | _SEARCH_ONLY, allow_unknown))


def parse_categories_query(
    raw_query: str | bytes | Mapping[str, list[str]], allow_unknown: bool = True
) -> CategoriesQuery:
    """Build a ``CategoriesQuery``; ``all``, ``package``, ``type``, ``category`` and
    ``internal`` are unknown parameters here, as in the reference.

    Raises ``InvalidQuery`` with the reference's 400 text.
    """
    params = _params(raw_query)
    args = _parse_filters(params, _SHARED | _CATEGORIES_ONLY, allow_unknown)
    values = params.get("include_policy_templates")
    if values and values[0] != "":
        parsed = parse_bool(values[0])
        if parsed is None:
            raise InvalidQuery(f"invalid 'include_policy_templates' query param: '{values[0]}'")
        args["include_policy_templates"] = parsed
    return CategoriesQuery(**args)
