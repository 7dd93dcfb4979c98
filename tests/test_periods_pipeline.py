"""The monthly routine on counts, in a throw-away copy: a few months across the
1/7/2025 reform, then one month appended the way an analyst would."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from .pipeline_utils import copy_repo, run, stages_run

PERIODS = ["2024-07", "2025-06", "2025-07"]



@pytest.fixture(scope="module")
def series(tmp_path_factory) -> Path:
    def edit(params):
        params["periods"] = PERIODS
        params["national_portal"]["captures"] = []
        params["published"]["tables"] = []
        params["qd1187"]["reports"] = []

    dest = copy_repo(tmp_path_factory.mktemp("series"), edit)
    run(["dvc", "repro"], dest)
    return dest


def test_every_period_and_the_trend_are_built(series):
    for p in PERIODS:
        for f in ("report.html", "report.pdf", "validation.html"):
            assert (series / "reports" / p / f).stat().st_size > 1000, (p, f)
        for f in ("counts.parquet", "units_qd459-2023.parquet", "units_qd766-2022.parquet", "metrics.json"):
            assert (series / "data/processed/periods" / p / f).exists()
    assert (series / "reports/trend/report.html").exists()
    province = pl.read_csv(series / "data/processed/trend/province.csv")
    assert province.filter(pl.col("methodology") == "qd459-2023")["period"].to_list() == PERIODS


def test_reports_say_the_data_are_synthetic(series):
    html = (series / "reports/2025-07/report.html").read_text(encoding="utf-8")
    assert "DỮ LIỆU MÔ PHỎNG" in html


def test_pre_reform_month_has_district_reports(series):
    districts = sorted((series / "reports/2024-07/districts").glob("*.pdf"))
    assert len(districts) == 10
    assert not list((series / "reports/2025-07/districts").glob("*.pdf"))


def test_post_reform_month_compares_with_merged_predecessors(series):
    """A new commune formed from several old ones is compared with their summed counts a year earlier."""
    from chiso import counts as _counts
    from chiso.methodology import load
    from chiso.reports.period import comparison_units

    xw = pl.read_csv(series / "data/raw/units/crosswalk.csv", infer_schema=False)
    merged = xw.group_by("new_code").agg(pl.len().alias("n"), pl.col("old_code")).filter(pl.col("n") >= 2).sort("new_code")
    new_code, old_codes = merged.row(0)[0], merged.row(0)[2]
    ago, mapped = comparison_units("2025-07", "2024-07", "qd459-2023", series, {})
    assert mapped
    got = ago.filter(pl.col("unit_code") == new_code).row(0, named=True)

    old = pl.read_parquet(series / "data/processed/periods/2024-07/counts.parquet").filter(pl.col("unit_code").is_in(old_codes))
    shares = xw.filter(pl.col("new_code") == new_code).select("old_code", pl.col("share").cast(pl.Float64))
    summed = (old.join(shares, left_on="unit_code", right_on="old_code")
              .group_by("indicator").agg((pl.col("numerator") * pl.col("share")).sum(), (pl.col("denominator") * pl.col("share")).sum())
              .with_columns(pl.lit("2024-07").alias("period"), pl.lit(new_code).alias("unit_code"), pl.lit("x").alias("unit_name"),
                            pl.lit("g").alias("unit_group")))
    meth = load("qd459-2023")
    expected = _counts.unit_table(_counts.indicator_points(summed, meth), meth).row(0, named=True)
    assert got["converted"] == pytest.approx(expected["converted"], abs=1e-9)
    html = (series / "reports/2025-07/report.html").read_text(encoding="utf-8")
    assert "tháng 7/2024" in html and "quy đổi sang đơn vị hành chính mới" in html


def test_appending_a_month_reruns_only_that_month_and_the_trend(series):
    again = run(["dvc", "repro"], series)
    assert stages_run(again.stdout) == []
    run(["python", "-m", "chiso.synth", "--start", "2025-08", "--end", "2025-08", "--out", "data/raw"], series)
    params = (series / "params.yaml").read_text(encoding="utf-8")
    params = re.sub(r"(periods:\n(?:- .*\n)+)", lambda m: m.group(1) + "- '2025-08'\n", params, count=1)
    (series / "params.yaml").write_text(params, encoding="utf-8")
    out = run(["dvc", "repro"], series)
    assert sorted(stages_run(out.stdout)) == ["period@2025-08", "period_report@2025-08", "trend"], out.stdout
