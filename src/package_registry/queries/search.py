"""``/search``: the reference's filter pipelines run over a prepared catalog.

The reference filters each indexer's list on its own (``Filter.Apply``, or
``Filter.legacyApply`` for ``experimental=true``, in packages/packages.go), applies the
category filter to each indexer's latest versions, then merges the indexers
(``CombinedIndexer.Get`` in indexer.go: newest semver per name, the earlier indexer winning
a tie) and sorts the result by name, then version. This module
reproduces that order exactly, but walks per-name version lists newest first and
evaluates each distinct filter signature once, so a query costs little more than the
number of package names.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from package_registry.catalog.snapshot import Catalog, Entry, Signature, entry_fragments
from package_registry.heap import trim_heap
from package_registry.packages.versions import Constraint, Version
from package_registry.queries.params import Filters, SearchQuery

__all__ = [
    "QueryFailed",
    "Selector",
    "latest_entries",
    "render_search",
    "search",
    "search_entries",
]


class QueryFailed(Exception):
    """The reference's indexer error for a query (answered 404).

    The message is the raw error: ``/search`` prefixes it with ``fetching package failed: ``,
    ``/categories`` writes it as is.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_UNKNOWN, _PASS, _FAIL = 0, 1, 2


class Selector:
    """Per-query filter state: evaluates each catalog signature at most once."""

    __slots__ = ("_constraint_memo", "_filters", "_legacy", "_type", "catalog", "memo")

    def __init__(self, catalog: Catalog, filters: Filters, package_type: str | None) -> None:
        self.catalog = catalog
        self._filters = filters
        self._legacy = filters.legacy
        self._type = package_type
        self.memo = bytearray(len(catalog.signatures))
        self._constraint_memo: dict[int, bool] = {}

    def passes(self, sig: int) -> bool:
        state = self.memo[sig]
        if state == _UNKNOWN:
            state = self._resolve(sig)
        return state == _PASS

    def _resolve(self, sig: int) -> int:
        """Evaluate a signature not seen yet in this query and remember the outcome."""
        state = _PASS if self._evaluate(self.catalog.signatures[sig], True) else _FAIL
        self.memo[sig] = state
        return state

    def _accepts(self, constraint: Constraint, version: Version) -> bool:
        key = id(constraint)
        known = self._constraint_memo.get(key)
        if known is None:
            known = constraint.check(version)
            self._constraint_memo[key] = known
        return known

    def _evaluate(self, sig: Signature, check_spec: bool) -> bool:
        f = self._filters
        if sig.internal and not f.internal:
            return False
        if self._type is not None and sig.type != self._type:
            return False
        kibana = f.kibana_version
        if kibana is not None and sig.kibana is not None and not self._accepts(sig.kibana, kibana):
            return False
        if self._legacy:
            return True
        if not f.prerelease and (sig.experimental or sig.prerelease):
            return False
        agent = f.agent_version
        if agent is not None and sig.agent is not None and not self._accepts(sig.agent, agent):
            return False
        caps = f.capabilities
        if (
            caps is not None
            and sig.capabilities is not None
            and not all(c in caps for c in sig.capabilities)
        ):
            return False
        if f.discovery and not all(
            d.matches(sig.discovery_fields, sig.discovery_datasets) for d in f.discovery
        ):
            return False
        if check_spec and (f.spec_min is not None or f.spec_max is not None):
            spec = sig.spec
            if spec is None:
                return False  # unreachable: check_unspecified raised first
            if f.spec_min is not None and spec < f.spec_min:
                return False
            if f.spec_max is not None and spec > f.spec_max:
                return False
        return True

    def check_unspecified(self, package_name: str | None) -> None:
        """Fail as the reference does when a package without spec version meets spec bounds.

        The reference stops at the first package, in source and discovery order, that
        passes every other filter; its name is in the message.
        """
        f = self._filters
        if self._legacy or (f.spec_min is None and f.spec_max is None):
            return
        for entries in self.catalog.unspecified:
            for entry in entries:
                if package_name is not None and entry.name != package_name:
                    continue
                if self._evaluate(self.catalog.signatures[entry.sig], False):
                    raise QueryFailed(
                        f"can't compare spec version for {entry.name} "
                        f"({f.spec_bounds_text()}): package spec version is not set"
                    )

    def latest(self, source: int, name: str) -> Entry | None:
        """The version of ``name`` one source keeps when only the latest is wanted."""
        candidates = self.catalog.firsts(source, name)
        if not self._legacy:
            # The hot loop of every query: the memo is read inline, and a signature is
            # evaluated only the first time this query meets it.
            memo = self.memo
            for entry in candidates:
                state = memo[entry.sig] or self._resolve(entry.sig)
                if state == _PASS:
                    return entry
            return None
        # Legacy: a release always beats a prerelease; otherwise the newest wins.
        fallback = None
        for entry in candidates:
            if self.passes(entry.sig):
                if not entry.package.semver.prerelease:
                    return entry
                if fallback is None:
                    fallback = entry
        return fallback

    def has_stable(self, source: int, name: str) -> bool:
        """Legacy ``all=true``: does a source keep a version that is neither a
        prerelease nor 0.x (then its prereleases and 0.x versions are dropped)?"""
        signatures = self.catalog.signatures
        for entry in self.catalog.firsts(source, name):
            sig = signatures[entry.sig]
            if not sig.prerelease and not sig.tech_preview and self.passes(entry.sig):
                return True
        return False


def _in_category(entry: Entry, category: str | None) -> bool:
    """The category filter (``filterCategories``): the package or one of its policy templates
    has it."""
    return category is None or category in entry.categories or category in entry.template_categories


def _candidate_names(catalog: Catalog, query: SearchQuery) -> Iterable[str]:
    names: Iterable[str] = catalog.names
    if query.package is not None:
        names = (query.package,) if catalog.has_name(query.package) else ()
    restrict = []
    if query.type is not None:
        restrict.append(catalog.by_type.get(query.type, frozenset()))
    if query.category is not None:
        restrict.append(catalog.by_category.get(query.category, frozenset()))
    if restrict:
        smallest = min(restrict, key=len)
        names = [n for n in names if n in smallest and all(n in r for r in restrict)]
    return names


def latest_entries(selector: Selector, names: Iterable[str], category: str | None) -> list[Entry]:
    """The newest version of each name after the per-source pipeline and the merge.

    Each source picks its latest version and applies the category filter to it (no
    fall-back to older versions); the merge then keeps the newest survivor, the earlier
    source winning a tie (``CombinedIndexer.Get`` over each indexer's ``Filter.Apply``).
    """
    sources = range(selector.catalog.source_count)
    chosen: list[Entry] = []
    for name in names:
        best: Entry | None = None
        for source in sources:
            entry = selector.latest(source, name)
            if entry is None or not _in_category(entry, category):
                continue
            if best is None or entry.package.semver > best.package.semver:
                best = entry
        if best is not None:
            chosen.append(best)
    return chosen


def search_entries(catalog: Catalog, query: SearchQuery) -> list[Entry]:
    """The packages the reference's combined indexer returns, in /search output order.

    Raises ``QueryFailed`` when spec bounds meet a package without spec version. Only
    existing objects are collected, so a large answer allocates almost nothing.
    """
    selector = Selector(catalog, query, query.type)
    selector.check_unspecified(query.package)
    category = query.category
    if not query.all:
        return latest_entries(selector, _candidate_names(catalog, query), category)

    chosen: list[Entry] = []
    sources = range(catalog.source_count)
    legacy = query.legacy
    passes = selector.passes
    for name in _candidate_names(catalog, query):
        stable = [selector.has_stable(s, name) for s in sources] if legacy else None
        for group in catalog.groups(name):
            for entry in group:  # source order: the first one kept wins
                if not passes(entry.sig):
                    continue
                if (
                    stable is not None
                    and stable[entry.source]
                    and (entry.package.semver.prerelease or entry.package.semver.major == 0)
                ):
                    continue
                if _in_category(entry, category):
                    chosen.append(entry)
                    break
    return chosen


#: Answers from this size up give freed memory back once written (an ``all=true``
#: listing of tens of thousands of versions reads as many items).
_TRIM_AFTER = 4 << 20


def render_search(fragments: list[bytes]) -> bytes:
    """The /search body: a JSON array of pre-rendered items; ``[]`` (no newline) if empty."""
    if not fragments:
        return b"[]"
    return b"[\n" + b",\n".join(fragments) + b"\n]\n"


def render_entries(entries: Sequence[Entry], category: str | None) -> bytes:
    """The /search answer of the selected ``entries`` for a query's ``category``.

    The items are written one by one into the answer: a large answer (``all=true`` over
    tens of thousands of versions) never also exists as a list of its items.
    """
    if not entries:
        return b"[]"
    out = io.BytesIO()
    out.write(b"[\n")
    separator = b""
    for fragment in entry_fragments(entries, category):
        out.write(separator)
        out.write(fragment)
        separator = b",\n"
    out.write(b"\n]\n")
    body = out.getvalue()
    if len(body) >= _TRIM_AFTER:
        del out
        trim_heap()  # the items read on the way are free now
    return body


def search(catalog: Catalog, query: SearchQuery) -> bytes:
    """The /search answer for ``query``, byte for byte as the reference writes it."""
    return render_entries(search_entries(catalog, query), query.category)
