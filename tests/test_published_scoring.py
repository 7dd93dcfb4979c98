"""Scoring the two real published tables: totals, converted scores, tiers, ranks."""

from __future__ import annotations

import polars as pl
import pytest

from chiso import published, scoring
from chiso.methodology import MethodologyError, load
from chiso.numbers import fmt_count, fmt_num, fmt_signed, fmt_units, round_half_up

from .conftest import RAW

TABLES = ["huyen-dienbien_2023-07", "dienbiendong_2024-06"]


def score(table_id, meth):
    t = published.read_published(RAW / f"{table_id}.csv", meth)
    return t, scoring.unit_scores(published.points_long(t, meth), meth)


@pytest.mark.parametrize("table_id", TABLES)
def test_recomputed_tiers_match_published(table_id, qd459):
    t, units = score(table_id, qd459)
    pub = t.wide.select("unit_group", "unit", "published_tier").with_columns(
        pl.col("published_tier").map_elements(qd459.canonical_tier, return_dtype=pl.String))
    joined = units.join(pub, on=["unit_group", "unit"])
    assert joined.height == t.wide.height
    mismatched = joined.filter(pl.col("tier") != pl.col("published_tier"))
    assert mismatched.height == 0, mismatched


@pytest.mark.parametrize("table_id", TABLES)
def test_tier_counts_match_report_text(table_id, qd459):
    t, units = score(table_id, qd459)
    counts = scoring.tier_counts(units, qd459)
    for claim in t.meta["text_claims"]:
        g = counts.filter(pl.col("unit_group") == claim["unit_group"])
        assert units.filter(pl.col("unit_group") == claim["unit_group"]).height == claim["units_scored"]
        for tier, spec in claim["tiers"].items():
            assert g.filter(pl.col("tier") == tier)["count"].item() == spec["count"], (claim["unit_group"], tier)


def test_dienbiendong_counts_6_6_2(qd459):
    _, units = score("dienbiendong_2024-06", qd459)
    got = dict(units.group_by("tier").len().iter_rows())
    assert got == {"Xuất sắc": 6, "Tốt": 6, "Khá": 2}


def test_applicable_max_follows_not_applicable_cells(qd459):
    _, units = score("huyen-dienbien_2023-07", qd459)
    by_unit = {r["unit"]: r for r in units.iter_rows(named=True)}
    assert by_unit["Phòng Nội vụ"]["applicable_max"] == 65  # 100 - 5 - 10 - 10 - 10
    assert by_unit["Phòng Lao động - Thương binh và Xã hội"]["applicable_max"] == 75
    assert by_unit["Trung tâm QLĐĐ"]["total"] == pytest.approx(58.94)
    assert by_unit["Trung tâm QLĐĐ"]["converted_rounded"] == pytest.approx(69.34)


def test_ranks_within_group_and_ties_share_rank(qd459):
    _, units = score("dienbiendong_2024-06", qd459)
    by_unit = {r["unit"]: r["rank"] for r in units.iter_rows(named=True)}
    assert by_unit["UBND Luân Giới"] == 1
    # Keo Lôm and Chiềng Sơ both recompute to 77,9/85 = 91,65: same rank, next rank skipped
    assert by_unit["UBND Keo Lôm"] == by_unit["UBND Chiềng Sơ"] == 3
    assert by_unit["UBND Mường Luân"] == 5
    _, units = score("huyen-dienbien_2023-07", qd459)
    assert set(units.filter(pl.col("rank") == 1)["unit"]) == {"Phòng Kinh tế và Hạ tầng", "UBND xã Núa Ngam"}


def test_count_as_zero_policy_keeps_max(qd459):
    meth = load("qd459-2023", {"not_applicable": "count_as_zero"})
    _, units = score("huyen-dienbien_2023-07", meth)
    assert set(units["applicable_max"].to_list()) == {100.0}
    noi_vu = units.filter(pl.col("unit") == "Phòng Nội vụ").row(0, named=True)
    assert noi_vu["converted"] == pytest.approx(36.15)


def test_tier_override_changes_tiers():
    meth = load("qd459-2023", {"tiers": {"xuat_sac": 92}})
    _, units = score("dienbiendong_2024-06", meth)
    # only 94,12 (Luân Giới) and 92,47 (Na Son) reach 92; the other four Xuất sắc become Tốt
    assert set(units.filter(pl.col("tier") == "Xuất sắc")["unit"]) == {"UBND Luân Giới", "UBND Na Son"}
    assert units.filter(pl.col("tier") == "Tốt").height == 10


def test_bad_overrides_are_refused():
    with pytest.raises(MethodologyError):
        load("qd459-2023", {"tiers": {"gioi": 95}})
    with pytest.raises(MethodologyError):
        load("qd459-2023", {"max": {"no_such_indicator": 3}})
    with pytest.raises(MethodologyError):
        load("qd459-2023", {"not_applicable": "ignore"})
    with pytest.raises(MethodologyError):
        load("no-such-decision")


def test_methodology_file_is_consistent(qd459):
    assert qd459.max_total == 100
    assert [t.name for t in qd459.tiers] == ["Xuất sắc", "Tốt", "Khá", "Trung bình", "Yếu"]
    assert qd459.canonical_tier("XS") == "Xuất sắc"
    assert qd459.tier_of(89.99) == "Tốt" and qd459.tier_of(90) == "Xuất sắc" and qd459.tier_of(49.99) == "Yếu"
    assert all(a for _, a in qd459.assumptions())


def test_vietnamese_number_formats():
    assert fmt_num(82.96) == "82,96"
    assert fmt_count(262675) == "262.675"
    assert fmt_num(23.305, 2) == "23,31"  # half up, like the published tables
    assert fmt_units(6) == "06"
    assert fmt_signed(2.86) == "+2,86" and fmt_signed(-0.3) == "-0,30"
    assert fmt_signed(None) == "-" and fmt_signed(float("nan")) == "-" and fmt_signed(-0.004) == "0,00"
    assert fmt_num(None) == "-"
    assert round_half_up(69.335, 2) == 69.34
