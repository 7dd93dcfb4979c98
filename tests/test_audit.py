"""Audit of published tables: the seeds' real errors are found, and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl

from chiso import audit, published

from .conftest import RAW


def run_audit(path, meth):
    return audit.audit_table(published.read_published(path, meth), meth)


def test_huyen_dienbien_real_errors_found(qd459):
    f = run_audit(RAW / "huyen-dienbien_2023-07.csv", qd459)
    errors = f.filter(pl.col("severity") == "error")
    above = errors.filter(pl.col("check") == "indicator_above_max").row(0, named=True)
    assert (above["unit"], above["field"], above["published"]) == ("UBND xã Núa Ngam", "sohoa_2", "11,5")
    total = errors.filter(pl.col("check") == "total_not_sum").row(0, named=True)
    assert total["unit"] == "Trung tâm QLĐĐ"
    assert (total["published"], total["recomputed"]) == ("58,69", "58,94")
    assert "điểm quy đổi in khớp với tổng đúng" in total["message"]
    # its converted score matches the true sum: no converted_mismatch for that unit
    assert f.filter((pl.col("check") == "converted_mismatch") & (pl.col("unit") == "Trung tâm QLĐĐ")).height == 0
    # exactly these two errors: no false alarms on rows that agree within printed precision
    assert errors.height == 2, errors
    mixed = f.filter(pl.col("check") == "mixed_decimal_separator")
    assert mixed.select("unit", "field", "published").rows() == [("Phòng Tư pháp", "dvctt_1", "8.32")]
    zero = set(f.filter(pl.col("check") == "zero_on_dossier_indicators")["unit"])
    assert zero == {"UBND xã Mường Lói", "UBND xã Na Tông", "UBND xã Thanh Nưa"}


def test_dienbiendong_has_no_false_alarm(qd459):
    """One-decimal table whose rows differ from their own printed figures by hundredths."""
    f = run_audit(RAW / "dienbiendong_2024-06.csv", qd459)
    assert f.filter(pl.col("severity") != "info").height == 0, f


def test_converted_and_tier_errors_detected(qd459, table_copy):
    # Phòng Tư pháp printed 82,88 Tốt: make it 85,88 and Xuất sắc
    path = table_copy("huyen-dienbien_2023-07", edit=lambda s: s.replace('"70,45",85,"82,88",Tốt', '"70,45",85,"85,88",Xuất sắc'))
    f = run_audit(path, qd459)
    checks = set(f.filter(pl.col("unit") == "Phòng Tư pháp")["check"])
    assert {"converted_mismatch", "tier_vs_printed_score", "tier_vs_recomputed"} <= checks


def test_max_and_duplicate_and_text_claims(qd459, table_copy):
    def edit(s):
        s = s.replace('"36,15",65,', '"36,15",70,')
        return s + s.splitlines()[-1] + "\n"  # duplicate the last row

    def meta_edit(m):
        return m.replace("      Tốt:\n        count: 1\n", "      Tốt:\n        count: 2\n")

    path = table_copy("huyen-dienbien_2023-07", edit=edit, meta_edit=meta_edit)
    f = run_audit(path, qd459)
    checks = set(f["check"])
    assert {"max_mismatch", "duplicate_unit", "text_count_mismatch"} <= checks
    wrong = f.filter(pl.col("check") == "text_count_mismatch")
    assert any("02 đơn vị xếp loại Tốt" in m for m in wrong["message"])


def test_text_unit_names_checked(qd459, table_copy):
    path = table_copy("huyen-dienbien_2023-07",
                      meta_edit=lambda m: m.replace("units: [Núa Ngam]", "units: [Thanh Yên]"))
    f = run_audit(path, qd459)
    names = set(f.filter(pl.col("check") == "text_unit_mismatch")["unit"])
    assert names == {"thanh yên", "núa ngam"}


def test_cli_audit_prints_and_writes(tmp_path, root):
    csv = RAW / "huyen-dienbien_2023-07.csv"
    proc = subprocess.run([sys.executable, "-m", "chiso.cli", "audit", str(csv), "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=root, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Núa Ngam" in proc.stdout and "58,94" in proc.stdout
    data = json.loads((tmp_path / "huyen-dienbien_2023-07.audit.json").read_text(encoding="utf-8"))
    assert {d["check"] for d in data} >= {"indicator_above_max", "total_not_sum"}
    assert (tmp_path / "huyen-dienbien_2023-07.audit.csv").read_text(encoding="utf-8").startswith("table,row,")
