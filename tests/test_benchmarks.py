"""The dossier benchmark's engines, and the documents that quote its results.

The benchmark's claims rest on two things a test can check without timing
anything: that pandas and DuckDB compute exactly what ``chiso.dossiers.aggregate``
computes (otherwise the speed comparison compares different work), and that the
floor reads every needed row. The figures in docs/scale.md and the README must be
the ones in benchmarks/results.json.
"""

from __future__ import annotations

import json

import polars as pl
import pytest

from chiso import synth_dossiers
from chiso.numbers import fmt_num

from .helpers import BENCH, ROOT, benchmark_module

# How docs/scale.md writes each target's measured value (format, decimals).
QUOTED = {
    "polars_10m_under_5s": ("| {} giây |", 2),
    "polars_10x_faster_than_pandas": ("| {} lần", 2),
    "polars_not_slower_than_duckdb": ("bằng {} lần thời gian DuckDB", 2),
    "polars_within_1_5x_of_scan": ("| {} lần", 2),
    "polars_100m_peak_under_2gb": ("| {} MB |", 0),
}


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    """30.000 synthetic dossiers of the 3.400 synthetic units, one year."""
    folder = tmp_path_factory.mktemp("bench")
    data = synth_dossiers.generate(30_000, folder / "dossiers.parquet", seed=5, chunk_rows=11_000, progress=False)
    units = synth_dossiers.write_units(folder / "units.parquet", seed=5)
    return data, units


def test_pandas_and_duckdb_compute_exactly_the_polars_counts(national, tmp_path):
    engines, run = benchmark_module("engines"), benchmark_module("run")
    data, units = map(str, national)
    saved = {}
    for name in ("polars", "pandas", "duckdb"):
        result = engines.ENGINES[name](data, units, "2024-01", "2024-12")
        saved[name] = tmp_path / f"{name}.parquet"
        engines.save(result, name, str(saved[name]))
    polars_counts = pl.read_parquet(saved["polars"])
    assert polars_counts.height == 3_400 * 12 * 16
    assert polars_counts.filter(pl.col("indicator") == "dossiers_received")["numerator"].sum() == 30_000
    assert run.same_counts(saved["polars"], saved["pandas"])
    assert run.same_counts(saved["polars"], saved["duckdb"])
    # the comparison itself tells a different count apart
    changed = tmp_path / "changed.parquet"
    polars_counts.with_columns(
        pl.when(pl.int_range(pl.len()) == 1_000).then(pl.col("numerator") + 1).otherwise(pl.col("numerator"))
        .alias("numerator")).write_parquet(changed)
    assert not run.same_counts(saved["polars"], changed)


def test_the_floor_reads_every_row_of_the_needed_columns(national):
    engines = benchmark_module("engines")
    data, units = map(str, national)
    result = engines.run_scan(data, units, "2024-01", "2024-12")
    assert result["rows_read"].to_list() == [30_000]
    assert set(engines.COLUMNS) <= set(pl.scan_parquet(data).collect_schema().names())


def test_scale_doc_and_readme_quote_the_recorded_results():
    run = benchmark_module("run")
    doc = json.loads((BENCH / "results.json").read_text(encoding="utf-8"))
    scale = (ROOT / "docs" / "scale.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert run.markdown(doc) in scale
    assert doc["targets"] == run.targets(doc["results"])
    for key, target in doc["targets"].items():
        form, decimals = QUOTED[key]
        quoted = form.format(fmt_num(target["value"], decimals))
        assert quoted in scale, key
        if not target["met"]:
            assert quoted.strip("| ") in readme, key
    # the results table reports the floor as reading only (no arithmetic), like engines.run_scan
    assert "chỉ đọc" in scale
