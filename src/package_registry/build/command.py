"""``package-registry build --format FORMAT --output DIR [PATH ...]``.

The server's flags are Go-style single-dash flags; ``build`` is a verb of its own with
GNU-style options, parsed here. Settings that change what is built (cache times, package
validation, signature and size limits) come from ``config.yml`` (``--config``, by
default ``config.yml`` when it exists) and ``EPR_*`` variables, as for the server; the
package paths given on the command line replace the configured ones.

Packages are loaded once, with the server's loader and its reports of invalid packages;
``--strict`` fails on them as ``-strict-package-loading`` does. Each format is one row
of ``FORMATS``: its options (an argument group of its own) and the function writing
its output from the loaded packages.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from package_registry import __version__
from package_registry.build import bucket, static
from package_registry.config import ConfigError, Settings, load_settings
from package_registry.loading import LoadOutcome, load_configured_packages
from package_registry.observability.logging import setup_logging

log = logging.getLogger("package_registry")

#: The configuration file read when ``--config`` is not given, if it exists.
DEFAULT_CONFIG = "config.yml"


@dataclass(frozen=True, slots=True)
class BuildJob:
    """What every format is given: settings, the output folder and the loaded packages."""

    settings: Settings
    output: str
    outcome: LoadOutcome
    #: The parsed command line (each format reads its own options from it).
    options: argparse.Namespace
    #: Whether to draw a progress bar (stderr is a terminal) instead of one summary line.
    interactive: bool


@dataclass(frozen=True, slots=True)
class Format:
    """One ``--format``: its description, its own options, and how it is written."""

    help: str
    add_options: Callable[[argparse._ArgumentGroup], None]
    #: Writes the output; returns the exit status.
    run: Callable[[BuildJob], int]


FORMATS: dict[str, Format] = {
    "static": Format(static.HELP, static.add_options, static.run),
    "bucket": Format(bucket.HELP, bucket.add_options, bucket.run),
}


def parser() -> argparse.ArgumentParser:
    formats = "\n".join(f"  {name}: {fmt.help}" for name, fmt in FORMATS.items())
    out = argparse.ArgumentParser(
        prog="package-registry build",
        description="Write the registry's answers for the packages in PATH... ahead of time,\n"
        "as files to serve without the registry or to publish.",
        epilog=f"formats:\n{formats}\n\nSee docs/build.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    out.add_argument("--format", required=True, choices=sorted(FORMATS), help="output format")
    out.add_argument("--output", required=True, metavar="DIR", help="folder to write into")
    out.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="package paths (folders of packages and .zip packages); default: the "
        "configuration's package_paths",
    )
    out.add_argument(
        "--config",
        metavar="FILE",
        help=f"configuration file (cache times, package checks); default: {DEFAULT_CONFIG} "
        "if it exists",
    )
    out.add_argument(
        "--strict", action="store_true", help="fail when a package is invalid (else: skip it)"
    )
    for name, fmt in FORMATS.items():
        fmt.add_options(out.add_argument_group(f"{name} format"))
    return out


def main(argv: Sequence[str]) -> int:
    """``package-registry build ARGS``; returns the exit status."""
    options = parser().parse_args(argv)
    config = options.config
    if config is None:
        config = DEFAULT_CONFIG if os.path.exists(DEFAULT_CONFIG) else os.devnull
    try:
        settings = load_settings([f"-config={config}"], os.environ)
    except ConfigError as err:
        print(f"package-registry build: {err}", file=sys.stderr)
        return 2
    if options.paths:
        settings = dataclasses.replace(settings, package_paths=tuple(options.paths))
    if not settings.package_paths:
        print("package-registry build: no package paths given", file=sys.stderr)
        return 2
    service_name = os.environ.get("ELASTIC_APM_SERVICE_NAME") or "package-registry"
    setup_logging(settings.log_level, settings.log_type, service_name, __version__)
    outcome = load_configured_packages(settings)
    if outcome.rejects and options.strict:
        log.critical("Init failed", extra={"error.message": outcome.error_text()})
        return 1
    job = BuildJob(settings, options.output, outcome, options, sys.stderr.isatty())
    return FORMATS[options.format].run(job)
