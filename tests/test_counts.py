"""Counts-level input (template adapter) and the rule interpreter."""

from __future__ import annotations


import polars as pl
import pytest

from chiso import counts, methodology, scoring
from chiso.errors import InputError
from chiso.methodology import MethodologyError

from .helpers import CAPTURE, ROOT, make_counts

EXAMPLE = ROOT / "data" / "raw" / "templates" / "counts_template_example.csv"
HEADER_VI = "Kỳ,Mã đơn vị,Tên đơn vị,Nhóm đơn vị,Chỉ tiêu,Tử số,Mẫu số,Số liệu tạm,Điểm nguồn,Điểm tối đa nguồn,Ghi chú\n"



def points_of(df: pl.DataFrame, unit: str, indicator: str) -> dict:
    return df.filter((pl.col("unit_code") == unit) & (pl.col("indicator") == indicator)).row(0, named=True)


# -- template adapter -------------------------------------------------------
def test_example_template_reads_with_vietnamese_headers():
    c = counts.read_template(EXAMPLE)
    assert list(c.columns) == list(counts.COUNTS_SCHEMA)
    assert c.schema["numerator"] == pl.Float64 and c.schema["provisional"] == pl.Boolean
    assert c["unit_code"].n_unique() == 3
    sync = c.filter((pl.col("unit_code") == "H21.17") & (pl.col("indicator") == "dossier_sync")).row(0, named=True)
    assert sync["provisional"] is True and sync["numerator"] == 547
    ckmb = c.filter((pl.col("unit_code") == "H21.17") & (pl.col("indicator") == "group_ckmb")).row(0, named=True)
    assert ckmb["source_score"] == pytest.approx(11.79) and ckmb["available"] is False


def test_template_canonical_headers_and_number_formats(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("period,unit_name,indicator,numerator,denominator,source_score\n"
                 "2024-06,Xã A,on_time,1.234,2.000,\"82,96\"\n"
                 "2024-06,Xã A,dossiers_received,2000,,\n", encoding="utf-8")
    c = counts.read_template(f)
    row = c.filter(pl.col("indicator") == "on_time").row(0, named=True)
    assert (row["numerator"], row["denominator"], row["source_score"]) == (1234, 2000, pytest.approx(82.96))
    assert row["unit_code"] == "Xã A" and row["unit_group"] == counts.DEFAULT_UNIT_GROUP
    assert c.filter(pl.col("indicator") == "dossiers_received")["available"].item() is True


def test_template_xlsx_equals_csv(tmp_path):
    import openpyxl

    csv_rows = [line.split(",") for line in (HEADER_VI + "2024-06,X1,Xã Một,UBND các xã,on_time,9,10,không,,,\n"
                                             "2024-06,X1,Xã Một,UBND các xã,online_payment,1,4,có,1.234,2,\n").splitlines()]
    wb = openpyxl.Workbook()
    for r in csv_rows:
        wb.active.append([int(v) if v.isdigit() else float(v) if v.replace(".", "", 1).isdigit() else (v or None)
                          for v in r])
    path = tmp_path / "c.xlsx"
    wb.save(path)
    c = counts.read_counts(path)
    assert c.height == 2
    op = c.filter(pl.col("indicator") == "online_payment").row(0, named=True)
    assert op["provisional"] is True and op["source_score"] == pytest.approx(1.234)  # a float cell, not 1.234 thousands
    assert c["numerator"].to_list() == [9.0, 1.0]


@pytest.mark.parametrize("body, column, rule", [
    ("2024-06,X1,Xã Một,G,on_time,11,10,không,,,\n", "numerator", "numerator_le_denominator"),
    ("2024-06,X1,Xã Một,G,on_time,-1,10,không,,,\n", "numerator", "non_negative"),
    ("2024-06,X1,Xã Một,G,on_time,abc,10,không,,,\n", "numerator", "number_format"),
    ("2024-06,X1,Xã Một,G,On Time,1,10,không,,,\n", "indicator", "indicator_code"),
    ("2024-06,X1,Xã Một,G,on_time,1,10,không,,,\n2024-06,X1,Xã Một,G,on_time,2,10,không,,,\n", "indicator", "unique_rows"),
    ("2024-06,X1,Xã Một,G,on_time,1,10,hmm,,,\n", "provisional", "boolean_format"),
])
def test_template_errors_name_row_column_rule(tmp_path, body, column, rule):
    f = tmp_path / "c.csv"
    f.write_text(HEADER_VI + body, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        counts.read_template(f)
    assert exc.value.column == column and exc.value.rule == rule and exc.value.row == 2
    assert "dòng 2" in str(exc.value)


def test_template_missing_required_column(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("Kỳ,Tên đơn vị,Tử số\n2024-06,Xã A,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="Thiếu cột bắt buộc: Chỉ tiêu \\(indicator\\)"):
        counts.read_template(f)


def test_read_counts_detects_by_content(tmp_path):
    json_copy = tmp_path / "portal.txt"  # no extension: detected by content
    json_copy.write_text(CAPTURE.read_text(encoding="utf-8"))
    assert counts.read_counts(json_copy)["unit_code"].n_unique() == 149
    assert counts.read_counts(EXAMPLE)["unit_code"].n_unique() == 3
    with pytest.raises(FileNotFoundError):
        counts.read_counts(tmp_path / "missing.csv")


# -- rules ------------------------------------------------------------------
def test_linear_threshold_zero_denominator_and_tracked():
    m = methodology.load("qd766-2022")
    c = make_counts([
        ("U", "on_time", 653, 654), ("U", "reused_digitized_data", 5894, 10000),
        ("U", "dossier_satisfaction", 95, 100), ("U", "petition_on_time", 0, 0),
        ("U", "e_result", 0, 0), ("U", "petition_classification_staff", 1, 4),
        ("U", "electronic_certified_copy", None, None, 2.0, 2.0), ("U", "dossiers_received", 654, None),
    ])
    p = counts.indicator_points(c, m)
    assert points_of(p, "U", "on_time")["points"] == pytest.approx(19.97)           # linear 653/654 × 20
    assert points_of(p, "U", "reused_digitized_data")["points"] == pytest.approx(1.47)  # 58,94 % / 80 % × 2
    assert points_of(p, "U", "dossier_satisfaction")["points"] == 6                 # ≥ 90 % → full
    pk = points_of(p, "U", "petition_on_time")
    assert (pk["points"], pk["rule"], pk["applicable"]) == (6, "zero_denominator:full", True)
    er = points_of(p, "U", "e_result")
    assert (er["points"], er["rule"], er["applicable"]) == (0, "zero_denominator:zero", True)
    assert points_of(p, "U", "petition_classification_staff")["max"] == 0          # tracked, not scored
    ecc = points_of(p, "U", "electronic_certified_copy")
    assert (ecc["points"], ecc["basis"], ecc["recomputed"]) == (2, counts.BASIS_CARRIED, False)
    missing = points_of(p, "U", "publish_on_time")
    assert (missing["basis"], missing["applicable"], missing["max"]) == (counts.BASIS_NOT_AVAILABLE, False, 6)
    # the national rule never removes an indicator: the missing one stays in the max
    units = counts.unit_table(p, m)
    assert units["applicable_max"].item() == 100


def test_output_feeds_scoring_unit_scores_directly():
    m = methodology.load("qd459-2023")
    p = counts.indicator_points(make_counts([("A", "on_time", 9, 10), ("B", "on_time", 10, 10)]), m)
    direct = scoring.unit_scores(p, m)
    assert set(direct["unit"]) == {"A", "B"}
    assert direct.sort("unit")["total"].to_list() == pytest.approx([27.0, 30.0])
    assert direct.sort("unit")["converted"].to_list() == pytest.approx([90.0, 100.0])


def seed_no_dossier_commune() -> pl.DataFrame:
    """Mường Lói, huyện Điện Biên 7/2023: no dossier; ckmb_2 4,81; PAKN and satisfaction 5/5/5."""
    rows = [("ML", "public_update_on_time", 481, 500), ("ML", "dossiers_received", 0, None)]
    rows += [("ML", ind, 0, 0) for ind in ("on_time", "online_submission", "online_payment", "e_result", "digitised",
                                           "petition_on_time", "petition_satisfaction", "dossier_satisfaction")]
    rows += [("NH", "public_update_on_time", 481, 500), ("NH", "dossiers_received", 10, None), ("NH", "on_time", 10, 10)]
    return make_counts(rows)


def test_no_dossier_policy_zero_reproduces_seed_and_exclude_is_default():
    zero = methodology.load("qd459-2023", {"no_dossier_policy": "zero"})
    u = counts.unit_table(counts.indicator_points(seed_no_dossier_commune(), zero), zero)
    ml = u.filter(pl.col("unit") == "ML").row(0, named=True)
    # seed: 19,81 / 85 → 23,31, Yếu
    assert (ml["total_rounded"], ml["applicable_max"], ml["converted_rounded"], ml["tier"]) == (19.81, 85, 23.31, "Yếu")
    default = methodology.load("qd459-2023")
    u = counts.unit_table(counts.indicator_points(seed_no_dossier_commune(), default), default)
    ml = u.filter(pl.col("unit") == "ML").row(0, named=True)
    assert ml["excluded"] and ml["converted"] is None and ml["rank"] is None and ml["tier"] is None
    assert "Không có hồ sơ" in ml["reason"]
    assert u.filter(pl.col("unit") == "NH")["rank"].item() == 1


def test_not_applicable_policy_is_one_engine_option():
    c = make_counts([("A", "on_time", 10, 10), ("A", "online_payment", 0, 0), ("A", "dossiers_received", 10, None)])
    removed = methodology.load("qd459-2023")
    zeroed = methodology.load("qd459-2023", {"not_applicable": "count_as_zero"})
    ur = counts.unit_table(counts.indicator_points(c, removed), removed).row(0, named=True)
    uz = counts.unit_table(counts.indicator_points(c, zeroed), zeroed).row(0, named=True)
    assert ur["applicable_max"] == 30 and ur["converted"] == pytest.approx(100)
    assert uz["applicable_max"] == 100 and uz["converted"] == pytest.approx(30)


def test_weighted_levels_and_bands_qd1187():
    m = methodology.load("qd1187-2019")
    c = make_counts([
        ("X", "resolved_early", 4919, None), ("X", "resolved_on_time", 2902, None), ("X", "resolved_late", 38, None),
        ("X", "dossiers_received", 7862, None), ("X", "online_submission", 30, 100), ("X", "online_late", 0, None),
        ("Y", "resolved_early", 5, None), ("Y", "dossiers_received", 5, None), ("Y", "online_submission", 29, 100),
        ("Z", "resolved_early", 5, None), ("Z", "dossiers_received", 5, None), ("Z", "online_submission", 40, 100),
        ("Z", "online_late", 1, None),
    ])
    p = counts.indicator_points(c, m)
    assert points_of(p, "X", "tc1")["points"] == pytest.approx((2 * 4919 + 2902) / 7859)  # 1,62
    assert round(points_of(p, "X", "tc1")["points"], 2) == 1.62
    assert points_of(p, "X", "tc5")["points"] == pytest.approx((2 * 4919 + 2902) / 7821)  # 1,63
    assert points_of(p, "X", "tc9")["points"] == 2   # 30 % → 2
    assert points_of(p, "Y", "tc9")["points"] == 1   # 29 % → 1
    assert points_of(p, "Y", "tc1")["points"] == 2   # only early stated: the other levels count 0
    assert points_of(p, "Z", "tc9")["points"] == 0   # a late online dossier → 0
    assert points_of(p, "Y", "tc6")["basis"] == counts.BASIS_NOT_AVAILABLE


def test_group_score_kept_when_a_group_has_no_metrics():
    m = methodology.load("qd766-2022")
    c = make_counts([("U", "group_ckmb", None, None, 11.79, 18.0), ("U", "on_time", 20, 20)])
    p = counts.indicator_points(c, m)
    g = points_of(p, "U", "group_ckmb")
    assert (g["points"], g["max"], g["basis"], g["rule"]) == (11.79, 18, counts.BASIS_CARRIED, "group_carried")
    ckmb = p.filter((pl.col("group") == "CKMB") & (pl.col("indicator") != "group_ckmb"))
    assert ckmb["basis"].unique().to_list() == [counts.BASIS_NOT_AVAILABLE]
    assert ckmb["max"].sum() == 0 and ckmb["spec_max"].sum() == 18
    u = counts.unit_table(p, m).row(0, named=True)
    assert u["applicable_max"] == 100 and u["total"] == pytest.approx(31.79)


# -- every knob reachable through apply_overrides ----------------------------
def test_overriding_threshold_changes_points():
    c = make_counts([("U", "reused_digitized_data", 60, 100)])
    base = counts.indicator_points(c, methodology.load("qd766-2022"))
    lower = counts.indicator_points(c, methodology.load("qd766-2022", {"rules": {"reused_digitized_data": {"threshold": 0.5}}}))
    assert points_of(base, "U", "reused_digitized_data")["points"] == pytest.approx(1.5)
    assert points_of(lower, "U", "reused_digitized_data")["points"] == 2


def test_overriding_zero_denominator_policy_changes_points():
    c = make_counts([("U", "petition_on_time", 0, 0), ("U", "on_time", 0, 0)])
    base = counts.indicator_points(c, methodology.load("qd766-2022"))
    changed = counts.indicator_points(c, methodology.load("qd766-2022", {"rules": {
        "petition_on_time": {"zero_denominator": "zero"}, "on_time": {"zero_denominator": "full"}}}))
    assert points_of(base, "U", "petition_on_time")["points"] == 6 and points_of(changed, "U", "petition_on_time")["points"] == 0
    assert points_of(base, "U", "on_time")["points"] == 0 and points_of(changed, "U", "on_time")["points"] == 20
    na = counts.indicator_points(c, methodology.load("qd459-2023", {"rules": {"hailong_1": {"zero_denominator": "not_applicable"}}}))
    assert points_of(na, "U", "hailong_1")["applicable"] is False


def test_overriding_max_bands_kind_rounding_and_fallback():
    c = make_counts([("U", "online_submission", 20, 100), ("U", "on_time", 1, 3), ("U", "dossiers_received", 3, None),
                     ("U", "e_result", None, None, 3.0, 6.0)])
    m = methodology.load("qd1187-2019", {"rules": {"tc9": {"bands": [{"min": 0.2, "points": 2}]}}})
    assert points_of(counts.indicator_points(c, m), "U", "tc9")["points"] == 2
    m = methodology.load("qd1187-2019", {"max": {"tc9": 4}})
    assert points_of(counts.indicator_points(c, m), "U", "tc9")["points"] == 2  # band 1 of 2, scaled to max 4
    m = methodology.load("qd766-2022", {"rules": {"on_time": {"kind": "threshold", "threshold": 0.25}}})
    assert points_of(counts.indicator_points(c, m), "U", "on_time")["points"] == 20
    exact = methodology.load("qd766-2022", {"sum_rounded_points": False})
    assert points_of(counts.indicator_points(c, exact), "U", "on_time")["points"] == pytest.approx(20 / 3)
    assert points_of(counts.indicator_points(c, methodology.load("qd766-2022")), "U", "on_time")["points"] == 6.67
    carried = counts.indicator_points(c, methodology.load("qd766-2022"))
    assert points_of(carried, "U", "e_result")["points"] == 3
    none = counts.indicator_points(c, methodology.load("qd766-2022", {"fallback": "none"}))
    assert points_of(none, "U", "e_result")["basis"] == counts.BASIS_NOT_AVAILABLE
    with pytest.raises(MethodologyError):
        methodology.load("qd766-2022", {"rules": {"on_time": {"zero_denominator": "maybe"}}})


def test_score_file_and_unit_table_entry_points():
    pts = counts.score_file(EXAMPLE, "qd766-2022")
    for col in ("unit", "indicator", "numerator", "denominator", "ratio", "rule", "max", "points", "recomputed", "basis"):
        assert col in pts.columns
    units = counts.unit_table(pts, methodology.load("qd766-2022"))
    assert dict(zip(units["unit_code"], units["total_rounded"])) == {"H21.17": 79.27, "H21.211": 73.05, "H21.20": 19.79}
    pts459 = counts.score_file(EXAMPLE, "qd459-2023", overrides={"tiers": {"xuat_sac": 95}})
    u459 = counts.unit_table(pts459, methodology.load("qd459-2023", {"tiers": {"xuat_sac": 95}}))
    assert u459.filter(pl.col("unit_code") == "H21.20")["excluded"].item() is True
    assert u459.filter(~pl.col("excluded"))["converted"].is_between(0, 100).all()
