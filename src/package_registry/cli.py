"""``package-registry``: settings in, a serving registry (or a dry-run report) out.

The order follows the reference: settings and their validation, ``-version``, logging,
package loading, then the HTTP listener. A bad setting is one line on stderr and exit
status 2; invalid packages are skipped and logged unless ``-strict-package-loading``.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

from package_registry import __version__
from package_registry.config import ConfigError, Settings, UsageRequested, load_settings
from package_registry.config.flags import CPUS
from package_registry.config.goflags import format_duration
from package_registry.heap import fix_mmap_threshold, trim_heap
from package_registry.observability.logging import setup_logging

if TYPE_CHECKING:
    from package_registry.catalog.snapshot import Catalog
    from package_registry.loading import LoadOutcome
    from package_registry.observability.metrics import Metrics
    from package_registry.queries.cache import EntryLimit
    from package_registry.sources.reuse import Reuse
    from package_registry.sources.storage import StorageIndex
    from package_registry.sources.storedindex import StoredIndex
    from package_registry.web.relay import StorageRelay

log = logging.getLogger("package_registry")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["build"]:  # the one subcommand; everything else is Go-style flags
        from package_registry.build.command import main as build

        return build(args[1:])
    try:
        settings = load_settings(args, os.environ)
    except UsageRequested as usage:
        print(usage.text, file=sys.stderr)
        return 0
    except ConfigError as err:
        print(f"package-registry: {err}", file=sys.stderr)
        return 2
    if settings.version:
        print(f"Elastic Package Registry version {__version__}")
        return 0
    if settings.health_check:
        # Run every few seconds by container runtimes: no logging set-up, no package code.
        from package_registry.health_check import probe

        return probe(settings.address, tls=bool(settings.tls_cert and settings.tls_key))
    service_name = os.environ.get("ELASTIC_APM_SERVICE_NAME") or "package-registry"
    setup_logging(settings.log_level, settings.log_type, service_name, __version__)
    _log_configuration(settings)
    if settings.package_paths_enable_watcher and not settings.package_paths:
        log.critical("no package paths configured, cannot enable watcher")
        return 1
    if settings.dry_run:
        return _dry_run(settings)
    if settings.httpprof:
        from package_registry.observability.profiling import serve_profiles

        log.info("Starting http pprof in %s", settings.httpprof)
        try:
            serve_profiles(settings.httpprof)
        except (OSError, ValueError) as err:
            log.critical("failed to start HTTP profiler", extra={"error.message": str(err)})
            return 1
    return _serve(settings, service_name)


def _log_configuration(settings: Settings) -> None:
    log.info("Package registry started", extra={"service.version": __version__})
    log.info("Packages paths: %s", ", ".join(settings.package_paths))
    log.info("Cache time for /: %s", format_duration(settings.cache_time_index))
    log.info("Cache time for /index.json: %s", format_duration(settings.cache_time_index))
    log.info("Cache time for /search: %s", format_duration(settings.cache_time_search))
    log.info("Cache time for /categories: %s", format_duration(settings.cache_time_categories))
    log.info("Cache time for all others: %s", format_duration(settings.cache_time_catch_all))


def _load(settings: Settings, reuse: Reuse | None = None, grace: float = 0.0) -> LoadOutcome:
    # Imported here so that -health-check and -version stay quick to start.
    from package_registry.loading import load_configured_packages

    return load_configured_packages(settings, reuse, grace)


def _open_catalog(settings: Settings) -> Reuse | None:
    from package_registry.loading import open_catalog

    return open_catalog(settings)


def _dry_run(settings: Settings) -> int:
    """Load every package, report each invalid one, and say whether all were valid."""
    log.info("Running dry-run mode")
    outcome = _load(settings, _open_catalog(settings))
    for reject in outcome.rejects:
        print(f"invalid package {reject.path}: {reject.reason}", file=sys.stderr)
    print(
        f"{outcome.package_count} packages loaded, {len(outcome.rejects)} invalid",
        file=sys.stderr,
    )
    return 1 if outcome.rejects else 0


def _serve(settings: Settings, service_name: str) -> int:
    fix_mmap_threshold()
    reason = CPUS.reason if settings.workers == CPUS.count else "set by -workers"
    log.info("%d HTTP workers: %s", settings.workers, reason, extra={"workers": settings.workers})
    metrics_dir = None
    if settings.metrics_address and settings.workers > 1:
        metrics_dir = tempfile.mkdtemp(prefix="package-registry-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        return _load_and_serve(settings, service_name)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _load_and_serve(settings: Settings, service_name: str) -> int:
    # First, so that the stored packages' fingerprints are taken while the rest imports.
    reuse = _open_catalog(settings)
    from package_registry.catalog.build import build_catalog
    from package_registry.catalog.holder import CatalogHolder
    from package_registry.observability.metrics import Metrics, exposed_registry, serve_metrics
    from package_registry.queries.cache import AnswerCache
    from package_registry.reloading import CatalogRefresher, catalog_sources
    from package_registry.web.app import RegistryApp
    from package_registry.web.archives import GRACE_SECONDS, ArchiveCache
    from package_registry.web.changes import CatalogChanges
    from package_registry.web.connections import (
        ConnectionLimits,
        effective_max_connections,
        raise_open_file_limit,
    )
    from package_registry.web.request import CacheBudget, CacheTimes, Context
    from package_registry.web.server import ServerOptions, bind, serve
    from package_registry.web.statictree import StaticTree

    if settings.static_path and not os.path.isdir(settings.static_path):
        log.critical("static path is not a directory", extra={"file.path": settings.static_path})
        return 1
    publishing = verifier = None
    if settings.publish_tokens_file or settings.publish_path:
        from package_registry.publish.setup import PublishSetupError, open_publishing

        try:
            publishing, verifier = open_publishing(settings)
        except PublishSetupError as err:
            log.critical("Init failed", extra={"error.message": str(err)})
            return 1
    metrics = Metrics() if settings.metrics_address else None
    # A package row a reload replaced is deleted once no retiring worker can still be
    # reading it: the same wait as for archives.
    grace = max(GRACE_SECONDS, settings.shutdown_timeout)
    storage = None
    if settings.feature_storage_indexer or settings.feature_sql_storage_indexer:
        from package_registry.sources.storage import StorageError

        if metrics is not None:  # the reference's name for each indexer, in its series
            sql = settings.feature_sql_storage_indexer
            metrics.indexer = "SQLStorageIndexer" if sql else "StorageIndexer"
        try:
            storage = _open_storage(settings, metrics, grace)
        except (StorageError, ValueError) as err:
            log.critical("Init failed", extra={"error.message": str(err)})
            return 1
    outcome = _load(settings, reuse, grace)
    if outcome.rejects and settings.strict_package_loading:
        log.critical("Init failed", extra={"error.message": outcome.error_text()})
        return 1
    if outcome.package_count == 0 and not (storage is not None and storage.packages):
        if settings.feature_proxy_mode:
            log.info("No local packages found, but the proxy mode can access remote ones.")
        elif settings.package_paths_enable_watcher or publishing is not None:
            log.warning(
                "No packages found at startup. "
                "The registry is running but no content is available yet."
            )
        else:
            log.critical("No local packages found.")
            return 1
    log.info("%d local package manifests loaded.", outcome.package_count)
    budget = CacheBudget.split(settings.cache_max_bytes)
    limits = _answer_limits(settings)
    holder = CatalogHolder(
        build_catalog(catalog_sources(storage, outcome)),
        lambda: AnswerCache(budget.answers, limits),
    )
    # The catalog lives as long as the process: keep the collector from rescanning it,
    # and keep its pages shared with forked workers.
    gc.collect()
    trim_heap()
    gc.freeze()
    if metrics is not None:
        metrics.describe_service(__version__, len(holder.catalog))
        try:
            serve_metrics(settings.metrics_address, exposed_registry(metrics))
        except OSError as err:
            log.critical(
                "failed to start Prometheus metrics endpoint", extra={"error.message": str(err)}
            )
            return 1
    upstream = None
    if settings.feature_proxy_mode:
        from package_registry.sources.proxy import RetryPolicy, Upstream, backoff_scale

        log.warning(
            "Technical preview: Proxy mode is an experimental feature and it may be unstable."
        )
        policy = RetryPolicy(deadline=settings.outgoing_total_timeout)
        upstream = Upstream(
            settings.proxy_to, policy.scaled(backoff_scale(os.environ)), settings.outgoing
        )
    # An archive a reload made unreachable is deleted once no retiring worker can still
    # be about to open it: after the time a retiring worker is given, at least 10 s.
    archives = ArchiveCache(grace=grace)
    cache_times = CacheTimes(
        index=settings.cache_time_index,
        search=settings.cache_time_search,
        categories=settings.cache_time_categories,
        catch_all=settings.cache_time_catch_all,
    )
    if settings.static_path:
        log.info("Serving the static tree %s", settings.static_path)
    ctx = Context(
        cache_times=cache_times,
        holder=holder,
        archives=archives,
        allow_unknown_query_parameters=settings.allow_unknown_query_parameters,
        service_name=service_name,
        service_version=__version__,
        upstream=upstream,
        storage=_storage_relay(settings) if storage is not None else None,
        budget=budget,
        static_tree=StaticTree(settings.static_path, cache_times) if settings.static_path else None,
        browse=settings.browse,
        publishing=publishing,
    )
    try:
        sock = bind(settings.address)
    except (OSError, ValueError) as err:
        log.critical("error occurred while serving", extra={"error.message": str(err)})
        return 1
    open_files = raise_open_file_limit()
    options = ServerOptions(
        address=settings.address,
        workers=settings.workers,
        tls_cert=settings.tls_cert,
        tls_key=settings.tls_key,
        tls_min_version=settings.tls_min_version or "",
        shutdown_timeout=settings.shutdown_timeout,
        limits=ConnectionLimits(
            read_header_timeout=settings.read_header_timeout,
            idle_timeout=settings.idle_timeout,
            max_connections=effective_max_connections(settings.max_connections, open_files),
        ),
    )
    refresher = None
    if settings.package_paths_enable_watcher or storage is not None or publishing is not None:
        refresher = CatalogRefresher(
            holder,
            outcome,
            load_local=lambda: _load(settings, reuse, grace),
            strict=settings.strict_package_loading,
            watch_paths=settings.package_paths if settings.package_paths_enable_watcher else (),
            storage=storage,
            poll_seconds=settings.storage_indexer_watch_interval,
            metrics=metrics,
            after_swap=lambda _: archives.sweep(lambda: _local_files(holder.current.catalog)),
            note_changed=reuse.changed if reuse is not None else lambda _: None,
        )
    changes = CatalogChanges()
    if publishing is not None and refresher is not None:
        publishing.channel.start(
            functools.partial(refresher.reload_paths_and_wait, changes, publishing.reload_timeout)
        )
        log.info("Publishing packages into %s", settings.publish_path)
    try:
        return serve(RegistryApp(ctx, metrics), sock, options, refresher, changes)
    finally:
        if publishing is not None:
            publishing.channel.stop()
        if verifier is not None:
            verifier.close()
        archives.close()
        log.info("Package registry stopped")


def _answer_limits(settings: Settings) -> dict[str, EntryLimit]:
    """The count and age bounds of /search and /categories answers that the reference's
    cache flags turn on (each catalog's answers are bounded by bytes in any case)."""
    from package_registry.queries.cache import EntryLimit

    limits = {}
    if settings.feature_enable_search_cache:
        limits["search"] = EntryLimit(settings.search_cache_size, settings.search_cache_ttl)
    if settings.feature_enable_categories_cache:
        limits["categories"] = EntryLimit(
            settings.categories_cache_size, settings.categories_cache_ttl
        )
    return limits


def _storage_relay(settings: Settings) -> StorageRelay:
    # httpx (and the rich and pygments it pulls in) is imported only by registries that relay.
    from package_registry.web.relay import StorageRelay

    return StorageRelay(settings.storage_endpoint, settings.outgoing)


def _local_files(catalog: Catalog) -> list[str]:
    """Where ``catalog``'s local packages are (folders and zips): what archives are built from."""
    return [p.files.location for p in catalog.packages() if p.files is not None]


def _open_storage(settings: Settings, metrics: Metrics | None, grace: float) -> StorageIndex:
    """The storage bucket's index, loaded once (its first update must succeed)."""
    from package_registry.reloading import update_storage_index
    from package_registry.sources.storage import StorageIndex, open_bucket, parse_bucket_url

    location = parse_bucket_url(settings.storage_indexer_bucket_internal)
    bucket = open_bucket(
        location, index_file=settings.emulator_index_path, timeouts=settings.outgoing
    )
    stored = _open_stored_index(settings, grace) if settings.feature_sql_storage_indexer else None
    index = StorageIndex(
        bucket, location, incremental=settings.feature_incremental_updates, stored=stored
    )
    update_storage_index(index, metrics)
    log.info("storage index loaded", extra={"packages": len(index.packages)})
    return index


def _open_stored_index(settings: Settings, grace: float) -> StoredIndex:
    """The SQL storage indexer's database, in ``sql_indexer.database_folder_path``: one
    file per bucket (or per ``EPR_EMULATOR_INDEX_PATH`` file)."""
    from package_registry.packages.store import bucket_store_file, open_store
    from package_registry.sources.storage import StorageError
    from package_registry.sources.storedindex import StoredIndex

    source = settings.emulator_index_path or settings.storage_indexer_bucket_internal
    folder = settings.sql_indexer_database_folder_path
    path = bucket_store_file(folder, source)
    store = open_store(folder, (), ("storage-index", source), path=path)
    if store is None:
        raise StorageError(f"can't open the storage index database {path}")
    log.info(
        "(technical preview) SQL storage indexer database path: %s",
        folder,
        extra={"file.path": store.path},
    )
    batch = min(
        settings.sql_indexer_db_insert_batch_size, settings.sql_indexer_read_packages_batch_size
    )
    return StoredIndex(store, batch, grace)
