"""The table of every command-line flag: name, kind, default, ``EPR_`` variable, help, group.

Parsing, the ``-h`` usage text and the flag table in ``docs/configuration.md`` are all derived
from :data:`FLAGS`, so a flag is described exactly once.

How to add a flag:

1. Append a :class:`Flag` to :data:`FLAGS`, inside its group (the order is the order of the
   usage text and of the documentation).
2. Add the attribute (flag name with ``-`` replaced by ``_``) to
   :class:`package_registry.config.settings.Settings`, defaulting to ``_flag_default(name)``.
3. If it needs checks beyond parsing its value, add them to ``_validate_flags`` in
   ``settings.py``, with a test row per error text in ``tests/config/test_settings.py``.
4. Regenerate the documentation table and paste it between the ``flags:begin``/``flags:end``
   markers of ``docs/configuration.md`` (``tests/config/test_docs.py`` fails until you do)::

       python -c "from package_registry.config.flags import markdown_table as t; print(t())"
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from package_registry.config.cpus import available_cpus
from package_registry.config.goflags import (
    GoValueError,
    format_duration,
    go_quote,
    parse_bool,
    parse_duration,
    parse_int,
)

TLS_VERSIONS = ("1.1", "1.2", "1.3")
LOG_LEVELS = ("debug", "info", "warn", "error", "dpanic", "panic", "fatal")
LOG_TYPES = ("ecs", "dev")


class Kind(StrEnum):
    """How a flag's value is written; each kind has one parser."""

    BOOL = "bool"
    STRING = "string"
    URL = "url"
    INT = "int"
    DURATION = "duration"
    TLS_VERSION = "tls-version"
    LOG_LEVEL = "log-level"


class Group(StrEnum):
    """Sections of the usage text and of the documentation, in display order."""

    SERVER = "Server"
    LOGGING = "Logging"
    PACKAGES = "Packages"
    STORAGE = "Storage"
    PROXY = "Proxy"
    OUTGOING = "Outgoing calls"
    FEATURES = "Features"
    OBSERVABILITY = "Observability"
    PUBLISH = "Publishing"


#: CPUs to size worker pools by: the affinity mask lowered by a cgroup CPU limit.
CPUS = available_cpus()


def _parse_tls_version(text: str) -> str:
    if text not in TLS_VERSIONS:
        raise GoValueError(f"unsupported TLS version: {text}")
    return text


def _parse_log_level(text: str) -> str:
    level = text.lower() or "info"
    if level not in LOG_LEVELS:
        raise GoValueError(f"unrecognized level: {go_quote(text)}")
    return level


_PARSERS: dict[Kind, Callable[[str], object]] = {
    Kind.BOOL: parse_bool,
    Kind.STRING: str,
    Kind.URL: str,
    Kind.INT: parse_int,
    Kind.DURATION: parse_duration,
    Kind.TLS_VERSION: _parse_tls_version,
    Kind.LOG_LEVEL: _parse_log_level,
}


@dataclass(frozen=True)
class Flag:
    """One command-line flag, also settable through its ``EPR_`` environment variable."""

    name: str
    kind: Kind
    default: object
    group: Group
    help: str
    #: How the documentation shows a default that depends on the machine.
    default_doc: str | None = None

    @property
    def env(self) -> str:
        """``EPR_`` + the name in upper case with ``-`` replaced by ``_``."""
        return "EPR_" + self.name.upper().replace("-", "_")

    @property
    def attr(self) -> str:
        """The :class:`~package_registry.config.settings.Settings` attribute."""
        return self.name.replace("-", "_")

    @property
    def is_bool(self) -> bool:
        return self.kind is Kind.BOOL

    def parse(self, text: str) -> object:
        """Convert one value; raises :class:`GoValueError`."""
        return _PARSERS[self.kind](text)

    def default_text(self) -> str:
        """The default as the documentation and the usage text show it."""
        if self.default_doc is not None:
            return self.default_doc
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if self.kind is Kind.DURATION:
            assert isinstance(self.default, float)
            return format_duration(self.default)
        if isinstance(self.default, str):
            return go_quote(self.default) if self.default == "" else self.default
        return str(self.default)


_S, _L, _P = Group.SERVER, Group.LOGGING, Group.PACKAGES
_ST, _PR, _F, _O = Group.STORAGE, Group.PROXY, Group.FEATURES, Group.OBSERVABILITY
_OUT, _PUB = Group.OUTGOING, Group.PUBLISH

FLAGS: tuple[Flag, ...] = (
    Flag("version", Kind.BOOL, False, _S, "Print the version and exit."),
    Flag("address", Kind.STRING, "localhost:8080", _S, "host:port the HTTP server listens on."),
    Flag("config", Kind.STRING, "config.yml", _S, "Path of the configuration file."),
    Flag("tls-cert", Kind.STRING, "", _S, "TLS certificate file; TLS needs both cert and key."),
    Flag("tls-key", Kind.STRING, "", _S, "TLS private key file; TLS needs both cert and key."),
    Flag(
        "tls-min-version",
        Kind.TLS_VERSION,
        None,
        _S,
        "Minimum TLS version: 1.1, 1.2 or 1.3 (requires -tls-cert and -tls-key).",
        default_doc="unset",
    ),
    Flag("dry-run", Kind.BOOL, False, _S, "Load every package, then exit without serving."),
    Flag(
        "static-path",
        Kind.STRING,
        "",
        _S,
        "Folder written by `package-registry build --format static`: the routes without "
        "query parameters are served from its files, the rest from the loaded packages.",
    ),
    Flag(
        "health-check",
        Kind.BOOL,
        False,
        _S,
        "GET /health of the registry at -address, then exit 0 if it answered 200, else 1 "
        "(container health checks).",
    ),
    Flag(
        "allow-unknown-query-parameters",
        Kind.BOOL,
        True,
        _S,
        "Accept unknown query parameters; false answers 400 to /search and /categories.",
    ),
    Flag(
        "workers",
        Kind.INT,
        CPUS.count,
        _S,
        "Number of HTTP worker processes (greater than 0).",
        default_doc="number of CPUs (cgroup CPU limit aware)",
    ),
    Flag(
        "read-header-timeout",
        Kind.DURATION,
        60.0,
        _S,
        "Time a client has to send a request's headers (from its first byte, or from "
        "connecting); 0 disables it.",
    ),
    Flag(
        "idle-timeout",
        Kind.DURATION,
        75.0,
        _S,
        "Time a keep-alive connection may stay idle between requests; 0 disables it.",
    ),
    Flag(
        "max-connections",
        Kind.INT,
        4096,
        _S,
        "Open client connections per worker (greater than 0; at most half the open file "
        "limit). Beyond it the longest idle connection is closed, or 503 when none is idle.",
    ),
    Flag(
        "shutdown-timeout",
        Kind.DURATION,
        30.0,
        _S,
        "Time given to in-flight requests after SIGTERM/SIGINT (and to a retiring worker "
        "after a reload) before their connections are dropped.",
    ),
    Flag(
        "cache-max-bytes",
        Kind.INT,
        64 * 1024 * 1024,
        _S,
        "Bytes each worker may keep in caches filled by requests (answers, replays, small "
        "files, parsed queries); 0 caches nothing.",
    ),
    Flag(
        "browse",
        Kind.BOOL,
        True,
        _S,
        "Serve the HTML pages for people under /browse/ (package list, package pages, "
        "categories); false answers 404 there.",
    ),
    Flag(
        "log-level", Kind.LOG_LEVEL, "info", _L, "debug, info, warn, error, dpanic, panic or fatal."
    ),
    Flag("log-type", Kind.STRING, "ecs", _L, "ecs (JSON lines) or dev (console)."),
    Flag(
        "disable-package-validation",
        Kind.BOOL,
        False,
        _P,
        "Skip the content checks of local packages.",
    ),
    Flag(
        "require-package-signatures",
        Kind.BOOL,
        True,
        _P,
        "Refuse local packages that have no signature file.",
    ),
    Flag(
        "strict-package-loading",
        Kind.BOOL,
        False,
        _P,
        "Abort start-up on the first invalid package instead of skipping it.",
    ),
    Flag(
        "package-paths-enable-watcher",
        Kind.BOOL,
        False,
        _P,
        "Re-scan package paths when files are added, changed or removed.",
    ),
    Flag(
        "package-paths-workers",
        Kind.INT,
        CPUS.count,
        _P,
        "Number of packages read concurrently (greater than 0).",
        default_doc="number of CPUs (cgroup CPU limit aware)",
    ),
    Flag(
        "catalog-path",
        Kind.STRING,
        "",
        _P,
        "Folder of the persistent catalog: loaded packages are kept there so that a restart"
        " or reload parses only new and changed packages (also `catalog_path` in config.yml)."
        " `:memory:` keeps the catalog in memory only.",
        default_doc="`$XDG_CACHE_HOME/package-registry`, else `~/.cache/package-registry`",
    ),
    Flag(
        "package-max-manifest-size",
        Kind.INT,
        1 << 20,
        _P,
        "Largest manifest.yml (of a package or a data stream) loaded, in bytes; a package"
        " with a larger one is skipped.",
    ),
    Flag(
        "package-max-yaml-size",
        Kind.INT,
        8 << 20,
        _P,
        "Largest other YAML or JSON file parsed while loading a package (fields, ingest"
        " pipelines), in bytes; a package with a larger one is skipped.",
    ),
    Flag(
        "package-max-zip-member-size",
        Kind.INT,
        256 << 20,
        _P,
        "Largest uncompressed file in a zip package, in bytes; a zip with a larger one is skipped.",
    ),
    Flag(
        "package-max-zip-ratio",
        Kind.INT,
        200,
        _P,
        "Largest compression ratio of a file of 1 MiB or more in a zip package; a zip with"
        " one that inflates more is skipped.",
    ),
    Flag(
        "storage-indexer-bucket-internal",
        Kind.STRING,
        "",
        _ST,
        "Bucket holding the storage index: gs://bucket[/root], s3://bucket[/root] or "
        "file:///folder.",
    ),
    Flag(
        "storage-endpoint",
        Kind.URL,
        "https://package-storage.elastic.co/",
        _ST,
        "Public base URL of package artifacts, signatures and static files "
        "(file:///folder: served from that folder).",
    ),
    Flag(
        "storage-indexer-watch-interval",
        Kind.DURATION,
        60.0,
        _ST,
        "How often the storage index is polled; 0 polls only at start-up.",
    ),
    Flag("proxy-to", Kind.URL, "https://epr.elastic.co/", _PR, "Upstream registry of proxy mode."),
    Flag(
        "proxy-allow-insecure",
        Kind.BOOL,
        False,
        _PR,
        "Allow a -proxy-to URL that is not https.",
    ),
    Flag(
        "outgoing-connect-timeout",
        Kind.DURATION,
        5.0,
        _OUT,
        "Longest wait to connect to the storage endpoint, bucket or proxy upstream.",
    ),
    Flag(
        "outgoing-read-timeout",
        Kind.DURATION,
        30.0,
        _OUT,
        "Longest wait for the next bytes of an upstream answer (bounds relayed downloads).",
    ),
    Flag(
        "outgoing-total-timeout",
        Kind.DURATION,
        60.0,
        _OUT,
        "Longest a bucket read or proxy request may take, retries included.",
    ),
    Flag(
        "feature-storage-indexer",
        Kind.BOOL,
        False,
        _F,
        "Serve packages from a Package Storage v2 bucket, held in memory.",
    ),
    Flag(
        "feature-sql-storage-indexer",
        Kind.BOOL,
        False,
        _F,
        "Serve packages from a Package Storage v2 bucket, its index kept in a SQLite file"
        " of sql_indexer.database_folder_path (documents read when answers are rendered).",
    ),
    Flag(
        "feature-incremental-updates",
        Kind.BOOL,
        False,
        _F,
        "Apply index delta files instead of full reloads (storage indexer only).",
    ),
    Flag(
        "feature-enable-search-cache",
        Kind.BOOL,
        False,
        _F,
        "Bound /search answers kept per catalog by search.cache_size and search.cache_ttl"
        " (SQL storage indexer only).",
    ),
    Flag(
        "feature-enable-categories-cache",
        Kind.BOOL,
        False,
        _F,
        "Bound /categories answers kept per catalog by categories.cache_size and"
        " categories.cache_ttl (SQL storage indexer only).",
    ),
    Flag(
        "feature-proxy-mode",
        Kind.BOOL,
        False,
        _F,
        "Merge in packages of the -proxy-to registry (technical preview).",
    ),
    Flag(
        "metrics-address",
        Kind.STRING,
        "",
        _O,
        "host:port of the Prometheus /metrics listener; empty disables it.",
    ),
    Flag(
        "httpprof",
        Kind.STRING,
        "",
        _O,
        "Address of the profile listener: py-spy CPU profiles and stack dumps under "
        "/debug/pprof/ (see the README).",
    ),
    Flag(
        "publish-tokens-file",
        Kind.STRING,
        "",
        _PUB,
        "File of the bearer tokens allowed to publish and delete packages (one a line, "
        "see docs/publish.md); with -publish-path it enables POST /api/v1/packages.",
    ),
    Flag(
        "publish-path",
        Kind.STRING,
        "",
        _PUB,
        "Package path (one of config.yml's package_paths) that published packages are "
        "stored in, as <name>-<version>.zip beside their .sig.",
    ),
    Flag(
        "publish-max-size",
        Kind.INT,
        200 << 20,
        _PUB,
        "Largest upload accepted, in bytes (the whole request body); larger ones get 413.",
    ),
    Flag(
        "publish-verification-key",
        Kind.STRING,
        "",
        _PUB,
        "Armored OpenPGP public key that uploaded signatures must verify against (gpgv); "
        "empty: a signature is stored as it comes.",
    ),
    Flag(
        "publish-rate-limit",
        Kind.INT,
        60,
        _PUB,
        "Publish and delete requests allowed per token and minute, in each worker process; "
        "beyond it 429. 0 disables the limit.",
    ),
)

FLAGS_BY_NAME: dict[str, Flag] = {flag.name: flag for flag in FLAGS}


def usage_text(program: str = "package-registry") -> str:
    """The text printed for ``-h``: every flag with its kind, default and variable."""
    lines = [
        f"Usage: {program} [flags]",
        f"       {program} build --format FORMAT --output DIR [PATH ...]  (see build -h)",
        "",
        "Flags are written -name=value, -name value or --name=value; booleans also as -name.",
        "Each flag can be set by its EPR_* environment variable; the command line wins.",
    ]
    for group in Group:
        lines += ["", f"{group.value}:"]
        for flag in FLAGS:
            if flag.group is group:
                kind = "" if flag.is_bool else f" {flag.kind.value}"
                lines.append(f"  -{flag.name}{kind}")
                lines.append(f"        {flag.help}")
                lines.append(f"        default {flag.default_text()}, env {flag.env}")
    return "\n".join(lines) + "\n"


def markdown_table() -> str:
    """The flag reference of ``docs/configuration.md``, one table per group."""
    lines: list[str] = []
    for group in Group:
        lines += [
            f"### {group.value}",
            "",
            "| Flag | Kind | Default | Environment variable | Meaning |",
            "| --- | --- | --- | --- | --- |",
        ]
        for flag in FLAGS:
            if flag.group is group:
                default = flag.default_text()
                if flag.default_doc is None:
                    default = f"`{default}`"
                cells = (f"`-{flag.name}`", flag.kind.value, default, f"`{flag.env}`", flag.help)
                lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
