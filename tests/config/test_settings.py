"""How flags, ``EPR_*`` variables and ``config.yml`` combine into ``Settings``, and every error."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from package_registry.config import ConfigError, Settings, UsageRequested, load_settings
from package_registry.config.flags import FLAGS, Flag, Kind
from package_registry.config.outgoing import OutgoingTimeouts
from package_registry.config.settings import CONFIG_KEYS

MINIMAL_CONFIG = "package_paths:\n  - ./packages\n"


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty directory holding ``config.yml``, the default configuration path."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yml").write_text(MINIMAL_CONFIG)


def load(*argv: str, env: dict[str, str] | None = None, config: str | None = None) -> Settings:
    if config is not None:
        Path("config.yml").write_text(config)
    return load_settings(list(argv), env or {})


def load_error(*argv: str, env: dict[str, str] | None = None, config: str | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(*argv, env=env, config=config)
    return caught.value.message


# --- defaults and the shape of Settings ----------------------------------------------------


def test_settings_has_one_attribute_per_flag_and_config_key() -> None:
    names = {field.name for field in dataclasses.fields(Settings)}
    expected = {flag.attr for flag in FLAGS} | {key.attr for key in CONFIG_KEYS}
    environment_only = {
        "sql_indexer_read_packages_batch_size",
        "sql_indexer_db_insert_batch_size",
        "emulator_index_path",
    }
    assert names == expected | environment_only


def test_defaults_are_the_reference_defaults() -> None:
    settings = load()
    assert settings == dataclasses.replace(Settings(), package_paths=("./packages",))
    assert settings.address == "localhost:8080"
    assert settings.allow_unknown_query_parameters is True
    assert settings.require_package_signatures is True
    assert settings.strict_package_loading is False
    assert settings.tls_min_version is None
    assert settings.log_level == "info"
    assert settings.log_type == "ecs"
    assert settings.storage_indexer_watch_interval == 60.0
    assert settings.proxy_to == "https://epr.elastic.co/"
    assert settings.storage_endpoint == "https://package-storage.elastic.co/"
    assert settings.workers >= 1
    assert settings.package_paths_workers == settings.workers
    assert (settings.cache_time_index, settings.cache_time_search) == (10.0, 600.0)
    assert (settings.cache_time_categories, settings.cache_time_catch_all) == (600.0, 600.0)
    assert settings.sql_indexer_database_folder_path == "/tmp/"
    assert (settings.search_cache_size, settings.search_cache_ttl) == (250, 86400.0)
    assert (settings.categories_cache_size, settings.categories_cache_ttl) == (100, 86400.0)


# --- every flag, by flag and by variable ---------------------------------------------------

_SQL = ["-feature-sql-storage-indexer", "-storage-indexer-bucket-internal=gs://bucket"]
# Flags needed so that setting the flag under test passes validation.
_COMPANIONS = {
    "tls-min-version": ["-tls-cert=cert.pem", "-tls-key=key.pem"],
    "feature-enable-search-cache": _SQL,
    "feature-enable-categories-cache": _SQL,
    "feature-storage-indexer": ["-storage-indexer-bucket-internal=gs://bucket"],
    "feature-sql-storage-indexer": ["-storage-indexer-bucket-internal=gs://bucket"],
}
_SAMPLES: dict[str, tuple[str, object]] = {
    "config": ("./config.yml", "./config.yml"),
    "log-type": ("dev", "dev"),
    "storage-indexer-bucket-internal": ("s3://bucket/root", "s3://bucket/root"),
}
_KIND_SAMPLES: dict[Kind, tuple[str, object]] = {
    Kind.STRING: ("sample", "sample"),
    Kind.URL: ("https://example.test/", "https://example.test/"),
    Kind.INT: ("0x7", 7),
    Kind.DURATION: ("1m30s", 90.0),
    Kind.TLS_VERSION: ("1.3", "1.3"),
    Kind.LOG_LEVEL: ("DEBUG", "debug"),
}


def _sample(flag: Flag) -> tuple[str, object]:
    if flag.is_bool:
        return ("false", False) if flag.default else ("true", True)
    return _SAMPLES.get(flag.name) or _KIND_SAMPLES[flag.kind]


@pytest.mark.parametrize("flag", FLAGS, ids=lambda flag: flag.name)
def test_every_flag_is_set_by_its_command_line_flag(flag: Flag) -> None:
    text, expected = _sample(flag)
    settings = load(f"-{flag.name}={text}", *_COMPANIONS.get(flag.name, []))
    assert getattr(settings, flag.attr) == expected != flag.default


@pytest.mark.parametrize("flag", FLAGS, ids=lambda flag: flag.env)
def test_every_flag_is_set_by_its_environment_variable(flag: Flag) -> None:
    text, expected = _sample(flag)
    settings = load(*_COMPANIONS.get(flag.name, []), env={flag.env: text})
    assert getattr(settings, flag.attr) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["-address=h:1"],
        ["-address", "h:1"],
        ["--address=h:1"],
        ["--address", "h:1"],
        ["-address=other:2", "-address=h:1"],
    ],
    ids=" ".join,
)
def test_value_flag_forms(argv: list[str]) -> None:
    assert load(*argv).address == "h:1"


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["-dry-run"], {}, True),
        (["--dry-run"], {}, True),
        (["-dry-run=true"], {}, True),
        (["-dry-run=1"], {}, True),
        (["-dry-run=T"], {}, True),
        (["-dry-run=false"], {"EPR_DRY_RUN": "true"}, False),
        ([], {"EPR_DRY_RUN": "TRUE"}, True),
        ([], {"EPR_DRY_RUN": "0"}, False),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_bool_forms(argv: list[str], env: dict[str, str], expected: bool) -> None:
    assert load(*argv, env=env).dry_run is expected


def test_bool_flag_never_consumes_the_next_argument() -> None:
    assert load_error("-dry-run", "false").startswith('unexpected argument "false"')


# --- precedence ------------------------------------------------------------------------------


def test_flag_beats_environment_beats_default() -> None:
    assert load(env={"EPR_ADDRESS": "env:1"}).address == "env:1"
    assert load("-address=flag:1", env={"EPR_ADDRESS": "env:1"}).address == "flag:1"


def test_config_path_comes_from_environment_or_flag(tmp_path: Path) -> None:
    (tmp_path / "other.yml").write_text("package_paths: [./other]\n")
    (tmp_path / "third.yml").write_text("package_paths: [./third]\n")
    assert load(env={"EPR_CONFIG": "other.yml"}).package_paths == ("./other",)
    third = load("-config", "third.yml", env={"EPR_CONFIG": "other.yml"})
    assert third.package_paths == ("./third",)


def test_sql_indexer_variables_beat_config_beats_default() -> None:
    config = "search.cache_size: 10\ncategories.cache_ttl: 1h\n"
    from_file = load(config=config)
    assert (from_file.search_cache_size, from_file.categories_cache_ttl) == (10, 3600.0)
    env = {
        "EPR_SQL_INDEXER_SEARCH_CACHE_SIZE": "20",
        "EPR_SQL_INDEXER_SEARCH_CACHE_TTL": "5m",
        "EPR_SQL_INDEXER_CATEGORIES_CACHE_SIZE": "30",
        "EPR_SQL_INDEXER_CATEGORIES_CACHE_TTL": "2h",
        "EPR_SQL_INDEXER_DATABASE_FOLDER_PATH": "/var/db/",
    }
    overridden = load(config=config, env=env)
    assert overridden.search_cache_size == 20
    assert overridden.search_cache_ttl == 300.0
    assert overridden.categories_cache_size == 30
    assert overridden.categories_cache_ttl == 7200.0
    assert overridden.sql_indexer_database_folder_path == "/var/db/"


def test_empty_sql_indexer_variables_are_ignored() -> None:
    settings = load(config="search.cache_size: 10\n", env={"EPR_SQL_INDEXER_SEARCH_CACHE_SIZE": ""})
    assert settings.search_cache_size == 10


def test_sql_batch_sizes_are_read_only_with_the_sql_indexer() -> None:
    env = {
        "EPR_SQL_INDEXER_READ_PACKAGES_BATCH_SIZE": "100",
        "EPR_SQL_INDEXER_DB_INSERT_BATCH_SIZE": "not-read",
    }
    assert load(env=env).sql_indexer_read_packages_batch_size == 2000
    sql = ["-feature-sql-storage-indexer", "-storage-indexer-bucket-internal=gs://b"]
    env["EPR_SQL_INDEXER_DB_INSERT_BATCH_SIZE"] = "50"
    settings = load(*sql, env=env)
    assert settings.sql_indexer_read_packages_batch_size == 100
    assert settings.sql_indexer_db_insert_batch_size == 50


# --- config.yml --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "index", "search"),
    [
        ("cache_time.index: 1s\ncache_time.search: 2s\n", 1.0, 2.0),
        ("cache_time:\n  index: 1s\n  search: 2s\n", 1.0, 2.0),
        ("cache_time.index: 1s\ncache_time:\n  index: 5s\n  search: 2s\n", 1.0, 2.0),
        ("cache_time.index: 30\ncache_time.search: 1.5\n", 30.0, 1.5),
        ("cache_time.index: 1m30s\n", 90.0, 600.0),
        ("unknown: 1\ncache_time.unknown: 2s\n", 10.0, 600.0),
        ("", 10.0, 600.0),
        ("# only a comment\n", 10.0, 600.0),
    ],
    ids=[
        "dotted",
        "nested",
        "flat-wins",
        "seconds",
        "compound",
        "unknown-keys",
        "empty",
        "comment",
    ],
)
def test_config_cache_times(config: str, index: float, search: float) -> None:
    settings = load(config=config)
    assert (settings.cache_time_index, settings.cache_time_search) == (index, search)


def test_config_nested_sql_and_cache_keys() -> None:
    config = (
        "sql_indexer:\n  database_folder_path: /data/\n"
        "search:\n  cache_size: 5\n  cache_ttl: 1h\n"
        "categories:\n  cache_size: 6\n  cache_ttl: 30\n"
    )
    settings = load(config=config)
    assert settings.sql_indexer_database_folder_path == "/data/"
    assert (settings.search_cache_size, settings.search_cache_ttl) == (5, 3600.0)
    assert (settings.categories_cache_size, settings.categories_cache_ttl) == (6, 30.0)


def test_relative_package_paths_are_kept_as_written() -> None:
    settings = load(config="package_paths:\n  - ./a\n  - /abs/b\n  - c\n")
    assert settings.package_paths == ("./a", "/abs/b", "c")


@pytest.mark.parametrize(
    ("config", "handler"),
    [
        ("cache_time.catch_all: 0s\n", "artifacts"),
        ("cache_time.index: 0\n", "index"),
        ("cache_time.categories: -1s\n", "categories"),
        ("cache_time.search: 0s\n", "search"),
        ("cache_time.index: 0s\ncache_time.catch_all: 0s\n", "artifacts"),
        ("cache_time:\n  search: 0s\n", "search"),
    ],
    ids=["catch_all", "index", "categories", "search", "first-in-creation-order", "nested"],
)
def test_cache_time_must_be_positive(config: str, handler: str) -> None:
    expected = f"can't create {handler} handler: cache time must be greater than 0s"
    assert load_error(config=config) == expected


def test_missing_config_file() -> None:
    assert load_error("-config=absent.yml") == "Configuration file is not available: absent.yml"


def test_missing_default_config_file() -> None:
    Path("config.yml").unlink()
    assert load_error() == "Configuration file is not available: config.yml"


def test_unreadable_config_file(tmp_path: Path) -> None:
    (tmp_path / "dir.yml").mkdir()
    assert load_error("-config=dir.yml").startswith("reading config failed (path: dir.yml): ")


def test_bad_yaml() -> None:
    message = load_error(config="package_paths: [a\ncache_time.index: 1s: 2\n")
    assert message.startswith("reading config failed (path: config.yml): yaml: line ")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("config", "detail"),
    [
        ("- a\n- b\n", "the file must be a mapping of keys, not a list"),
        ("just text\n", 'the file must be a mapping of keys, not a scalar ("just text")'),
    ],
    ids=["list", "scalar"],
)
def test_config_that_is_not_a_mapping(config: str, detail: str) -> None:
    assert load_error(config=config) == f"unpacking config failed (path: config.yml): {detail}"


@pytest.mark.parametrize(
    ("config", "detail"),
    [
        ("package_paths: ./one\n", 'package_paths: expected a list of paths, got "./one"'),
        ("package_paths: [1]\n", "package_paths: expected a list of paths, got [1]"),
        ("cache_time.index: abc\n", 'cache_time.index: time: invalid duration "abc"'),
        ("cache_time.index: 10\ncache_time.search: 10\ncache_time.categories: 10\n", None),
        (
            "cache_time.index: true\n",
            'cache_time.index: expected a duration such as "10s" or a number of seconds, got true',
        ),
        (
            "cache_time.search: .inf\n",
            'cache_time.search: expected a duration such as "10s" or a number of seconds, got inf',
        ),
        ("search.cache_size: many\n", 'search.cache_size: expected an integer, got "many"'),
        (
            "sql_indexer.database_folder_path: [a]\n",
            "sql_indexer.database_folder_path: expected a string, got ['a']",
        ),
    ],
    ids=[
        "paths-string",
        "paths-int",
        "duration",
        "numbers-ok",
        "duration-bool",
        "duration-infinite",
        "int",
        "string",
    ],
)
def test_config_values_of_the_wrong_type(config: str, detail: str | None) -> None:
    if detail is None:
        assert load(config=config).cache_time_categories == 10.0
    else:
        expected = f"unpacking config failed (path: config.yml): {detail}"
        assert load_error(config=config) == expected


@pytest.mark.parametrize(
    ("variable", "value", "detail"),
    [
        ("EPR_SQL_INDEXER_SEARCH_CACHE_SIZE", "abc", 'strconv.Atoi: parsing "abc": invalid syntax'),
        (
            "EPR_SQL_INDEXER_CATEGORIES_CACHE_SIZE",
            "0x10",
            'strconv.Atoi: parsing "0x10": invalid syntax',
        ),
        ("EPR_SQL_INDEXER_SEARCH_CACHE_TTL", "10", 'time: missing unit in duration "10"'),
        ("EPR_SQL_INDEXER_CATEGORIES_CACHE_TTL", "soon", 'time: invalid duration "soon"'),
    ],
    ids=lambda value: str(value),
)
def test_sql_indexer_variable_errors(variable: str, value: str, detail: str) -> None:
    expected = f"failed to parse {variable} environment variable: {detail}"
    assert load_error(env={variable: value}) == expected


# --- command-line and environment errors ---------------------------------------------------


def _invalid(value: str, flag: str, reason: str = "parse error") -> str:
    return f"invalid value {value!r} for flag -{flag}: {reason}".replace("'", '"')


_COMMAND_LINE_ERRORS = [
    (["-nope"], "flag provided but not defined: -nope"),
    (["--nope=1"], "flag provided but not defined: -nope"),
    (["-address"], "flag needs an argument: -address"),
    (["-package-paths-workers=abc"], _invalid("abc", "package-paths-workers")),
    (["-workers", "1" * 20], _invalid("1" * 20, "workers", "value out of range")),
    (["-dry-run=yes"], 'invalid boolean value "yes" for -dry-run: parse error'),
    (["-storage-indexer-watch-interval=10"], _invalid("10", "storage-indexer-watch-interval")),
    (
        ["-tls-min-version=1.0"],
        _invalid("1.0", "tls-min-version", "unsupported TLS version: 1.0"),
    ),
    (
        ["-tls-min-version=1.4"],
        _invalid("1.4", "tls-min-version", "unsupported TLS version: 1.4"),
    ),
    (
        ["-log-level=verbose"],
        'invalid value "verbose" for flag -log-level: unrecognized level: "verbose"',
    ),
    (
        ["-dry-run", "serve"],
        'unexpected argument "serve": package-registry takes no positional arguments '
        "(settings are flags or config.yml keys; the one subcommand is "
        "`package-registry build`, as the first argument)",
    ),
]


@pytest.mark.parametrize(
    ("argv", "message"), _COMMAND_LINE_ERRORS, ids=[" ".join(a) for a, _ in _COMMAND_LINE_ERRORS]
)
def test_command_line_errors_come_with_usage(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(*argv)
    assert caught.value.message == message
    assert caught.value.usage is not None
    assert "-package-paths-workers" in caught.value.usage


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EPR_DRY_RUN": "x"}, 'invalid value "x" for EPR_DRY_RUN: parse error'),
        ({"EPR_DRY_RUN": ""}, 'invalid value "" for EPR_DRY_RUN: parse error'),
        (
            {"EPR_PACKAGE_PATHS_WORKERS": "abc"},
            'invalid value "abc" for EPR_PACKAGE_PATHS_WORKERS: parse error',
        ),
        (
            {"EPR_STORAGE_INDEXER_WATCH_INTERVAL": "1x"},
            'invalid value "1x" for EPR_STORAGE_INDEXER_WATCH_INTERVAL: parse error',
        ),
        (
            {"EPR_TLS_MIN_VERSION": "1"},
            'invalid value "1" for EPR_TLS_MIN_VERSION: unsupported TLS version: 1',
        ),
        (
            {"EPR_DRY_RUN": "x", "EPR_WORKERS": "y"},
            'invalid value "x" for EPR_DRY_RUN: parse error; '
            'invalid value "y" for EPR_WORKERS: parse error',
        ),
    ],
    ids=["bool", "empty-bool", "int", "duration", "tls", "all-reported"],
)
def test_environment_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(env=env)
    assert caught.value.message == message
    assert caught.value.usage is None


def test_environment_errors_are_reported_before_help() -> None:
    with pytest.raises(ConfigError):
        load("-h", env={"EPR_DRY_RUN": "x"})


@pytest.mark.parametrize("argv", [["-h"], ["-help"], ["--help"]], ids=" ".join)
def test_help_raises_usage_with_every_flag(argv: list[str]) -> None:
    with pytest.raises(UsageRequested) as caught:
        load(*argv)
    for flag in FLAGS:
        assert f"-{flag.name}" in caught.value.text
        assert flag.env in caught.value.text


# --- validation ------------------------------------------------------------------------------

_PROXY = ["-feature-proxy-mode"]
_VALIDATION_ERRORS = [
    (
        "tls-min-version-without-cert",
        ["-tls-min-version=1.2", "-tls-key=k"],
        "-tls-min-version set but missing TLS cert and key files (-tls-cert and -tls-key)",
    ),
    (
        "both-storage-indexers",
        ["-feature-storage-indexer", "-feature-sql-storage-indexer"],
        "both -feature-storage-indexer and -feature-sql-storage-indexer flags are enabled but "
        "are mutually exclusive",
    ),
    (
        "incremental-with-sql",
        ["-feature-incremental-updates", "-feature-sql-storage-indexer"],
        "feature-incremental-updates is not supported with feature-sql-storage-indexer; disable "
        "one of them",
    ),
    (
        "search-cache-without-sql",
        ["-feature-enable-search-cache"],
        "search cache is only supported in SQL storage indexer: feature-enable-search-cache is "
        "enabled, but feature-sql-storage-indexer is not enabled",
    ),
    (
        "categories-cache-without-sql",
        ["-feature-enable-categories-cache"],
        "categories cache is just supported with SQL Storage indexer: "
        "feature-enable-categories-cache is enabled, but feature-sql-storage-indexer is not "
        "enabled",
    ),
    (
        "package-paths-workers-zero",
        ["-package-paths-workers=0"],
        "package-paths-workers must be greater than 0",
    ),
    *(
        (f"{limit}-zero", [f"-{limit}=0"], f"{limit} must be greater than 0")
        for limit in (
            "package-max-manifest-size",
            "package-max-yaml-size",
            "package-max-zip-member-size",
            "package-max-zip-ratio",
        )
    ),
    ("workers-zero", ["-workers=0"], "workers must be greater than 0"),
    ("workers-negative", ["-workers=-2"], "workers must be greater than 0"),
    ("max-connections-zero", ["-max-connections=0"], "max-connections must be greater than 0"),
    (
        "read-header-timeout-negative",
        ["-read-header-timeout=-1s"],
        "read-header-timeout must not be negative",
    ),
    ("idle-timeout-negative", ["-idle-timeout=-1s"], "idle-timeout must not be negative"),
    ("cache-max-bytes-negative", ["-cache-max-bytes=-1"], "cache-max-bytes must not be negative"),
    ("publish-max-size-zero", ["-publish-max-size=0"], "publish-max-size must be greater than 0"),
    (
        "publish-rate-limit-negative",
        ["-publish-rate-limit=-1"],
        "publish-rate-limit must not be negative",
    ),
    (
        "outgoing-connect-zero",
        ["-outgoing-connect-timeout=0s"],
        "-outgoing-connect-timeout must be greater than 0s",
    ),
    (
        "outgoing-read-negative",
        ["-outgoing-read-timeout=-1s"],
        "-outgoing-read-timeout must be greater than 0s",
    ),
    (
        "outgoing-total-zero",
        ["-outgoing-total-timeout=0s"],
        "-outgoing-total-timeout must be greater than 0s",
    ),
    (
        "proxy-http",
        [*_PROXY, "-proxy-to=http://upstream.test/"],
        '-proxy-to must use HTTPS (got "http://upstream.test/"); use -proxy-allow-insecure to '
        "allow HTTP",
    ),
    (
        "proxy-no-scheme",
        [*_PROXY, "-proxy-to=upstream.test"],
        '-proxy-to must use HTTPS (got "upstream.test"); use -proxy-allow-insecure to allow HTTP',
    ),
    (
        "proxy-host-port-only",
        [*_PROXY, "-proxy-to=127.0.0.1:8080"],
        'invalid -proxy-to URL: parse "127.0.0.1:8080": first path segment in URL cannot '
        "contain colon",
    ),
    (
        "proxy-bad-port",
        [*_PROXY, "-proxy-allow-insecure", "-proxy-to=http://h:port/"],
        'invalid -proxy-to URL: parse "http://h:port/": invalid port ":port" after host',
    ),
    (
        "proxy-missing-scheme",
        [*_PROXY, "-proxy-to=://h"],
        'invalid -proxy-to URL: parse "://h": missing protocol scheme',
    ),
    (
        "proxy-control-character",
        [*_PROXY, "-proxy-to=https://h/\x7f"],
        'invalid -proxy-to URL: parse "https://h/\\x7f": net/url: invalid control character in URL',
    ),
    (
        "proxy-bad-escape",
        [*_PROXY, "-proxy-to=https://h/%zz"],
        'invalid -proxy-to URL: parse "https://h/%zz": invalid URL escape "%zz"',
    ),
    (
        "proxy-ipv6-unclosed",
        [*_PROXY, "-proxy-to=https://[::1/"],
        "invalid -proxy-to URL: parse \"https://[::1/\": missing ']' in host",
    ),
    ("log-type", ["-log-type=json"], 'invalid logger type "json"'),
    (
        "storage-bucket-missing",
        ["-feature-storage-indexer"],
        '-storage-indexer-bucket-internal must start with gs://, s3:// or file:// (got "")',
    ),
    (
        "storage-bucket-scheme",
        ["-feature-sql-storage-indexer", "-storage-indexer-bucket-internal=https://b"],
        '-storage-indexer-bucket-internal must start with gs://, s3:// or file:// (got "https://b")',
    ),
    (
        "storage-watch-interval-negative",
        [
            "-feature-storage-indexer",
            "-storage-indexer-bucket-internal=gs://b",
            "-storage-indexer-watch-interval=-1s",
        ],
        "-storage-indexer-watch-interval must be greater than or equal to 0s (got -1s)",
    ),
]


@pytest.mark.parametrize(
    ("argv", "message"),
    [case[1:] for case in _VALIDATION_ERRORS],
    ids=[case[0] for case in _VALIDATION_ERRORS],
)
def test_validation_errors(argv: list[str], message: str) -> None:
    assert load_error(*argv) == message


@pytest.mark.parametrize(
    "argv",
    [
        [*_PROXY, "-proxy-allow-insecure", "-proxy-to=http://127.0.0.1:9000"],
        [*_PROXY, "-proxy-to=HTTPS://epr.test/"],
        [*_PROXY, "-proxy-to="],
        ["-proxy-to=http://not-checked-without-proxy-mode"],
        ["-proxy-to=https://[::1]:8443/"],
        ["-tls-min-version=1.2", "-tls-cert=c", "-tls-key=k"],
        ["-storage-indexer-bucket-internal=not-checked-without-indexer"],
        ["-package-paths-workers=0x2", "-workers=010"],
    ],
    ids=" ".join,
)
def test_valid_combinations(argv: list[str]) -> None:
    load(*argv)


def test_version_is_honoured_after_flag_validation_only() -> None:
    Path("config.yml").unlink()
    settings = load("-version", "-log-type=bogus")
    assert settings.version is True
    assert load(env={"EPR_VERSION": "true"}).version is True
    assert load_error("-version", "-workers=0") == "workers must be greater than 0"


# --- storage emulator --------------------------------------------------------------------------


def test_emulator_forces_the_fake_bucket() -> None:
    settings = load("-feature-storage-indexer", env={"EPR_EMULATOR_INDEX_PATH": "index.json"})
    assert settings.storage_indexer_bucket_internal == "gs://fake-package-storage-internal"
    assert settings.emulator_index_path == "index.json"


def test_emulator_needs_a_storage_indexer() -> None:
    message = load_error(env={"EPR_EMULATOR_INDEX_PATH": "index.json"})
    assert message.startswith("EPR_EMULATOR_INDEX_PATH environment variable is set, but ")


def test_emulator_refuses_another_bucket() -> None:
    argv = ["-feature-sql-storage-indexer", "-storage-indexer-bucket-internal=gs://real"]
    message = load_error(*argv, env={"EPR_EMULATOR_INDEX_PATH": "index.json"})
    assert message.endswith(
        "set it to the fake GCS server bucket gs://fake-package-storage-internal"
    )


def test_package_size_limits_from_flags_and_environment() -> None:
    settings = load_settings(
        ["-package-max-manifest-size=2048", "-package-max-zip-ratio", "50"],
        {"EPR_PACKAGE_MAX_YAML_SIZE": "4096", "EPR_PACKAGE_MAX_ZIP_MEMBER_SIZE": "8192"},
    )
    assert settings.package_max_manifest_size == 2048
    assert settings.package_max_yaml_size == 4096
    assert settings.package_max_zip_member_size == 8192
    assert settings.package_max_zip_ratio == 50
    assert Settings().package_max_manifest_size == 1 << 20


def test_outgoing_timeouts_come_from_flags_and_variables():
    settings = load(
        "-outgoing-connect-timeout=2s",
        "-outgoing-total-timeout=1m30s",
        env={"EPR_OUTGOING_READ_TIMEOUT": "45s"},
    )
    assert (settings.outgoing.connect, settings.outgoing.read, settings.outgoing.total) == (
        2.0,
        45.0,
        90.0,
    )
    assert load().outgoing == OutgoingTimeouts(connect=5.0, read=30.0, total=60.0)


def test_config_keys_stand_in_for_our_flags_that_are_not_set(tmp_path):
    """``catalog_path`` and the publish keys of config.yml apply unless the flag or its
    variable is given."""
    config = tmp_path / "config.yml"
    config.write_text(
        "package_paths: [/srv/packages]\n"
        "catalog_path: /var/cache/epr\n"
        "publish_tokens_file: /etc/epr/tokens\n"
        "publish_path: /srv/packages\n"
        "publish_verification_key: /etc/epr/key.asc\n"
    )
    settings = load_settings([f"-config={config}"], {})
    assert settings.catalog_path == "/var/cache/epr"
    assert settings.publish_tokens_file == "/etc/epr/tokens"
    assert settings.publish_path == "/srv/packages"
    assert settings.publish_verification_key == "/etc/epr/key.asc"
    settings = load_settings(
        [f"-config={config}", "-catalog-path=:memory:"], {"EPR_PUBLISH_PATH": "/elsewhere"}
    )
    assert settings.catalog_path == ":memory:"
    assert settings.publish_path == "/elsewhere"
