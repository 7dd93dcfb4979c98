"""The scoring engine: indicator points → unit totals, converted scores, tiers, ranks.

Everything methodology-specific (max points, rules, policies, tiers, rounding)
comes from the `Methodology`; this module only interprets it. Inputs and outputs
are long (tidy) polars tables:

points (one row per period × unit × indicator): ``period, unit_group, unit,
indicator, group, max, points, applicable`` (+ anything else carried along).
"""

from __future__ import annotations

import polars as pl

from .methodology import Methodology
from .numbers import round_half_up_expr

UNIT_KEYS = ("period", "unit_group", "unit")


def effective_points(points: pl.LazyFrame | pl.DataFrame, meth: Methodology) -> pl.LazyFrame:
    """Apply the not-applicable policy: which indicators count towards the maximum."""
    lf = points.lazy()
    counted = pl.col("applicable") | pl.lit(meth.not_applicable == "count_as_zero")
    return lf.with_columns(
        counted.alias("counted"),
        pl.when(pl.col("applicable")).then(pl.col("points")).otherwise(0.0).alias("points_counted"),
        pl.when(counted).then(pl.col("max")).otherwise(0.0).alias("max_counted"),
    )


def _stable_sum(col: str) -> pl.Expr:
    """A sum that does not depend on how polars splits a group across threads.

    A parallel group-by adds partial sums in a varying order, so the last bit of a float
    total changes from run to run (65.21 vs 65.21000000000001). Points carry at most a
    few decimals; rounding the sum to 9 decimals removes that noise and nothing else.
    """
    return pl.col(col).sum().round(9)


def unit_scores(points: pl.LazyFrame | pl.DataFrame, meth: Methodology,
                keys: tuple[str, ...] = UNIT_KEYS) -> pl.DataFrame:
    """Total, applicable max, converted score, tier and rank of every unit."""
    r = meth.rounding
    lf = effective_points(points, meth)
    agg = lf.group_by(list(keys)).agg(
        _stable_sum("points_counted").alias("total"),
        _stable_sum("max_counted").alias("applicable_max"),
        pl.col("applicable").sum().alias("n_applicable"),
        pl.len().alias("n_indicators"),
    )
    converted = pl.when(pl.col("applicable_max") > 0).then(
        pl.col("total") / pl.col("applicable_max") * meth.scale
    )
    agg = agg.with_columns(converted.alias("converted")).with_columns(
        round_half_up_expr(pl.col("total"), r.get("total", 2)).alias("total_rounded"),
        round_half_up_expr(pl.col("converted"), r.get("converted", 2)).alias("converted_rounded"),
    )
    basis = pl.col("converted_rounded") if meth.tier_basis == "rounded" else pl.col("converted")
    within = [k for k in keys if k != "unit"] if meth.ranking.get("within") == "unit_group" else [
        k for k in keys if k not in ("unit", "unit_group")]
    agg = agg.with_columns(meth.tier_expr(basis).alias("tier")).with_columns(
        pl.col("converted_rounded").rank(method=meth.ranking.get("method", "min"), descending=True)
        .over(within or pl.lit(1)).cast(pl.Int32).alias("rank")
    )
    return agg.sort([*[k for k in keys if k != "unit"], "rank", "unit"]).collect()


def group_scores(points: pl.LazyFrame | pl.DataFrame, meth: Methodology,
                 keys: tuple[str, ...] = UNIT_KEYS) -> pl.DataFrame:
    """Points and counted max per unit and indicator group (where a unit loses points)."""
    lf = effective_points(points, meth)
    order = {g["code"]: i for i, g in enumerate(meth.groups)}
    return (
        lf.group_by([*keys, "group"])
        .agg(_stable_sum("points_counted").alias("points"), _stable_sum("max_counted").alias("max"))
        .with_columns((pl.col("max") - pl.col("points")).alias("lost"),
                      pl.col("group").replace_strict(order, return_dtype=pl.Int32).alias("group_order"))
        .sort([*keys, "group_order"])
        .collect()
    )


def tier_counts(units: pl.DataFrame, meth: Methodology, keys: tuple[str, ...] = ("period", "unit_group")) -> pl.DataFrame:
    """Count of units per tier (every tier listed, zero included) with the units named."""
    tiers = pl.DataFrame({"tier": [t.name for t in meth.tiers], "tier_order": list(range(len(meth.tiers)))})
    groups = units.select(list(keys)).unique()
    grid = groups.join(tiers, how="cross")
    named = units.sort("rank", "unit").group_by([*keys, "tier"]).agg(
        pl.len().alias("count"), pl.col("unit").alias("units"))
    return (
        grid.join(named, on=[*keys, "tier"], how="left")
        .with_columns(pl.col("count").fill_null(0))
        .sort([*keys, "tier_order"])
    )
