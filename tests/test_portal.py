"""The national portal capture (Gia Lai, 149 units, 10/10/2026) as input and as test oracle."""

from __future__ import annotations

import copy
import json
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest

from chiso import compare, counts, portal

from .helpers import CAPTURE


# Metrics the capture gives with numerator and denominator and a printed score.
REPRODUCIBLE = ["publish_on_time", "public_update_on_time", "public_content_full", "dossier_sync", "on_time",
                "e_result", "digitised", "reused_digitized_data", "synced_with_dvcqg_personal_storage",
                "citizen_data_connected_dossier", "citizen_data_connected_formality", "dossier_satisfaction",
                "petition_on_time", "petition_satisfaction"]


@pytest.fixture(scope="module")
def data() -> dict:
    return json.loads(CAPTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def report(qd766):
    return portal.reproduction_report(CAPTURE, qd766)


def test_counts_of_the_capture(data):
    c = portal.read_portal(data)
    assert c["unit_code"].n_unique() == 149 and c["period"].unique().to_list() == ["2026"]
    assert set(c["unit_group"].unique()) == {portal.UNIT_GROUPS["AGENCY"], portal.UNIT_GROUPS["COMMUNE"]}
    sync = c.filter(pl.col("indicator") == "dossier_sync")
    assert sync.height == 149 and sync["provisional"].all()        # every DOSSIER_SYNC has dataQualityStatus
    assert not c.filter(pl.col("indicator") != "dossier_sync")["provisional"].any()
    assert c.filter(pl.col("indicator").str.starts_with("group_")).height == 149 * 6
    ecc = c.filter(pl.col("indicator") == "electronic_certified_copy")
    assert not ecc["available"].any() and (ecc["source_score"] == 2).all()


def test_reproduction_report(report):
    with pl.Config(tbl_rows=30, tbl_cols=10, fmt_str_lengths=70, tbl_width_chars=180):
        print("\nTái lập điểm Cổng DVCQG (Gia Lai, 10/10/2026):")
        print(report)
    rows = {r["metric"]: r for r in report.iter_rows(named=True)}
    for metric in REPRODUCIBLE:
        r = rows[metric]
        assert (r["n_units"], r["n_recomputed"], r["n_matched"]) == (149, 149, 149), metric
        assert r["max_abs_diff"] <= 0.01
    total = rows["TOTAL"]
    assert (total["n_units"], total["n_matched"]) == (149, 149) and total["max_abs_diff"] <= 0.03
    # what is not reproducible is listed with its reason
    for metric in ("online_service", "online_payment_group", "electronic_certified_copy"):
        assert rows[metric]["n_recomputed"] == 0 and "không tính lại" in rows[metric]["reason"]
    for metric in ("online_payment", "online_payment_formality", "petition_classification_tthc"):
        assert rows[metric]["n_matched"] == 0 and rows[metric]["reason"] == portal.REASONS["tracked"]


def test_rounding_is_half_up_of_the_unrounded_ratio(data, qd766):
    """Finding: score = round(num/den [/threshold] × max, 2) from the unrounded ratio.

    Rounding the printed 2-decimal percentage first misses some printed scores; the
    capture holds no exact half-cent tie that would tell half-up from banker's
    rounding (112/512 × 4 = 0,875 → 0,88 under both), so half up is used.
    """
    pts = counts.indicator_points(portal.read_portal(data), qd766).filter(
        pl.col("indicator").is_in(REPRODUCIBLE) & pl.col("ratio").is_not_null() & pl.col("source_score").is_not_null())
    thr = {"reused_digitized_data": 0.8, "dossier_satisfaction": 0.9}
    misses = 0
    for r in pts.iter_rows(named=True):
        pct = Decimal(repr(r["ratio"] * 100)).quantize(Decimal("0.01"), ROUND_HALF_UP)
        share = min(1.0, float(pct) / 100 / thr.get(r["indicator"], 1.0))
        ratio_first = float(Decimal(repr(share * r["spec_max"])).quantize(Decimal("0.01"), ROUND_HALF_UP))
        misses += abs(ratio_first - r["source_score"]) > 1e-9
    assert misses > 0
    assert (pts["points"] - pts["source_score"]).abs().max() < 1e-9


def test_capture_without_a_groups_metrics_keeps_the_group_score(data, qd766):
    broken = copy.deepcopy(data)
    for unit in broken["unitsDetail"]:
        del unit["componentIndicators"]["CKMB_CongKhaiMinhBach"]["metrics"]
        unit["componentIndicators"]["MDHL_MucDoHaiLong"] = {"score": unit["groupScores"]["MDHL"], "maxScore": 18}
    c = portal.read_portal(broken)
    assert c.filter(pl.col("indicator").is_in(["publish_on_time", "dossier_sync", "petition_on_time"])).height == 0
    pts = counts.indicator_points(c, qd766)
    g = pts.filter(pl.col("indicator") == "group_ckmb")
    assert g.height == 149 and (g["basis"] == counts.BASIS_CARRIED).all() and (g["max"] == 18).all()
    metrics = pts.filter(pl.col("group").is_in(["CKMB", "MDHL"]) & ~pl.col("group_row"))
    assert (metrics["basis"] == counts.BASIS_NOT_AVAILABLE).all() and metrics["max"].sum() == 0
    totals = portal.total_comparison(broken, qd766, pts)
    assert (totals["abs_diff"] <= 0.03).all()


def test_qd459_from_the_same_counts_and_side_by_side(data, tmp_path):
    c = portal.read_portal(data)
    table = compare.national_vs_provincial(c, portal_units=portal.read_units(data))
    assert table.height == 149
    scored = table.filter(~pl.col("qd459_excluded"))
    assert scored.height == 148                               # Thanh tra tỉnh: no dossier → excluded (QĐ 459)
    assert scored["qd459_converted"].is_between(0, 100).all() and scored["qd459_tier"].is_not_null().all()
    assert ((table["qd766_total"] - table["portal_total"]).abs() < 1e-9).all()
    assert table.filter(pl.col("unit_code") == "H21.20")["qd766_rank"].item() == 14  # last agency on the portal too
    written = compare.write_national_vs_provincial(CAPTURE, tmp_path)
    assert pl.read_csv(written["comparison_csv"]).height == 149
    assert pl.read_parquet(written["reproduction"])["metric"].to_list()[-1] == "TOTAL"


def test_integer_codes_and_padded_names_key_units_alike_in_both_readers(data, qd766):
    """A capture whose departmentCode is a number and whose names carry spaces: the counts
    and the unit figures name each unit the same way, so the totals still join."""
    odd = copy.deepcopy(data)
    for i, unit in enumerate(odd["unitsDetail"]):
        unit["departmentCode"] = 1000 + i
        unit["departmentName"] = f" {unit['departmentName']} "
    c, u = portal.read_portal(odd), portal.read_units(odd)
    assert c["unit_code"].dtype == u["unit_code"].dtype == pl.String
    assert set(c["unit_code"]) == set(u["unit_code"]) and set(c["unit_name"]) == set(u["unit_name"])
    assert not u["unit_name"].str.starts_with(" ").any()
    totals = portal.total_comparison(odd, qd766)
    assert totals.height == 149 and (totals["abs_diff"] <= 0.03).all()
