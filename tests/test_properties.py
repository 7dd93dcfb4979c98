"""Property-based checks of the rule interpreter (hypothesis)."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chiso import counts, methodology

METHODS = {m: methodology.load(m) for m in ("qd459-2023", "qd766-2022", "qd1187-2019")}
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def metrics_of(meth) -> list[str]:
    out = []
    for ind in meth.indicators:
        rule = ind.rule or {}
        if rule.get("kind") == "weighted_levels":
            out += list(rule["levels"])
        elif ind.metric:
            out.append(ind.metric)
        if rule.get("condition"):
            out.append(rule["condition"]["metric"])
    return sorted(set(out)) + ["dossiers_received"]


@st.composite
def count_pair(draw):
    den = draw(st.integers(0, 500))
    return draw(st.integers(0, den)), den


@st.composite
def unit_counts(draw, meth):
    rows = []
    for metric in metrics_of(meth):
        if draw(st.booleans()):
            num, den = draw(count_pair())
            rows.append({"indicator": metric, "numerator": float(num), "denominator": float(den)})
    return rows


def frame(rows_by_unit: dict[str, list[dict]]) -> pl.DataFrame:
    data = [{"period": "p", "unit_code": u, "unit_name": u, "unit_group": "g", **r}
            for u, rows in rows_by_unit.items() for r in rows]
    schema = {"period": pl.String, "unit_code": pl.String, "unit_name": pl.String, "unit_group": pl.String,
              "indicator": pl.String, "numerator": pl.Float64, "denominator": pl.Float64}
    return counts.normalize_counts(pl.DataFrame(data, schema=schema) if data else pl.DataFrame(schema=schema))


@SETTINGS
@given(st.sampled_from(sorted(METHODS)), st.data())
def test_points_never_exceed_max_and_converted_within_0_100(mid, data):
    meth = METHODS[mid]
    rows = {f"u{i}": data.draw(unit_counts(meth)) for i in range(3)}
    rows["u0"] = [r for r in rows["u0"] if r["indicator"] != meth.no_dossier_metric]
    rows["u0"].append({"indicator": meth.no_dossier_metric, "numerator": 1.0, "denominator": None})
    pts = counts.indicator_points(frame(rows), meth)
    scored = pts.filter(pl.col("points").is_not_null())
    assert (scored["points"] <= scored["spec_max"] + 1e-9).all()
    assert (scored["points"] >= 0).all()
    units = counts.unit_table(pts, meth).filter(pl.col("converted").is_not_null())
    assert units["converted"].is_between(0, 100 + 1e-9).all()


@SETTINGS
@given(st.sampled_from(sorted(METHODS)), st.data())
def test_raising_a_numerator_never_lowers_points(mid, data):
    meth = METHODS[mid]
    ratio_metrics = [i.metric for i in meth.indicators
                     if i.metric and (i.rule or {}).get("kind", "linear") in ("linear", "threshold", "bands")]
    metric = data.draw(st.sampled_from(ratio_metrics))
    den = data.draw(st.integers(1, 400))
    low = data.draw(st.integers(0, den))
    high = data.draw(st.integers(low, den))
    base = [{"indicator": "dossiers_received", "numerator": float(den), "denominator": None}]
    c = frame({"lo": base + [{"indicator": metric, "numerator": float(low), "denominator": float(den)}],
               "hi": base + [{"indicator": metric, "numerator": float(high), "denominator": float(den)}]})
    pts = counts.indicator_points(c, meth).filter(pl.col("metric") == metric)
    by_unit = {u: p for u, p in pts.group_by("unit_code").agg(pl.col("points").fill_null(0).sum()).iter_rows()}
    assert by_unit["hi"] >= by_unit["lo"] - 1e-9


@SETTINGS
@given(st.data())
def test_a_unit_at_the_max_converts_to_100_whatever_is_not_applicable(data):
    meth = METHODS["qd459-2023"]
    rows = [{"indicator": "dossiers_received", "numerator": 50.0, "denominator": None}]
    n_na = 0
    for ind in meth.indicators:
        state = data.draw(st.sampled_from(["max", "missing", "zero_den"]))
        if state == "max":
            den = float(data.draw(st.integers(1, 300)))
            rows.append({"indicator": ind.metric, "numerator": den, "denominator": den})
        elif state == "zero_den" and (ind.rule or {}).get("zero_denominator", "not_applicable") == "not_applicable":
            rows.append({"indicator": ind.metric, "numerator": 0.0, "denominator": 0.0})
            n_na += 1
        else:
            n_na += state == "missing"
    if n_na == len(meth.indicators):
        return
    pts = counts.indicator_points(frame({"u": rows}), meth)
    unit = counts.unit_table(pts, meth).row(0, named=True)
    assert unit["converted"] is None or abs(unit["converted"] - 100) < 1e-9
    if unit["applicable_max"] > 0:
        assert unit["converted_rounded"] == 100 and unit["tier"] == "Xuất sắc"
