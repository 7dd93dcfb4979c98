"""The whole pipeline on the embedded data, in a throw-away copy of the repository.

Runs `dvc repro` (papermill notebooks → Great Expectations → polars scoring → report
rendering), checks what reviewers get, then runs `dvc repro` again and checks that
nothing reruns and `dvc status` is clean.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import polars as pl
import pytest

from .pipeline_utils import copy_repo, env, run
TABLES = ["huyen-dienbien_2023-07", "dienbiendong_2024-06"]


def _run(cmd: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    return run(cmd, cwd, timeout)


def _env() -> dict[str, str]:
    return env()


@pytest.fixture(scope="module")
def pipeline_copy(tmp_path_factory) -> Path:
    """The published-table stages (and the other real sources) in a fresh copy."""
    dest = copy_repo(tmp_path_factory.mktemp("repo"))
    _run(["dvc", "repro", "validate", "score", "report", "national_portal", "qd1187"], dest)
    return dest


def test_reports_and_outputs_exist(pipeline_copy):
    for t in TABLES:
        for f in ("report.html", "report.pdf", "validation.html"):
            p = pipeline_copy / "reports" / t / f
            assert p.exists() and p.stat().st_size > 1000, p
        for f in ("points.parquet", "units.parquet", "groups.parquet", "audit.parquet", "audit.csv", "metrics.json"):
            assert (pipeline_copy / "data" / "processed" / t / f).exists()


def test_second_repro_reruns_nothing_and_status_clean(pipeline_copy):
    again = _run(["dvc", "repro", "validate", "score", "report", "national_portal", "qd1187"], pipeline_copy)
    assert "Running stage" not in again.stdout, again.stdout
    status = _run(["dvc", "status", "validate", "score", "report", "national_portal", "qd1187"], pipeline_copy)
    assert "up to date" in status.stdout.lower(), status.stdout


def test_executed_notebooks_have_no_errors(pipeline_copy):
    import nbformat

    for t in TABLES:
        for nb_path in (pipeline_copy / "reports" / t / "notebooks").glob("*.ipynb"):
            nb = nbformat.read(nb_path, as_version=4)
            errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
            assert not errors, nb_path
            assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells), nb_path


def _tier_line(html: str, count: str, tier: str) -> set[str]:
    import re

    m = re.search(rf"{count} đơn vị xếp loại {tier}: ([^<.]+)\.", html)
    assert m, f"no line for {count} {tier}"
    return {n.strip() for n in m.group(1).split(",")}


def test_report_states_the_seed_tier_counts(pipeline_copy):
    """Same tier counts and the same units per tier as the seeds' text (order within a tie may differ)."""
    html = (pipeline_copy / "reports" / "dienbiendong_2024-06" / "report.html").read_text(encoding="utf-8")
    assert "Thực hiện chấm điểm đánh giá 14/14 đơn vị" in html
    assert _tier_line(html, "06", "Xuất sắc") == {"Luân Giới", "Na Son", "Keo Lôm", "Chiềng Sơ", "Mường Luân", "Pu Nhi"}
    assert _tier_line(html, "06", "Tốt") == {"Thị trấn", "Xa Dung", "Phình Giàng", "Háng Lìa", "Phì Nhừ", "Nong U"}
    assert _tier_line(html, "02", "Khá") == {"Pú Hồng", "Tìa Đình"}
    html = (pipeline_copy / "reports" / "huyen-dienbien_2023-07" / "report.html").read_text(encoding="utf-8")
    assert "Thực hiện chấm điểm đánh giá 5/10 đơn vị" in html
    assert _tier_line(html, "03", "Yếu") == {"Mường Lói", "Na Tông", "Thanh Nưa"}
    assert _tier_line(html, "07", "Tốt") == {"Mường Nhà", "Mường Pồn", "Pa Thơm", "Pom Lót", "Sam Mứn", "Thanh An", "Thanh Yên"}
    assert "58,94" in html and "11,5" in html


def test_report_weaknesses_name_the_seed_units(pipeline_copy):
    """The Tồn tại section names at least the units the seed names, with their points, and weaker ones too."""
    html = (pipeline_copy / "reports" / "dienbiendong_2024-06" / "report.html").read_text(encoding="utf-8")
    for phrase in ("Háng Lìa 27,7/30 điểm", "Xa Dung 27,9/30 điểm", "Phì Nhừ 28/30 điểm",
                   "Tìa Đình 3/10 điểm", "Mường Luân 4,5/5 điểm", "Nong U 8,3/10 điểm",
                   # weaker than the units the seed names on the same indicators
                   "Pú Hồng 1,7/10 điểm", "Phình Giàng 0/5 điểm"):
        assert phrase in html, phrase


def test_html_is_self_contained(pipeline_copy):
    for t in TABLES:
        for f in ("report.html", "validation.html"):
            html = (pipeline_copy / "reports" / t / f).read_text(encoding="utf-8")
            assert "<script src" not in html and "<link" not in html
            assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html


def test_metrics_and_audit_outputs(pipeline_copy):
    m = json.loads((pipeline_copy / "data/processed/huyen-dienbien_2023-07/metrics.json").read_text())
    assert m["units_scored"] == 26 and m["audit_errors"] == 2
    assert m["tiers"] == {"xuat_sac": 3, "tot": 8, "kha": 10, "trung_binh": 2, "yeu": 3}
    audit = pl.read_csv(pipeline_copy / "data/processed/huyen-dienbien_2023-07/audit.csv")
    assert {"indicator_above_max", "total_not_sum"} <= set(audit["check"])


def test_failing_validation_stops_and_keeps_outputs(pipeline_copy):
    t = "dienbiendong_2024-06"
    before = (pipeline_copy / "data/processed" / t / "units.parquet").read_bytes()
    other = (pipeline_copy / "reports/huyen-dienbien_2023-07/report.pdf").read_bytes()
    csv = pipeline_copy / "data/raw/published" / f"{t}.csv"
    original = csv.read_text(encoding="utf-8")
    csv.write_text(original.replace('"9,3","9,3"', '"9,3","chín"'), encoding="utf-8")
    try:
        proc = subprocess.run(["dvc", "repro", "validate", "score", "report"], cwd=pipeline_copy, env=_env(), capture_output=True, text=True, timeout=900)
        assert proc.returncode != 0
        text = proc.stdout + proc.stderr
        assert "UBND Na Son" in text and "dvctt_2" in text
        assert (pipeline_copy / "reports/huyen-dienbien_2023-07/report.pdf").read_bytes() == other
        assert (pipeline_copy / "data/processed" / t / "units.parquet").read_bytes() == before
        assert "KHÔNG ĐẠT" in (pipeline_copy / "reports" / t / "validation.html").read_text(encoding="utf-8")
    finally:
        csv.write_text(original, encoding="utf-8")
    _run(["dvc", "repro", "validate", "score", "report"], pipeline_copy)
