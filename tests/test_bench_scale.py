"""The parts of bench/scale.py that do not need a running registry: reading /proc,
rendering the tables, keeping and restoring the generated corpora."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.corpus import bench_script

ROOT = Path(__file__).resolve().parents[1]


scale = bench_script("scale")

ROLLUP = """\
55d1c4a2e000-7ffd4b5f9000 ---p 00000000 00:00 0                          [rollup]
Rss:              322136 kB
Pss:              121187 kB
Pss_Dirty:         16012 kB
Pss_Anon:         112311 kB
Pss_File:           8876 kB
Pss_Shmem:             0 kB
Shared_Clean:       9876 kB
Shared_Dirty:     296248 kB
Private_Clean:       312 kB
Private_Dirty:     15700 kB
Referenced:       322136 kB
Anonymous:        311948 kB
Swap:                  0 kB
SwapPss:               0 kB
"""


def test_rollup_fields_are_read_in_kib() -> None:
    assert scale.parse_rollup(ROLLUP) == {
        "Rss": 322136,
        "Pss": 121187,
        "Pss_Anon": 112311,
        "Pss_File": 8876,
        "Pss_Shmem": 0,
        "Private_Dirty": 15700,
    }


def test_rollup_of_an_older_kernel_without_the_split_fields() -> None:
    older = "".join(line + "\n" for line in ROLLUP.splitlines() if "Pss_" not in line)
    values = scale.parse_rollup(older)
    assert values["Pss"] == 121187
    assert values["Pss_Anon"] == 0


def test_stat_fields_are_counted_after_the_command_name() -> None:
    line = "4242 (odd ) (name) S 4200 4200 4100 34816 4242 4194560 0 0 0 0"
    assert scale.parse_stat(line) == (4200, 4100)


def test_this_process_is_found_in_its_own_session() -> None:
    found = scale.session_memory(os.getsid(0))
    mine = [p for p in found if p.pid == os.getpid()]
    assert len(mine) == 1
    assert mine[0].ppid == os.getppid()
    assert mine[0].memory["Pss"] > 0
    summary = scale.memory_summary(found, os.getpid())
    assert summary["parent_pss_kib"] == mine[0].memory["Pss"]
    assert summary["pss_kib"] >= mine[0].memory["Pss"]


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 301)]
    assert scale.percentile(values, 50) == 150.0
    assert scale.percentile(values, 99) == 297.0
    assert scale.percentile([5.0], 99) == 5.0


def test_catalog_flag_is_recognised_only_as_a_flag_line() -> None:
    listed = "Packages:\n  -catalog-path string\n        Folder of the catalog.\n"
    assert scale.has_catalog_flag(listed)
    mentioned = "  -workers int\n        see also -catalog-path\n  -catalog-paths string\n"
    assert not scale.has_catalog_flag(mentioned)


def test_log_message_of_an_ecs_line_or_of_another_line() -> None:
    ecs = '{"@timestamp":"2026-12-08T04:42:53.193Z","log.level":"error","message":"gave up"}\n'
    assert scale.log_message(ecs) == "gave up"
    assert scale.log_message("Traceback (most recent call last):\n") == (
        "Traceback (most recent call last):"
    )
    assert scale.log_message("[1, 2]\n") == "[1, 2]"


def test_markdown_table() -> None:
    table = scale.markdown_table(["versions", "PSS"], [["2,000", "57"], ["20,000", "400"]])
    assert table.splitlines() == [
        "| versions | PSS |",
        "| --- | ---: |",
        "| 2,000 | 57 |",
        "| 20,000 | 400 |",
    ]


def _memory(pss_mib: int, parent_mib: int) -> dict[str, object]:
    return {"processes": 3, "pss_kib": pss_mib * 1024, "parent_pss_kib": parent_mib * 1024}


def _served(search_s: float, p50_s: float) -> dict[str, object]:
    return {
        "to_health_s": search_s - 0.01,
        "to_search_s": search_s,
        "memory_start": _memory(400, 120),
        "memory_loaded": _memory(460, 121),
        "queries": {
            "queries": 300,
            "p50_s": p50_s,
            "p99_s": 0.004,
            "all_prerelease_first_s": 0.25,
            "all_prerelease_bytes": 6_500_000,
        },
        "mixed_load": {"requests": 342, "seconds": 1.5, "bytes": 1},
    }


def test_report_renders_every_table() -> None:
    results = [
        {
            "versions": 20000,
            "manifests": 37000,
            "floor_s": 4.0,
            "load_before": 1.5,
            "load_after": 3.2,
            "catalog_bytes": 300 * 1024 * 1024,
            "first": _served(8.0, 0.001),
            "restarts": [
                {"to_health_s": 7.0, "to_search_s": 7.1},
                {"to_health_s": 6.0, "to_search_s": 6.1},
                _served(9.0, 0.002),
            ],
            "reload": {"description_s": [9.0, 8.0, 10.0], "new_version_s": [9.5, 9.5, None]},
        },
        {
            "versions": 50000,
            "first": _served(20.0, 0.003),
            "restarts": [],
            "reload": {"error": "package paths are no longer watched: OS file watch limit"},
        },
    ]
    meta = {"date": "2026-12-08", "nproc": 2, "workers": 2, "catalog": "in memory", "commit": "x"}
    text = scale.report(results, meta)
    assert "| 20,000 | first start | 3 | 400 | 120 | 460 | 60 | 300 |" in text
    assert "| 20,000 | restart | 3 | 400 | 120 | 460 | 60 | - |" in text
    assert "| 50,000 | first start | 3 | 400 | 120 | 460 | 60 | - |" in text
    # Restart: the median of three; the floor ratio is the first start's /search.
    assert "| 20,000 | 37,000 | 4.00 | 7.99 | 8.00 | 2.00x | 7.00 | 7.10 | 1.5, 3.2 |" in text
    assert "| 50,000 | - | - | 19.99 | 20.00 | - | - | - | - |" in text
    # A reload that timed out leaves no median, but its runs are shown.
    assert "| 20,000 | 9.00 | 9.00 8.00 10.00 | - | 9.50 9.50 - |" in text
    assert "| 50,000 | - | package paths are no longer watched" in text
    assert "| 20,000 | restart | 300 | 2.0 | 4.0 | 250.0 | 6.5 | 342 in 1.5 s |" in text


def test_replace_field_changes_only_the_top_level_key() -> None:
    manifest = "name: a\ndescription: old\npolicy_templates:\n  - description: keep\n"
    changed = scale.replace_field(manifest, "description", "new")
    assert changed == "name: a\ndescription: new\npolicy_templates:\n  - description: keep\n"
    with pytest.raises(ValueError):
        scale.replace_field(manifest, "version", "1.0.0")


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_folder_bytes_counts_files_below(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "catalog.sqlite").write_bytes(b"x" * 1000)
    (tmp_path / "sub" / "catalog.sqlite-wal").write_bytes(b"y" * 24)
    assert scale.folder_bytes(tmp_path) == 1024


def test_corpus_is_generated_once_and_again_when_left_changed(tmp_path: Path) -> None:
    corpus = scale.ensure_corpus(tmp_path, 30, 5)
    assert corpus == tmp_path / "30"
    marker = corpus / "corpus.json"
    assert scale.json.loads(marker.read_text())["out_dir"] == str(corpus)
    first = marker.stat().st_mtime_ns
    assert scale.ensure_corpus(tmp_path, 30, 5) == corpus
    assert marker.stat().st_mtime_ns == first
    (tmp_path / "30.dirty").touch()
    scale.ensure_corpus(tmp_path, 30, 5)
    assert marker.stat().st_mtime_ns != first
    assert not (tmp_path / "30.dirty").exists()
    assert not (tmp_path / "30.partial").exists()


def test_a_changed_package_is_restored(tmp_path: Path) -> None:
    corpus = scale.ensure_corpus(tmp_path, 30, 5)
    before = _tree(corpus)
    target = scale.pick_target(corpus)
    assert target.manifest.read_bytes() == target.original
    target.manifest.write_text("description: changed\n")
    new = corpus / target.name / "99.0.0"
    new.mkdir()
    (new / "manifest.yml").write_text("version: 99.0.0\n")
    target.added.append("99.0.0")
    scale.restore(target)
    assert _tree(corpus) == before
    assert not new.exists()
