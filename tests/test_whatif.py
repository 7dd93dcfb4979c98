"""What-if scenarios, counterfactual inputs and comparing runs (chiso.whatif)."""

from __future__ import annotations

import json

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from chiso import analysis, methodology, scoring, whatif

from .helpers import ROOT, make_counts

KEYS = ["period", "unit_group", "unit"]


def _counts(rows: list[tuple], period: str = "2024-06") -> pl.DataFrame:
    """rows: (unit, metric, numerator, denominator); units named "UBND xã <code>"."""
    return make_counts(rows, period, unit_name=lambda u: f"UBND xã {u}")


@pytest.fixture(scope="module")
def small_counts():
    rows = []
    data = {"A": (90, 100, 40, 50), "B": (70, 100, 20, 40), "C": (50, 80, 10, 30), "D": (95, 100, 0, 20)}
    for unit, (ot, den, pay, pay_den) in data.items():
        rows += [(unit, "dossiers_received", den, None), (unit, "on_time", ot, den), (unit, "online_payment", pay, pay_den),
                 (unit, "online_submission", den // 2, den), (unit, "e_result", den // 4, den),
                 (unit, "digitised", den // 3, den), (unit, "public_update_on_time", 4, 5)]
    return _counts(rows)


def row(df: pl.DataFrame, unit_code: str, indicator: str) -> dict:
    return df.filter((pl.col("unit_code") == unit_code) & (pl.col("indicator") == indicator)).row(0, named=True)


# -- counterfactuals ----------------------------------------------------------------
def test_all_on_time_gives_the_chosen_unit_full_tdgq_and_leaves_the_rest(qd459, small_counts):
    sc = whatif.scenario(small_counts, qd459, counterfactuals=[{"kind": "all_on_time", "units": ["B"]}])
    base, scen = sc.baseline_points, sc.scenario_points
    assert row(base, "B", "tdgq")["points"] == pytest.approx(21.0)
    assert row(scen, "B", "tdgq")["points"] == row(scen, "B", "tdgq")["max"] == 30.0
    cols = ["unit_code", "indicator", "points", "max", "applicable"]
    others = pl.col("unit_code") != "B"
    assert scen.filter(others).select(cols).equals(base.filter(others).select(cols))
    b_rest = (pl.col("unit_code") == "B") & (pl.col("indicator") != "tdgq")
    assert scen.filter(b_rest).select(cols).equals(base.filter(b_rest).select(cols))
    change = sc.comparison.row(by_predicate=pl.col("unit") == "UBND xã B", named=True)
    applicable_max = sc.scenario_units.row(by_predicate=pl.col("unit") == "UBND xã B", named=True)["applicable_max"]
    assert change["delta"] == pytest.approx(9.0 / applicable_max * 100)
    assert sc.comparison.filter(pl.col("unit") != "UBND xã B")["delta"].abs().max() == 0.0


def test_all_on_time_on_a_published_table(qd459, published_points):
    pts = published_points["huyen-dienbien_2023-07"]
    out = whatif.all_on_time(pts, qd459, units=["UBND xã Pa Thơm"])
    chosen = (pl.col("unit") == "UBND xã Pa Thơm") & (pl.col("indicator") == "tdgq")
    assert out.filter(chosen)["points"].item() == 30.0 and out.filter(chosen)["counterfactual"].item()
    assert out.filter(~chosen).select("unit", "indicator", "points").equals(pts.filter(~chosen).select("unit", "indicator", "points"))


def test_ratio_at_median_raises_only_units_below_it(qd459, small_counts):
    out = whatif.ratio_at_median(small_counts, qd459, indicator="dvctt_2")
    ratios = {"A": 0.8, "B": 0.5, "C": 1 / 3, "D": 0.0}
    median = sorted(ratios.values())[1:3]
    median = sum(median) / 2
    for unit, r in ratios.items():
        got = row(out, unit, "online_payment")
        expected = max(r, median)
        assert got["numerator"] / got["denominator"] == pytest.approx(expected)
    untouched = pl.col("indicator") != "online_payment"
    assert out.filter(untouched).equals(small_counts.filter(untouched))


def test_counterfactual_errors_are_in_vietnamese(qd459, small_counts):
    with pytest.raises(methodology.MethodologyError, match="không được hỗ trợ"):
        whatif.apply_counterfactuals(small_counts, qd459, [{"kind": "magic"}])
    with pytest.raises(methodology.MethodologyError, match="không có trong phương pháp"):
        whatif.all_on_time(small_counts, qd459, indicator="nope")


# -- scenarios ----------------------------------------------------------------------
def test_tier_override_scenario_matches_the_dvc_experiment(qd459, published_points):
    """`dvc exp run -S 'methodologies.qd459-2023.tiers.xuat_sac=92'`: four communes of Điện Biên Đông drop to Tốt."""
    sc = whatif.scenario(published_points["dienbiendong_2024-06"], qd459, {"tiers": {"xuat_sac": 92}})
    assert sorted(sc.changes["unit"].to_list()) == ["UBND Chiềng Sơ", "UBND Keo Lôm", "UBND Mường Luân", "UBND Pu Nhi"]
    assert (sc.changes["change"] == "tier").all() and (sc.changes["tier_change"] == -1).all()
    assert (sc.changes["tier_scenario"] == "Tốt").all() and (sc.changes["delta"] == 0).all()
    assert sc.comparison.height == 14 and sc.meth_scenario.tier_of(91.0) == "Tốt"


def test_max_override_rescales_published_points(qd459, published_points):
    sc = whatif.scenario(published_points["dienbiendong_2024-06"], qd459, {"max": {"tdgq": 35}})
    full = sc.scenario_points.filter((pl.col("indicator") == "tdgq") & (pl.col("unit") == "UBND Luân Giới")).row(0, named=True)
    assert full["max"] == 35.0 and full["points"] == pytest.approx(35.0 * 30.0 / 30.0)
    assert sc.scenario_units["applicable_max"].max() == 90.0


def test_derive_methodology_equals_loading_with_overrides(qd459):
    ov = {"tiers": {"xuat_sac": 92}, "max": {"tdgq": 35}, "not_applicable": "count_as_zero"}
    d = whatif.derive_methodology(qd459, ov)
    ref = methodology.load("qd459-2023", ov)
    assert d.tiers == ref.tiers and d.indicators == ref.indicators and d.not_applicable == ref.not_applicable
    assert whatif.derive_methodology(qd459, None) is qd459


def test_cheapest_path_reuses_next_tier_gaps(qd459, small_counts, published_points):
    pts = published_points["huyen-dienbien_2023-07"]
    units = scoring.unit_scores(pts, qd459)
    gaps = whatif.cheapest_path(units, pts, qd459, near=5.0)
    ref = analysis.next_tier_gaps(units, pts, qd459, near=5.0, keys=tuple(KEYS))
    assert_frame_equal(gaps, ref, check_exact=False, rel_tol=1e-12)
    sc = whatif.scenario(small_counts, qd459)
    assert "dossiers_needed" in sc.gaps.columns and sc.gaps["dossiers_needed"].drop_nulls().min() > 0


# -- comparing runs --------------------------------------------------------------------
def units_frame(rows):
    return pl.DataFrame(rows, schema=["period", "unit_group", "unit", "converted", "rank", "tier"], orient="row")


def test_diff_units_classifies_changes():
    base = units_frame([("2024-06", "X", "A", 91.0, 1, "Xuất sắc"), ("2024-06", "X", "B", 85.0, 2, "Tốt"),
                        ("2024-06", "X", "C", 84.0, 3, "Tốt"), ("2024-06", "X", "D", 40.0, 4, "Yếu")])
    scen = units_frame([("2024-06", "X", "A", 89.0, 2, "Tốt"), ("2024-06", "X", "B", 90.5, 1, "Xuất sắc"),
                        ("2024-06", "X", "C", 84.5, 3, "Tốt"), ("2024-06", "X", "E", 70.0, 4, "Khá")])
    d = whatif.diff_units(base, scen, only_changed=False)
    by = {r["unit"]: r for r in d.iter_rows(named=True)}
    assert by["A"]["change"] == "tier" and by["A"]["tier_change"] == -1 and by["A"]["rank_change"] == -1
    assert by["B"]["tier_change"] == 1 and by["B"]["rank_change"] == 1
    assert by["C"]["change"] == "score" and not by["C"]["changed"]
    assert by["D"]["change"] == "removed" and by["E"]["change"] == "added"
    assert set(whatif.diff_units(base, scen)["unit"]) == {"A", "B", "D", "E"}


def test_compare_runs_between_two_directories(tmp_path, capsys, qd459, published_points):
    pts = published_points["dienbiendong_2024-06"]
    for run, meth in (("base", qd459), ("exp", whatif.derive_methodology(qd459, {"tiers": {"xuat_sac": 92}}))):
        folder = tmp_path / run / "data" / "processed" / "dienbiendong_2024-06"
        folder.mkdir(parents=True)
        scoring.unit_scores(pts, meth).write_parquet(folder / "units.parquet")
    out = tmp_path / "diff.csv"
    assert whatif.main([str(tmp_path / "base"), str(tmp_path / "exp"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "1 bảng, 14 đơn vị; 04 đơn vị đổi xếp loại, 00 đơn vị chỉ đổi hạng" in printed
    assert "UBND Pu Nhi" in printed and "Xếp loại thử nghiệm" in printed
    assert pl.read_csv(out).height == 4
    with pytest.raises(FileNotFoundError):
        whatif.read_run_units(str(tmp_path / "missing"), root=tmp_path)


# -- the notebook ------------------------------------------------------------------------
def test_whatif_notebook_is_thin_and_committed_without_outputs():
    nb = json.loads((ROOT / "notebooks" / "20_whatif.ipynb").read_text(encoding="utf-8"))
    ref = json.loads((ROOT / "notebooks" / "01_validate_published.ipynb").read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"] == ref["metadata"]["kernelspec"]
    assert nb["metadata"]["language_info"]["name"] == "python"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", [])
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    params = "".join(code[0]["source"])
    for name in ("table_id", "period", "overrides_yaml", "counterfactuals_yaml", "seed", "draws"):
        assert f"{name} =" in params
    body = "".join("".join(c["source"]) for c in code[1:])
    assert "def " not in body and "class " not in body
    for call in ("whatif.scenario", "uncertainty.run_study", "robustness.robustness_blocks", "tier_probability_table"):
        assert call in body


def test_scenario_on_the_portal_counts_changes_only_the_chosen_unit_inputs(qd459, gialai_counts):
    c = gialai_counts
    sc = whatif.scenario(c, qd459, counterfactuals=[{"kind": "all_on_time", "indicator": "tdgq", "units": ["H21.11"]}])
    assert row(sc.scenario_points, "H21.11", "tdgq")["points"] == 30.0
    diff = sc.scenario_points.join(sc.baseline_points, on=["unit_code", "indicator"], suffix="_b").filter(
        pl.col("points").ne_missing(pl.col("points_b")))
    assert diff.select("unit_code", "indicator").rows() == [("H21.11", "tdgq")]


def test_whatif_notebook_runs_with_papermill(tmp_path):
    import papermill

    out = tmp_path / "20_whatif.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "20_whatif.ipynb"), str(out), cwd=str(ROOT), kernel_name="python3", progress_bar=False,
        parameters={"table_id": "dienbiendong_2024-06", "draws": 300, "sobol_n": 0,
                    "counterfactuals_yaml": "[{kind: all_on_time, units: [UBND Tìa Đình]}]"})
    nb = json.loads(out.read_text(encoding="utf-8"))
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    blocks = [o["data"]["application/vnd.chiso.block+json"] for o in outputs
              if "application/vnd.chiso.block+json" in o.get("data", {})]
    assert blocks[0] == {"type": "heading", "text": "Độ vững của xếp loại", "level": 1}
    assert any(b["type"] == "figure" for b in blocks)


def test_baseline_of_a_published_table_is_the_pipeline_result(qd459, published_points):
    pts = published_points["huyen-dienbien_2023-07"]
    sc = whatif.scenario(pts, qd459)
    # (polars sums groups in parallel: totals may differ in the last bit between two calls)
    assert_frame_equal(sc.baseline_units, scoring.unit_scores(pts, qd459), check_exact=False, rel_tol=1e-12)
    assert sc.changes.height == 0
    zero = whatif.derive_methodology(qd459, {"no_dossier_policy": "zero"})
    sc = whatif.scenario(pts, zero, {"no_dossier_policy": "exclude"})
    removed = sc.changes.filter(pl.col("change") == "removed")["unit"].to_list()
    assert sorted(removed) == ["UBND xã Mường Lói", "UBND xã Na Tông", "UBND xã Thanh Nưa"]


def test_all_on_time_finds_the_on_time_indicator_of_each_methodology(qd459, qd766, small_counts):
    """No indicator given: the one scored from the on-time metric (tdgq under QĐ 459, on_time under QĐ 766)."""
    for meth, code in ((qd459, "tdgq"), (qd766, "on_time")):
        out = whatif.all_on_time(small_counts, meth, units=["B"])
        chosen = (pl.col("unit_code") == "B") & (pl.col("indicator") == whatif.ON_TIME_METRIC)
        assert out.filter(chosen).select("numerator", "denominator").row(0) == (100.0, 100.0)
        assert out.filter(~chosen).equals(small_counts.filter(~chosen).select(out.columns))
        sc = whatif.scenario(small_counts, meth, counterfactuals=[{"kind": "all_on_time", "units": ["B"]}])
        assert row(sc.scenario_points, "B", code)["points"] == row(sc.scenario_points, "B", code)["max"] > 0
