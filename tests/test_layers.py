"""Imports flow one way: cli → web → publish → queries → catalog → sources → packages → config.

docs/architecture.md draws the layers; this check reads every module under ``src/`` (its
syntax tree, nothing is imported) and fails on an import that points up the arrow — one
written inside a function or under ``TYPE_CHECKING`` included, since those couple the
layers just the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "src" / "package_registry"

#: Top to bottom; a module may import its own layer and the ones below it.
LAYERS: tuple[frozenset[str], ...] = (
    # Start-up: the command line (and its -health-check client), loading local packages
    # and keeping the catalog current.
    frozenset({"__main__", "build", "cli", "health_check", "loading", "reloading"}),
    frozenset({"web"}),
    # Publishing: tokens, uploads and their storage, below the HTTP layer that uses it.
    frozenset({"publish"}),
    frozenset({"queries"}),
    frozenset({"catalog"}),
    frozenset({"sources"}),
    # Logs, metrics, traces: "used from anywhere above packages".
    frozenset({"observability"}),
    # The separate distribution tool shares only what packages offer.
    frozenset({"distribution"}),
    frozenset({"packages"}),
    frozenset({"config"}),
    # Go's text and path rules and the version string, used by every layer.
    frozenset({"gotext", "gopath", "heap", "__init__"}),
)
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def _part(module: str) -> str:
    """The top-level part of ``package_registry.<part>...`` (``__init__`` for the package)."""
    rest = module.split(".")[1:]
    return rest[0] if rest else "__init__"


def _imports(path: Path, package: Path) -> list[tuple[int, str]]:
    """(line, imported package_registry module) for each import in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "package_registry":  # a submodule, or a name of __init__
                for alias in node.names:
                    submodule = (package / alias.name).is_dir() or (
                        package / f"{alias.name}.py"
                    ).is_file()
                    name = f"package_registry.{alias.name}" if submodule else node.module
                    found.append((node.lineno, name))
            else:
                found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.split(".")[0] == "package_registry"]


def upward_imports(package: Path = PACKAGE) -> list[str]:
    problems = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        own = relative.parts[0].removesuffix(".py")
        assert own in RANK, f"{relative}: add its top-level part to LAYERS"
        for line, name in _imports(path, package):
            target = _part(name)
            assert target in RANK, f"{relative}:{line}: {name} is in no layer"
            if RANK[target] < RANK[own]:
                problems.append(f"{relative}:{line} imports {name} ({own} → {target})")
    return problems


def test_imports_flow_one_way():
    assert upward_imports() == []


def test_the_check_sees_an_upward_import(tmp_path: Path):
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "holder.py").write_text(
        "def f():\n    from package_registry.queries.cache import AnswerCache\n"
    )
    (tmp_path / "web.py").write_text("from package_registry import __version__, catalog\n")
    assert upward_imports(tmp_path) == [
        "catalog/holder.py:2 imports package_registry.queries.cache (catalog → queries)"
    ]
