"""QĐ 1187 (quarterly, 9 criteria × 2 points): recomputed from the counts of the
Điện Biên Phủ Q1/2022 report and checked against the published criterion scores."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from chiso import compare, counts, methodology

FOLDER = Path(__file__).resolve().parents[1] / "data" / "raw" / "qd1187" / "dienbienphu_2022-Q1"


@pytest.fixture(scope="module")
def comparison() -> pl.DataFrame:
    return compare.qd1187_comparison(FOLDER)


def test_forms_reproduce_published_scores_and_totals(comparison):
    forms = comparison.filter(pl.col("level") == "biểu mẫu")
    got = {(r["unit_code"], r["indicator"]): r for r in forms.iter_rows(named=True)}
    tp, xa = "bieu-mau-03-tp", "bieu-mau-03-xa_phuong"
    assert got[(xa, "tc1")]["recomputed_rounded"] == pytest.approx(1.62) and got[(xa, "tc1")]["status"] == compare.STATUS_MATCH
    assert got[(tp, "tc1")]["recomputed_rounded"] == pytest.approx(1.95)
    assert got[(xa, "tc5")]["recomputed_rounded"] == pytest.approx(1.63)
    assert got[(tp, "total")]["status"] == compare.STATUS_MATCH and got[(tp, "total")]["published"] == 15.85
    assert got[(xa, "total")]["status"] == compare.STATUS_MATCH and got[(xa, "total")]["published"] == 14.86
    for c in ("tc1", "tc2", "tc3", "tc4", "tc5"):
        assert got[(tp, c)]["status"] == got[(xa, c)]["status"] == compare.STATUS_MATCH


def test_every_discrepancy_is_listed(comparison):
    disc = compare.qd1187_discrepancies(FOLDER)
    with pl.Config(tbl_rows=40, fmt_str_lengths=90, tbl_width_chars=200):
        print("\nQĐ 1187, Điện Biên Phủ quý I/2022: điểm công bố không tái lập được")
        print(disc.select("level", "unit", "indicator", "published", "recomputed_rounded", "reason"))
    found = {(r["unit"], r["indicator"]) for r in disc.iter_rows(named=True) if r["level"] == "đơn vị"}
    expected = {
        ("Phòng Quản lý đô thị", "tc3"), ("Phòng Quản lý đô thị", "tc4"), ("Phòng Quản lý đô thị", "tc9"),
        ("Phòng TNMT-Trung tâm QLĐĐ", "tc3"), ("Phòng TNMT-Trung tâm QLĐĐ", "tc4"),
        ("Phường Nam Thanh", "tc5"), ("Xã Pá Khoang", "tc9"), ("Xã Nà Táu", "tc3"), ("Xã Nà Táu", "tc4"),
    }
    assert expected <= found
    assert {i for _, i in found} <= {"tc3", "tc4", "tc5", "tc9", "total"}
    assert all(disc["reason"].is_not_null())
    # the city form marks level 1 for criterion 9 but scores it 0
    form = disc.filter(pl.col("level") == "biểu mẫu")
    assert form.select("unit_code", "indicator").rows() == [("bieu-mau-03-tp", "tc9")]
    assert "Dấu x" in form["reason"].item()


def test_criteria_1_2_match_for_every_unit_with_counts(comparison):
    units = comparison.filter((pl.col("level") == "đơn vị") & pl.col("indicator").is_in(["tc1", "tc2"])
                              & pl.col("recomputed").is_not_null())
    assert units.height == 2 * 20
    assert (units["status"] == compare.STATUS_MATCH).all()


def test_units_without_inputs_are_not_invented():
    pts = counts.indicator_points(counts.read_qd1187(FOLDER), methodology.load("qd1187-2019"))
    noi_vu = pts.filter(pl.col("unit") == "Nội vụ")
    assert noi_vu["excluded"].all()                                   # no dossier → not scored
    thanh_tra = pts.filter((pl.col("unit") == "Thanh tra") & pl.col("indicator").is_in(["tc1", "tc5"]))
    assert (thanh_tra["basis"] == counts.BASIS_NOT_AVAILABLE).all()  # no resolution counts stated
    tc6 = pts.filter((pl.col("indicator") == "tc6") & ~pl.col("excluded"))
    assert (tc6["basis"] == counts.BASIS_CARRIED).all()              # no input: published value carried
