"""Hostile packages: crafted packages inside a corpus large enough for parallel loading.

A generated corpus of 210 names (more than the loader's threshold for forked loader
processes) gets, beside it, packages made from one of its valid packages and broken in
one way each: YAML nested 100,000 deep (lists, maps), an alias bomb, a 30 MB manifest,
binary garbage, symlinks out of the package (an asset, the README, a whole version
folder), a zip with a zip-slip member, a zip whose manifest inflates to 1 GiB (1 MiB on
disk), a version present as folder and zip, and versions that do not match their folder
or zip name. A canary file outside the package path is the symlinks' target.

Passes when start-up finishes; each rejected package is logged exactly once at warning
level or above with a reason (a line whose ``file.path`` is the package and which has an
``error.message``; lines about files inside it may come on top) and is not served; the
symlinked version folder is logged at warning level or above; nothing of the canary is
served; no file appears outside the package path; the duplicate is listed once; every
valid version is served and memory stays below 1 GiB during start-up. Then a registry
loads the plain corpus and one of its loader processes is killed: start-up must still
finish within 30 s, with each package the dead process held served or rejected with a
reason.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import time
import urllib.request
import zipfile
from pathlib import Path

from reliability.harness import (
    Outcome,
    Registry,
    Settings,
    descendants,
    listening_port,
    make_corpus,
)
from reliability.traffic import listing

#: Packages that must be refused at load: name → what is wrong with them.
REJECTED = {
    "bad_deep_lists": "YAML lists nested 100,000 deep",
    "bad_deep_maps": "YAML maps nested 50,000 deep",
    "bad_alias_bomb": "billion-laughs aliases",
    "bad_big_manifest": "30 MB manifest",
    "bad_garbage": "binary manifest",
    "bad_symlink_asset": "icon is a symlink out of the package",
    "bad_symlink_readme": "README is a symlink out of the package",
    "bad_zip_bomb": "zip whose manifest inflates to 1 GiB",
    "bad_mismatch": "folder 1.0.0 holding version 1.0.1",
}
#: Packages that may be served, but only as their manifest says (a zip's file name is
#: not its identity) or with the offending member left out.
TOLERATED = {
    "bad_mismatch_zip": "zip named 1.0.0 holding version 2.0.0",
    "bad_zip_slip": "zip with members escaping its root",
}
START_TIMEOUT = 120.0
KILLED_START_TIMEOUT = 30.0


def _clone(template: Path, target: Path, name: str, version: str = "1.0.0") -> Path:
    shutil.copytree(template, target)
    manifest = target / "manifest.yml"
    lines = []
    for line in manifest.read_text().splitlines():
        if line.startswith("name: "):
            line = f"name: {name}"
        elif line.startswith("version: "):
            line = f"version: {version}"
        lines.append(line)
    manifest.write_text("\n".join(lines) + "\n")
    changelog = target / "changelog.yml"
    old = template.name
    changelog.write_text(changelog.read_text().replace(f'"{old}"', f'"{version}"', 1))
    return target


def _zip(folder: Path, out: Path, top: str, extra: dict[str, bytes] | None = None) -> None:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{top}/{path.relative_to(folder)}")
        for member, data in (extra or {}).items():
            archive.writestr(member, data)


def _bomb(cache: Path, folder: Path, top: str) -> Path:
    """A zip (about 1 MiB) whose ``manifest.yml`` inflates to 1 GiB; made once."""
    if not cache.exists():
        partial = cache.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and path.name != "manifest.yml":
                    archive.write(path, f"{top}/{path.relative_to(folder)}")
            info = zipfile.ZipInfo(f"{top}/manifest.yml", (2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as member:
                member.write(b"name: bad_zip_bomb\nversion: 1.0.0\n")
                block = bytes(1 << 20)
                for _ in range(1024):
                    member.write(block)
        partial.rename(cache)
    return cache


def build(directory: Path, corpus: Path, cache: Path) -> tuple[Path, str]:
    """The package path with its hostile packages, and the canary's token."""
    shutil.rmtree(directory, ignore_errors=True)
    root, outside = directory / "packages", directory / "outside"
    shutil.copytree(corpus, root)
    outside.mkdir(parents=True)
    canary = outside / "canary.txt"
    token = f"CANARY-{random.Random(11).getrandbits(64):016x}"
    canary.write_text(token + "\n")
    template = next(
        p.parent
        for p in sorted(root.glob("*/*/manifest.yml"))
        if "type: integration" in p.read_text() and (p.parent / "docs/README.md").exists()
    )

    def clone(name: str, version: str = "1.0.0") -> Path:
        return _clone(template, root / name / "1.0.0", name, version)

    deep = 100_000
    manifest = clone("bad_deep_lists") / "manifest.yml"
    manifest.write_text(manifest.read_text() + "owner_extra: " + "[" * deep + "]" * deep + "\n")
    manifest = clone("bad_deep_maps") / "manifest.yml"
    nested = "{a: " * (deep // 2) + "1" + "}" * (deep // 2)
    manifest.write_text(manifest.read_text() + "owner_extra: " + nested + "\n")
    manifest = clone("bad_alias_bomb") / "manifest.yml"
    bomb = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    bomb += [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 10)]
    manifest.write_text(manifest.read_text() + "\n".join(bomb) + "\n")
    manifest = clone("bad_big_manifest") / "manifest.yml"
    text = manifest.read_text()
    big = 'description: "' + "x" * 30_000_000 + '"'
    manifest.write_text("\n".join(big if line.startswith("description:") else line
                                  for line in text.splitlines()) + "\n")  # fmt: skip
    (clone("bad_garbage") / "manifest.yml").write_bytes(random.Random(3).randbytes(65536))
    icon = next((clone("bad_symlink_asset") / "img").iterdir())
    icon.unlink()
    icon.symlink_to(canary)
    readme = clone("bad_symlink_readme") / "docs" / "README.md"
    readme.unlink()
    readme.symlink_to(canary)
    real = _clone(template, outside / "bad_symlink_version" / "1.0.0", "bad_symlink_version")
    (root / "bad_symlink_version").mkdir()
    (root / "bad_symlink_version" / "1.0.0").symlink_to(real, target_is_directory=True)
    clone("bad_mismatch", "1.0.1")

    staging = directory / "staging"
    folder = _clone(template, staging / "bad_zip_slip", "bad_zip_slip")
    _zip(
        folder,
        root / "bad_zip_slip-1.0.0.zip",
        "bad_zip_slip-1.0.0",
        {"../../zip-slip-escaped.txt": b"escaped", "bad_zip_slip-1.0.0/../../../e.txt": b"e"},
    )
    folder = _clone(template, staging / "bad_mismatch_zip", "bad_mismatch_zip", "2.0.0")
    _zip(folder, root / "bad_mismatch_zip-1.0.0.zip", "bad_mismatch_zip-1.0.0")
    folder = _clone(template, staging / "bad_zip_bomb", "bad_zip_bomb")
    shutil.copy(_bomb(cache, folder, "bad_zip_bomb-1.0.0"), root / "bad_zip_bomb-1.0.0.zip")
    folder = clone("dup_pkg")
    _zip(folder, root / "dup_pkg-1.0.0.zip", "dup_pkg-1.0.0")
    shutil.rmtree(staging)
    return root, token


def _warnings(records: list[dict[str, object]]) -> list[dict[str, object]]:
    levels = ("warn", "warning", "error", "fatal")
    return [r for r in records if str(r.get("log.level", "")).lower() in levels]


def _about(records: list[dict[str, object]], path: str) -> list[dict[str, object]]:
    """Warnings whose ``file.path`` is ``path`` itself (the package, not a file in it)."""
    return [r for r in _warnings(records) if _file_path(r) == path]


def _file_path(record: dict[str, object]) -> str:
    file = record.get("file")
    nested = file.get("path") if isinstance(file, dict) else None
    return str(nested or record.get("file.path") or "")


def _reason(record: dict[str, object]) -> str:
    error = record.get("error")
    nested = error.get("message") if isinstance(error, dict) else None
    return str(nested or record.get("error.message") or "")


def _package_path(root: Path, name: str) -> str:
    zipped = root / f"{name}-1.0.0.zip"
    return str(zipped) if zipped.exists() else str(root / name / "1.0.0")


def hostile_packages(settings: Settings, outcome: Outcome) -> None:
    corpus = make_corpus(settings.work / "corpus-210", packages=210, versions=230, seed=3)
    directory = settings.work / "hostile-packages"
    root, token = build(directory, corpus, settings.work / "zip-bomb-1GiB.zip")
    expected_good = json.loads((corpus / "corpus.json").read_text())["versions"]

    registry = Registry(
        directory / "run", [root], ["-workers=2", "-require-package-signatures=false"]
    )
    peak = 0.0
    began = time.monotonic()
    while not registry.wait_ready(0.05):
        peak = max(peak, registry.pss_mib())
        if time.monotonic() - began > START_TIMEOUT or registry.process.poll() is not None:
            break
    started = time.monotonic() - began
    try:
        up = registry.process.poll() is None and registry.port != 0
        outcome.figures.update(startup_s=started, peak_pss_mib=peak)
        if not outcome.check(up and started < START_TIMEOUT, "start-up did not finish"):
            return
        listed = listing(registry.port)
        keys = [(p.name, p.version) for p in listed]
        records = registry.logs()
        logged_once = 0
        for name, why in REJECTED.items():
            lines = _about(records, _package_path(root, name))
            served = any(n == name for n, _ in keys)
            reason = all(_reason(r) for r in lines)
            if outcome.check(
                len(lines) == 1 and reason and not served,
                f"{name} ({why}): {len(lines)} log lines, served={served}",
            ):
                logged_once += 1
        symlinked = str(root / "bad_symlink_version")
        outcome.check(
            any(symlinked in json.dumps(r) for r in _warnings(records)),
            "symlinked version folder not logged at warning level",
        )
        outcome.check(keys.count(("dup_pkg", "1.0.0")) == 1, "duplicate not listed once")
        outcome.check(
            ("bad_mismatch_zip", "1.0.0") not in keys, "zip served under its file name's version"
        )
        good = sum(1 for n, _ in keys if not n.startswith(("bad_", "dup_")))
        outcome.check(good == expected_good, f"{good} of {expected_good} valid versions served")
        leaked = [
            p for p in directory.rglob("*") if p.name in ("zip-slip-escaped.txt", "e.txt")
        ] + [p for p in Path(settings.work).parent.glob("*.txt") if p.name == "e.txt"]
        outcome.check(not leaked, f"zip-slip wrote {leaked}")
        canary_hits = _canary_served(registry.port, keys, token)
        outcome.check(not canary_hits, f"canary served at {canary_hits}")
        outcome.check(peak < 1024, f"{peak:.0f} MiB during start-up")
        outcome.figures.update(
            valid_served=f"{good}/{expected_good}",
            rejected_logged_once=f"{logged_once}/{len(REJECTED)}",
            tolerated_served=",".join(n for n in TOLERATED if any(k == n for k, _ in keys))
            or "none",
        )
    finally:
        registry.stop()
    _kill_a_loader(directory / "killed", corpus, expected_good, outcome)


def _canary_served(port: int, keys: list[tuple[str, str]], token: str) -> list[str]:
    hits = []
    for name in ("bad_symlink_asset", "bad_symlink_readme", "bad_symlink_version", "bad_zip_slip"):
        for path in ("img/icon.svg", "docs/README.md", "../../zip-slip-escaped.txt", "e.txt"):
            url = f"http://127.0.0.1:{port}/package/{name}/1.0.0/{path}"
            try:
                with urllib.request.urlopen(url, timeout=10) as answer:
                    body = answer.read()
            except OSError:
                continue
            if token.encode() in body or body == b"escaped":
                hits.append(url)
    return hits


def _kill_a_loader(directory: Path, root: Path, expected_good: int, outcome: Outcome) -> None:
    registry = Registry(
        directory,
        [root],
        ["-workers=2", "-require-package-signatures=false", "-package-paths-workers=2"],
    )
    killed = 0
    began = time.monotonic()
    try:
        while time.monotonic() - began < 30 and not killed and registry.process.poll() is None:
            children = descendants(registry.pid)[1:]
            if children and not listening_port(registry.pid):  # loaders, not HTTP workers
                os.kill(children[-1], signal.SIGKILL)
                killed = children[-1]
            else:
                time.sleep(0.002)
        if not outcome.check(bool(killed), "no loader process seen to kill"):
            return
        up = registry.wait_ready(KILLED_START_TIMEOUT)
        outcome.figures["killed_loader_startup_s"] = (
            time.monotonic() - began if up else f">{KILLED_START_TIMEOUT:.0f}"
        )
        if not outcome.check(up, f"start-up hung after a loader was killed (pid {killed})"):
            return
        listed = listing(registry.port)
        good = {(p.name, p.version) for p in listed if not p.name.startswith(("bad_", "dup_"))}
        logged = registry.logs()
        missing = expected_good - len(good)
        explained = sum(1 for r in logged if _reason(r)) >= missing
        outcome.figures["after_kill_served"] = f"{len(good)}/{expected_good}"
        outcome.check(explained, f"{missing} versions missing after the kill, without reasons")
    finally:
        registry.stop()
