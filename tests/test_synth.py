"""Calibrated synthetic Điện Biên (chiso.synth): committed months, self-consistency,
determinism and calibration targets."""

from __future__ import annotations

import json

import polars as pl
import pytest
import yaml

from chiso import methodology
from chiso.counts import indicator_points, read_counts
from chiso.portal import reproduction_report
from chiso.synth import DEFAULT_SEED, TARGET_YEARLY, generate, main, period_range, simulate
from chiso.units import load_crosswalk, load_registry, units_valid_on

PERIODS = period_range("2024-01", "2026-10")
SAMPLE = ["2024-01", "2025-06", "2025-07", "2026-10"]


@pytest.fixture(scope="module")
def raw(root):
    return root / "data" / "raw"


@pytest.fixture(scope="module")
def sim(root):
    return simulate("2024-01", "2026-10", DEFAULT_SEED, root).with_columns(pl.col("period").str.slice(0, 4).alias("year"))


# --- committed files --------------------------------------------------------------------
def test_every_month_present_and_marked_synthetic(raw, root):
    registry = load_registry(root)
    for period in PERIODS:
        folder = raw / period
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [f"portal_H18_{period}.json", f"bieu_mau_{period}.csv", "period.yaml"]), period
        meta = yaml.safe_load((folder / "period.yaml").read_text(encoding="utf-8"))
        assert meta["period"] == period and meta["synthetic"] is True
        assert meta["generator"]["seed"] == DEFAULT_SEED and "DỮ LIỆU MÔ PHỎNG" in meta["statement"]
        doc = json.loads((folder / f"portal_H18_{period}.json").read_text(encoding="utf-8"))
        md = doc["metadata"]
        assert md["synthetic"] is True and md["timeType"] == "month" and f"{md['year']}-{md['period']:02d}" == period
        codes = [u["departmentCode"] for u in doc["unitsDetail"]]
        valid = set(units_valid_on(registry, period)["unit_code"])
        assert set(codes) == valid == set(meta["units_in_force"]["codes"])      # registry-valid units only
        assert len(codes) == (159 if period < "2025-07" else 65)


def test_files_are_compact_and_small(raw):
    size = sum(f.stat().st_size for p in PERIODS for f in (raw / p).iterdir())
    assert size < 30 * 1024 * 1024
    head = (raw / "2024-01" / "portal_H18_2024-01.json").read_text(encoding="utf-8")[:200]
    assert "\n" not in head and ": " not in head


@pytest.mark.parametrize("period", SAMPLE)
def test_read_counts_and_merge_cover_both_methodologies(raw, period):
    portal = read_counts(raw / period / f"portal_H18_{period}.json")
    template = read_counts(raw / period / f"bieu_mau_{period}.csv")
    assert set(template["indicator"]) == {"online_submission"}
    assert not set(template["indicator"]) & set(portal["indicator"])      # merging never duplicates a metric
    merged = pl.concat([portal, template])
    assert set(merged["period"]) == {period}
    for mid in ("qd459-2023", "qd766-2022"):
        meth = methodology.load(mid)
        needed = {i.metric for i in meth.indicators if i.metric} | {meth.no_dossier_metric}
        assert needed <= set(merged["indicator"]), (mid, needed - set(merged["indicator"]))
        pts = indicator_points(merged, meth)
        scored = pts.filter((pl.col("spec_max") > 0) & ~pl.col("excluded"))
        assert scored.filter(pl.col("basis") == "not available").height == 0, mid


@pytest.mark.parametrize("period", ["2024-06", "2025-07"])
def test_portal_json_is_self_consistent(raw, period):
    rep = reproduction_report(raw / period / f"portal_H18_{period}.json")
    checked = rep.filter(pl.col("max_abs_diff").is_not_null())
    assert (checked["n_matched"] == checked["n_recomputed"]).all()
    total = rep.filter(pl.col("metric") == "TOTAL").row(0, named=True)
    assert total["n_matched"] == total["n_units"]


# --- determinism ----------------------------------------------------------------------
def _bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes(tmp_path, root, raw):
    a, b = tmp_path / "a", tmp_path / "b"
    generate(a, "2025-06", "2025-07", DEFAULT_SEED, root)
    generate(b, "2025-06", "2025-07", DEFAULT_SEED, root)
    for period in ("2025-06", "2025-07"):
        assert _bytes(a / period) == _bytes(b / period)
        assert _bytes(a / period) == _bytes(raw / period)                # the committed months are current
    assert not [p for p in a.iterdir() if p.name.startswith(".")]         # no temporary folder left behind
    generate(b, "2025-07", "2025-07", DEFAULT_SEED + 1, root)
    assert _bytes(b / "2025-07") != _bytes(a / "2025-07")


def test_extra_month_is_the_same_whatever_the_range(tmp_path, root):
    main(["--seed", str(DEFAULT_SEED), "--start", "2026-11", "--end", "2026-11", "--out", str(tmp_path / "one"),
          "--root", str(root), "-q"])
    generate(tmp_path / "range", "2026-10", "2026-11", DEFAULT_SEED, root)
    assert _bytes(tmp_path / "one" / "2026-11") == _bytes(tmp_path / "range" / "2026-11")
    assert read_counts(tmp_path / "one" / "2026-11" / "portal_H18_2026-11.json")["period"].unique().to_list() == ["2026-11"]


# --- calibration ----------------------------------------------------------------------
def test_yearly_totals_near_the_published_figure(sim):
    totals = dict(sim.group_by("year").agg(pl.col("received").sum()).iter_rows())
    for year in ("2024", "2025"):
        assert abs(totals[year] / TARGET_YEARLY - 1) <= 0.05, (year, totals[year])


def test_late_dossiers_plausible_and_concentrated(sim):
    late = sim["overdue"].sum() / sim["received"].sum()
    assert 0.002 <= late <= 0.03
    by_unit = sim.group_by("unit_code").agg(pl.col("overdue").sum()).sort("overdue", descending=True)
    top = by_unit.head(by_unit.height // 10)["overdue"].sum()
    assert top / by_unit["overdue"].sum() > 0.5                            # a tenth of the units has most late dossiers
    with_dossiers = sim.filter(pl.col("received") > 0)
    assert (with_dossiers["on_time"] / with_dossiers["received"] >= 0.95).mean() > 0.85


def test_months_without_dossiers_and_seasonality(sim):
    assert sim.filter(pl.col("received") == 0).height >= 1
    monthly = dict(sim.group_by("period").agg(pl.col("received").sum()).iter_rows())
    assert monthly["2024-02"] < 0.85 * monthly["2024-03"]                  # Tết 2024
    assert monthly["2024-12"] == max(v for k, v in monthly.items() if k.startswith("2024"))   # year-end peak


def test_indicator_levels_and_spreads(sim):
    unit_year = sim.filter(pl.col("year") == "2024").group_by("unit_code", "level").agg(
        (pl.col("online").sum() / pl.col("received").sum()).alias("online"),
        (pl.col("paid").sum() / pl.col("fin").sum()).alias("pay"),
    )
    assert unit_year["online"].std() > 0.15                                # online submission widely spread
    communes = unit_year.filter(pl.col("level").is_in(["xa", "phuong", "thi_tran"]))
    assert (communes["pay"] < 0.10).mean() > 0.25                          # many communes hardly pay online
    dig = sim.group_by("year").agg((pl.col("digitised").sum() / pl.col("received").sum()).alias("d")).sort("year")["d"]
    assert dig[0] < dig[1] < dig[2]                                        # digitisation rising
    assert abs(dig[0] - 212_260 / TARGET_YEARLY) < 0.05                    # 2024: 212.260 of 262.675 dossiers digitised


def test_new_communes_carry_their_predecessors_volume(sim, root):
    xw = load_crosswalk(root)
    before = (sim.filter(pl.col("period").is_between(pl.lit("2025-01"), pl.lit("2025-06")))
              .join(xw, left_on="unit_code", right_on="old_code").group_by("new_code")
              .agg((pl.col("received").sum() / 6).alias("before")))
    after = (sim.filter(pl.col("period").is_between(pl.lit("2025-09"), pl.lit("2026-02"))).group_by("unit_code")
             .agg((pl.col("received").sum() / 6).alias("after")))
    both = before.join(after, left_on="new_code", right_on="unit_code")
    assert both.height == 45
    ratio = both["after"] / both["before"]
    assert ratio.median() > 1.0 and (ratio.is_between(0.7, 4.0)).mean() > 0.9
