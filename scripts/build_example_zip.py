"""Build the reproducible zip of a package folder, exactly as the registry serves it.

The registry zips folder packages with ``package_registry.packages.archive.write_zip``
(fixed timestamps and modes, lexical order); this script calls the same function, so
a signature made of its output is valid for the registry's download.

Usage (with the project installed, e.g. ``.venv/bin/python``)::

    python scripts/build_example_zip.py
        Rebuild src/package_registry/examples/sample_metrics-1.0.0.zip from
        tests/data/example-sources/sample_metrics/1.0.0/.

    python scripts/build_example_zip.py SRC_DIR OUT_ZIP
        Zip the package folder SRC_DIR (``.../<name>/<version>``) into OUT_ZIP under the
        top folder ``<name>-<version>/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from package_registry.packages.archive import write_zip
from package_registry.sources.folders import FolderFiles

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "src" / "package_registry" / "examples"
DEFAULT_SOURCE = REPO / "tests" / "data" / "example-sources" / "sample_metrics" / "1.0.0"


def build_zip(source: Path, out: Path) -> Path:
    """Write the archive of package folder ``source`` to ``out`` and return ``out``."""
    if not (source / "manifest.yml").is_file():
        raise SystemExit(f"{source}: not a package folder (no manifest.yml)")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with partial.open("wb") as handle:
        write_zip(FolderFiles(str(source)), f"{source.parent.name}-{source.name}", handle)
    partial.replace(out)
    return out


def main(argv: list[str]) -> int:
    if not argv:
        print(build_zip(DEFAULT_SOURCE, EXAMPLES / "sample_metrics-1.0.0.zip"))
        return 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    print(build_zip(Path(argv[0]), Path(argv[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
