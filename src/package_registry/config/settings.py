"""Build the immutable :class:`Settings` from defaults, ``config.yml``, ``EPR_*`` and flags.

Precedence and error texts follow the reference server's main.go (its flags, ``EPR_*``
variables and ``getConfig``) so that existing deployments keep working; every problem is
reported as one :class:`ConfigError` line instead of a Go ``log.Fatal``, and the CLI
decides how to print it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from package_registry.config.flags import FLAGS, FLAGS_BY_NAME, LOG_TYPES, usage_text
from package_registry.config.goflags import (
    FlagSyntaxError,
    GoValueError,
    HelpRequested,
    format_duration,
    go_quote,
    parse_command_line,
    parse_decimal_int,
    parse_duration,
)
from package_registry.config.outgoing import OutgoingTimeouts

EMULATOR_BUCKET = "gs://fake-package-storage-internal"
STORAGE_BUCKET_SCHEMES = ("gs://", "s3://", "file://")

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ConfigError(Exception):
    """Start-up configuration that cannot be used; ``message`` is one line.

    ``usage`` is set for command-line syntax errors, which the reference answers with the
    usage text and exit status 2 (other configuration errors exit with status 1).
    """

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


class UsageRequested(Exception):
    """``-h``/``-help``/``--help`` was given; ``text`` is the usage text to print."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


ConfigKind = Literal["paths", "duration", "string", "int"]


@dataclass(frozen=True)
class ConfigKey:
    """One ``config.yml`` key, optionally overridden by an ``EPR_SQL_INDEXER_*`` variable."""

    key: str
    kind: ConfigKind
    default: object
    env: str | None = None
    #: The flag this key gives a value to when the flag (or its variable) is not set;
    #: the key's own value is then kept as ``config_<flag>``.
    flag: str | None = None

    @property
    def attr(self) -> str:
        if self.flag is not None:
            return "config_" + self.flag.replace("-", "_")
        return self.key.replace(".", "_")


CONFIG_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("package_paths", "paths", ()),
    ConfigKey("catalog_path", "string", "", flag="catalog-path"),
    ConfigKey("publish_tokens_file", "string", "", flag="publish-tokens-file"),
    ConfigKey("publish_path", "string", "", flag="publish-path"),
    ConfigKey("publish_verification_key", "string", "", flag="publish-verification-key"),
    ConfigKey("cache_time.index", "duration", 10.0),
    ConfigKey("cache_time.search", "duration", 600.0),
    ConfigKey("cache_time.categories", "duration", 600.0),
    ConfigKey("cache_time.catch_all", "duration", 600.0),
    ConfigKey(
        "sql_indexer.database_folder_path",
        "string",
        "/tmp/",
        "EPR_SQL_INDEXER_DATABASE_FOLDER_PATH",
    ),
    ConfigKey("search.cache_size", "int", 250, "EPR_SQL_INDEXER_SEARCH_CACHE_SIZE"),
    ConfigKey("search.cache_ttl", "duration", 86400.0, "EPR_SQL_INDEXER_SEARCH_CACHE_TTL"),
    ConfigKey("categories.cache_size", "int", 100, "EPR_SQL_INDEXER_CATEGORIES_CACHE_SIZE"),
    ConfigKey("categories.cache_ttl", "duration", 86400.0, "EPR_SQL_INDEXER_CATEGORIES_CACHE_TTL"),
)
_CONFIG_BY_KEY = {key.key: key for key in CONFIG_KEYS}

# Variables read only when the SQL storage indexer is enabled.
_SQL_BATCH_VARIABLES = {
    "sql_indexer_read_packages_batch_size": "EPR_SQL_INDEXER_READ_PACKAGES_BATCH_SIZE",
    "sql_indexer_db_insert_batch_size": "EPR_SQL_INDEXER_DB_INSERT_BATCH_SIZE",
}

# Router handlers in creation order with the cache time each uses; the first one whose cache
# time is not positive names the start-up error, as in the reference.
_HANDLER_CACHE_TIMES = (
    ("artifacts", "cache_time_catch_all"),
    ("signatures", "cache_time_catch_all"),
    ("favicon", "cache_time_catch_all"),
    ("index", "cache_time_index"),
    ("categories", "cache_time_categories"),
    ("package index", "cache_time_index"),
    ("search", "cache_time_search"),
    ("static", "cache_time_catch_all"),
)


def _flag_default(name: str) -> Any:
    return FLAGS_BY_NAME[name].default


def _config_default(key: str) -> Any:
    return _CONFIG_BY_KEY[key].default


@dataclass(frozen=True)
class Settings:
    """Everything the server is configured with; ``Settings()`` holds the defaults.

    Flag attributes are the flag names with ``-`` replaced by ``_``; ``config.yml`` attributes
    are the keys with ``.`` replaced by ``_``. Durations are seconds.
    """

    # Server
    version: bool = _flag_default("version")
    address: str = _flag_default("address")
    config: str = _flag_default("config")
    tls_cert: str = _flag_default("tls-cert")
    tls_key: str = _flag_default("tls-key")
    tls_min_version: str | None = _flag_default("tls-min-version")
    dry_run: bool = _flag_default("dry-run")
    static_path: str = _flag_default("static-path")
    health_check: bool = _flag_default("health-check")
    allow_unknown_query_parameters: bool = _flag_default("allow-unknown-query-parameters")
    workers: int = _flag_default("workers")
    read_header_timeout: float = _flag_default("read-header-timeout")
    idle_timeout: float = _flag_default("idle-timeout")
    max_connections: int = _flag_default("max-connections")
    shutdown_timeout: float = _flag_default("shutdown-timeout")
    cache_max_bytes: int = _flag_default("cache-max-bytes")
    browse: bool = _flag_default("browse")
    # Logging
    log_level: str = _flag_default("log-level")
    log_type: str = _flag_default("log-type")
    # Packages
    disable_package_validation: bool = _flag_default("disable-package-validation")
    require_package_signatures: bool = _flag_default("require-package-signatures")
    strict_package_loading: bool = _flag_default("strict-package-loading")
    package_paths_enable_watcher: bool = _flag_default("package-paths-enable-watcher")
    package_paths_workers: int = _flag_default("package-paths-workers")
    catalog_path: str = _flag_default("catalog-path")
    package_max_manifest_size: int = _flag_default("package-max-manifest-size")
    package_max_yaml_size: int = _flag_default("package-max-yaml-size")
    package_max_zip_member_size: int = _flag_default("package-max-zip-member-size")
    package_max_zip_ratio: int = _flag_default("package-max-zip-ratio")
    # Storage
    storage_indexer_bucket_internal: str = _flag_default("storage-indexer-bucket-internal")
    storage_endpoint: str = _flag_default("storage-endpoint")
    storage_indexer_watch_interval: float = _flag_default("storage-indexer-watch-interval")
    # Proxy
    proxy_to: str = _flag_default("proxy-to")
    proxy_allow_insecure: bool = _flag_default("proxy-allow-insecure")
    # Outgoing calls
    outgoing_connect_timeout: float = _flag_default("outgoing-connect-timeout")
    outgoing_read_timeout: float = _flag_default("outgoing-read-timeout")
    outgoing_total_timeout: float = _flag_default("outgoing-total-timeout")
    # Features
    feature_storage_indexer: bool = _flag_default("feature-storage-indexer")
    feature_sql_storage_indexer: bool = _flag_default("feature-sql-storage-indexer")
    feature_incremental_updates: bool = _flag_default("feature-incremental-updates")
    feature_enable_search_cache: bool = _flag_default("feature-enable-search-cache")
    feature_enable_categories_cache: bool = _flag_default("feature-enable-categories-cache")
    feature_proxy_mode: bool = _flag_default("feature-proxy-mode")
    # Observability
    metrics_address: str = _flag_default("metrics-address")
    httpprof: str = _flag_default("httpprof")
    # Publishing
    publish_tokens_file: str = _flag_default("publish-tokens-file")
    publish_path: str = _flag_default("publish-path")
    publish_max_size: int = _flag_default("publish-max-size")
    publish_verification_key: str = _flag_default("publish-verification-key")
    publish_rate_limit: int = _flag_default("publish-rate-limit")
    # config.yml (and EPR_SQL_INDEXER_* overrides)
    package_paths: tuple[str, ...] = _config_default("package_paths")
    cache_time_index: float = _config_default("cache_time.index")
    cache_time_search: float = _config_default("cache_time.search")
    cache_time_categories: float = _config_default("cache_time.categories")
    cache_time_catch_all: float = _config_default("cache_time.catch_all")
    # config.yml keys standing in for flags that are not set (``ConfigKey.flag``)
    config_catalog_path: str = _config_default("catalog_path")
    config_publish_tokens_file: str = _config_default("publish_tokens_file")
    config_publish_path: str = _config_default("publish_path")
    config_publish_verification_key: str = _config_default("publish_verification_key")
    sql_indexer_database_folder_path: str = _config_default("sql_indexer.database_folder_path")
    search_cache_size: int = _config_default("search.cache_size")
    search_cache_ttl: float = _config_default("search.cache_ttl")
    categories_cache_size: int = _config_default("categories.cache_size")
    categories_cache_ttl: float = _config_default("categories.cache_ttl")
    # Environment only
    sql_indexer_read_packages_batch_size: int = 2000
    sql_indexer_db_insert_batch_size: int = 500
    emulator_index_path: str = ""

    @property
    def outgoing(self) -> OutgoingTimeouts:
        """The ``-outgoing-*-timeout`` flags together, as every outgoing call takes them."""
        return OutgoingTimeouts(
            connect=self.outgoing_connect_timeout,
            read=self.outgoing_read_timeout,
            total=self.outgoing_total_timeout,
        )


def load_settings(argv: Sequence[str], environ: Mapping[str, str]) -> Settings:
    """Read the configuration of one server start.

    ``argv`` excludes the program name. Flags take defaults, then ``EPR_*`` variables, then
    the command line; ``config.yml`` keys take defaults, then the file, then
    ``EPR_SQL_INDEXER_*``. As in the reference, flag combinations are checked before
    ``-version`` is honoured, and with ``-version`` the configuration file is not read.

    Raises :class:`ConfigError` for anything unusable and :class:`UsageRequested` for ``-h``.
    """
    values: dict[str, Any] = {flag.attr: flag.default for flag in FLAGS}
    values.update({key.attr: key.default for key in CONFIG_KEYS})
    _apply_environment(values, environ)
    _apply_command_line(values, argv)
    _validate_flags(values)
    if values["version"]:
        return Settings(**values)
    if values["log_type"] not in LOG_TYPES:
        raise ConfigError(f"invalid logger type {go_quote(values['log_type'])}")
    values.update(_load_config_file(values["config"]))
    _apply_config_environment(values, environ)
    for key in CONFIG_KEYS:
        if key.flag is not None and not values[key.flag.replace("-", "_")]:
            values[key.flag.replace("-", "_")] = values[key.attr]
    _check_cache_times(values)
    _apply_emulator(values, environ)
    _validate_storage(values)
    if values["feature_sql_storage_indexer"]:
        _apply_sql_batch_sizes(values, environ)
    return Settings(**values)


def _apply_environment(values: dict[str, Any], environ: Mapping[str, str]) -> None:
    errors = []
    for flag in FLAGS:
        if flag.env not in environ:
            continue
        text = environ[flag.env]
        try:
            values[flag.attr] = flag.parse(text)
        except GoValueError as error:
            errors.append(f"invalid value {go_quote(text)} for {flag.env}: {error.flag_reason}")
    if errors:
        raise ConfigError("; ".join(errors))


def _apply_command_line(values: dict[str, Any], argv: Sequence[str]) -> None:
    def is_bool(name: str) -> bool | None:
        flag = FLAGS_BY_NAME.get(name)
        return None if flag is None else flag.is_bool

    def set_flag(name: str, text: str) -> None:
        flag = FLAGS_BY_NAME[name]
        values[flag.attr] = flag.parse(text)

    try:
        rest = parse_command_line(argv, is_bool, set_flag)
    except HelpRequested:
        raise UsageRequested(usage_text()) from None
    except FlagSyntaxError as error:
        raise ConfigError(str(error), usage_text()) from None
    if rest:
        raise ConfigError(
            f"unexpected argument {go_quote(rest[0])}: package-registry takes no positional "
            "arguments (settings are flags or config.yml keys; the one subcommand is "
            "`package-registry build`, as the first argument)",
            usage_text(),
        )


def _validate_flags(values: Mapping[str, Any]) -> None:
    """Flag combinations the reference refuses before ``-version``, in its order, then ours."""
    if values["tls_min_version"] is not None and not (values["tls_cert"] and values["tls_key"]):
        raise ConfigError(
            "-tls-min-version set but missing TLS cert and key files (-tls-cert and -tls-key)"
        )
    sql = values["feature_sql_storage_indexer"]
    if values["feature_storage_indexer"] and sql:
        raise ConfigError(
            "both -feature-storage-indexer and -feature-sql-storage-indexer flags are enabled "
            "but are mutually exclusive"
        )
    if values["feature_incremental_updates"] and sql:
        raise ConfigError(
            "feature-incremental-updates is not supported with feature-sql-storage-indexer; "
            "disable one of them"
        )
    if values["feature_enable_search_cache"] and not sql:
        raise ConfigError(
            "search cache is only supported in SQL storage indexer: feature-enable-search-cache "
            "is enabled, but feature-sql-storage-indexer is not enabled"
        )
    if values["feature_enable_categories_cache"] and not sql:
        raise ConfigError(
            "categories cache is just supported with SQL Storage indexer: "
            "feature-enable-categories-cache is enabled, but feature-sql-storage-indexer is not "
            "enabled"
        )
    if values["package_paths_workers"] <= 0:
        raise ConfigError("package-paths-workers must be greater than 0")
    for limit in (
        "package-max-manifest-size",
        "package-max-yaml-size",
        "package-max-zip-member-size",
        "package-max-zip-ratio",
    ):
        if values[limit.replace("-", "_")] <= 0:
            raise ConfigError(f"{limit} must be greater than 0")
    proxy_to = values["proxy_to"]
    if values["feature_proxy_mode"] and proxy_to:
        problem = _go_url_error(proxy_to)
        if problem is not None:
            raise ConfigError(f"invalid -proxy-to URL: {problem}")
        scheme = proxy_to.partition(":")[0].lower() if _has_scheme(proxy_to) else ""
        if scheme != "https" and not values["proxy_allow_insecure"]:
            raise ConfigError(
                f"-proxy-to must use HTTPS (got {go_quote(proxy_to)}); "
                "use -proxy-allow-insecure to allow HTTP"
            )
    if values["workers"] <= 0:
        raise ConfigError("workers must be greater than 0")
    if values["max_connections"] <= 0:
        raise ConfigError("max-connections must be greater than 0")
    for name in ("read-header-timeout", "idle-timeout", "shutdown-timeout"):
        if values[name.replace("-", "_")] < 0:
            raise ConfigError(f"{name} must not be negative")
    for name in ("outgoing-connect-timeout", "outgoing-read-timeout", "outgoing-total-timeout"):
        if values[FLAGS_BY_NAME[name].attr] <= 0:
            raise ConfigError(f"-{name} must be greater than 0s")
    if values["cache_max_bytes"] < 0:
        raise ConfigError("cache-max-bytes must not be negative")
    if values["publish_max_size"] <= 0:
        raise ConfigError("publish-max-size must be greater than 0")
    if values["publish_rate_limit"] < 0:
        raise ConfigError("publish-rate-limit must not be negative")


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _has_scheme(url: str) -> bool:
    return _SCHEME.match(url) is not None


def _go_url_error(url: str) -> str | None:
    """Why Go's ``url.Parse`` would reject ``url`` (its common cases), else ``None``."""
    prefix = f"parse {go_quote(url)}: "
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        return prefix + "net/url: invalid control character in URL"
    bad_escape = re.search(r"%(?![0-9A-Fa-f]{2})", url)
    if bad_escape is not None:
        escape = url[bad_escape.start() : bad_escape.start() + 3]
        return prefix + f"invalid URL escape {go_quote(escape)}"
    if url.startswith(":"):
        return prefix + "missing protocol scheme"
    if not _has_scheme(url):
        first_segment = re.split(r"[/?#]", url, maxsplit=1)[0]
        if ":" in first_segment:
            return prefix + "first path segment in URL cannot contain colon"
        return None
    rest = url.partition(":")[2]
    if not rest.startswith("//"):
        return None
    authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0]
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        if "]" not in host:
            return prefix + "missing ']' in host"
        port = host[host.index("]") + 1 :]
    else:
        port = host[host.rindex(":") :] if ":" in host else ""
    if port and re.fullmatch(r":[0-9]*", port) is None:
        return prefix + f"invalid port {go_quote(port)} after host"
    return None


def _load_config_file(path: str) -> dict[str, Any]:
    """Values of the ``config.yml`` keys present in the file (flat keys win over nested)."""
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except FileNotFoundError:
        raise ConfigError(f"Configuration file is not available: {path}") from None
    except OSError as error:
        raise ConfigError(
            f"reading config failed (path: {path}): {error.strerror or error}"
        ) from None
    try:
        document = yaml.load(raw, Loader=_YAML_LOADER)
    except yaml.YAMLError as error:
        raise ConfigError(f"reading config failed (path: {path}): {_yaml_message(error)}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(
            f"unpacking config failed (path: {path}): the file must be a mapping of keys, "
            f"not {_yaml_kind(document)}"
        )
    values: dict[str, Any] = {}
    for key in CONFIG_KEYS:
        found, raw_value = _lookup(document, key.key)
        if found and raw_value is not None:
            try:
                values[key.attr] = _convert(key, raw_value)
            except ValueError as error:
                raise ConfigError(
                    f"unpacking config failed (path: {path}): {key.key}: {error}"
                ) from None
    return values


def _yaml_message(error: yaml.YAMLError) -> str:
    """A one-line YAML error in the style of Go's yaml package: ``yaml: line 3: ...``."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        return f"yaml: line {error.problem_mark.line + 1}: {error.problem}"
    return "yaml: " + " ".join(str(error).split())


def _yaml_kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    return f"a scalar ({go_quote(str(value))})"


def _lookup(document: Mapping[object, object], key: str) -> tuple[bool, object]:
    """Find a dotted key written flat (``a.b: 1``, as the reference reads it) or nested."""
    if key in document:
        return True, document[key]
    head, dot, tail = key.partition(".")
    nested = document.get(head)
    if dot and isinstance(nested, dict):
        return _lookup(nested, tail)
    return False, None


def _convert(key: ConfigKey, value: object) -> object:
    """Convert one YAML value; raises ``ValueError`` with a message naming the bad value."""
    if key.kind == "paths":
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value)
        raise ValueError(f"expected a list of paths, got {_describe(value)}")
    if key.kind == "duration":
        if isinstance(value, str):
            return parse_duration(value)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise ValueError(
            f'expected a duration such as "10s" or a number of seconds, got {_describe(value)}'
        )
    if key.kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"expected an integer, got {_describe(value)}")
    if isinstance(value, str):
        return value
    raise ValueError(f"expected a string, got {_describe(value)}")


def _describe(value: object) -> str:
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _apply_config_environment(values: dict[str, Any], environ: Mapping[str, str]) -> None:
    for key in CONFIG_KEYS:
        text = environ.get(key.env, "") if key.env is not None else ""
        if not text:  # the reference ignores empty values here
            continue
        try:
            if key.kind == "int":
                values[key.attr] = parse_decimal_int(text)
            elif key.kind == "duration":
                values[key.attr] = parse_duration(text)
            else:
                values[key.attr] = text
        except GoValueError as error:
            raise ConfigError(f"failed to parse {key.env} environment variable: {error}") from None


def _check_cache_times(values: Mapping[str, Any]) -> None:
    for handler, attr in _HANDLER_CACHE_TIMES:
        if values[attr] <= 0:
            raise ConfigError(f"can't create {handler} handler: cache time must be greater than 0s")


def _apply_emulator(values: dict[str, Any], environ: Mapping[str, str]) -> None:
    """``EPR_EMULATOR_INDEX_PATH`` serves one index file through a fake bucket."""
    index_path = environ.get("EPR_EMULATOR_INDEX_PATH", "")
    if not index_path:
        return
    if not values["feature_storage_indexer"] and not values["feature_sql_storage_indexer"]:
        raise ConfigError(
            "EPR_EMULATOR_INDEX_PATH environment variable is set, but feature-storage-indexer or "
            "feature-sql-storage-indexer are not enabled. Please enable one of them to use the "
            "fake GCS server."
        )
    if values["storage_indexer_bucket_internal"] not in ("", EMULATOR_BUCKET):
        raise ConfigError(
            "EPR_EMULATOR_INDEX_PATH environment variable is set, but "
            "storage-indexer-bucket-internal is already set to a different value. Please remove "
            f"the flag or set it to the fake GCS server bucket {EMULATOR_BUCKET}"
        )
    values["storage_indexer_bucket_internal"] = EMULATOR_BUCKET
    values["emulator_index_path"] = index_path


def _validate_storage(values: Mapping[str, Any]) -> None:
    """Checks the reference makes when a storage indexer starts."""
    if not values["feature_storage_indexer"] and not values["feature_sql_storage_indexer"]:
        return
    bucket = values["storage_indexer_bucket_internal"]
    if not bucket.startswith(STORAGE_BUCKET_SCHEMES):
        raise ConfigError(
            f"-storage-indexer-bucket-internal must start with gs://, s3:// or file:// "
            f"(got {go_quote(bucket)})"
        )
    interval = values["storage_indexer_watch_interval"]
    if interval < 0:
        raise ConfigError(
            "-storage-indexer-watch-interval must be greater than or equal to 0s "
            f"(got {format_duration(interval)})"
        )


def _apply_sql_batch_sizes(values: dict[str, Any], environ: Mapping[str, str]) -> None:
    for attr, variable in _SQL_BATCH_VARIABLES.items():
        text = environ.get(variable, "")
        if text:
            try:
                values[attr] = parse_decimal_int(text)
            except GoValueError as error:
                raise ConfigError(
                    f"failed to parse {variable} environment variable: {error}"
                ) from None
