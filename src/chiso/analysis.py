"""Rule-based analysis of scored results: weaknesses, gaps to the next tier, changes.

Inputs are the long points table and the unit table of `chiso.scoring`; outputs
are tidy polars tables that report builders turn into sentences.
"""

from __future__ import annotations

import polars as pl

from .methodology import Methodology


def weaknesses(points: pl.DataFrame, meth: Methodology, keys: tuple[str, ...] = ("unit_group", "unit")) -> pl.DataFrame:
    """Every applicable indicator below its max, per unit, weakest first within each indicator.

    Columns: indicator, group, keys…, points, max, ratio, shortfall, n_units_group
    (units with that indicator applicable), all_same (every applicable unit has the
    same shortfall).
    """
    spec = meth.indicator_frame().select("indicator", "order")
    app = points.filter(pl.col("applicable")).select(*keys, "indicator", "group", "points", "max")
    stats = app.group_by("indicator").agg(
        pl.len().alias("n_applicable"),
        (pl.col("points").n_unique() == 1).alias("all_same"),
    )
    return (
        app.filter(pl.col("points") < pl.col("max") - 1e-9)
        .with_columns((pl.col("points") / pl.col("max")).alias("ratio"),
                      (pl.col("max") - pl.col("points")).alias("shortfall"))
        .join(stats, on="indicator").join(spec, on="indicator")
        .sort("order", "points", *keys)
    )


def indicators_at_max(points: pl.DataFrame, meth: Methodology) -> pl.DataFrame:
    """Per indicator: units applicable, units at max (for "Kết quả đạt được")."""
    spec = meth.indicator_frame().select("indicator", "order")
    return (
        points.filter(pl.col("applicable"))
        .group_by("indicator")
        .agg(pl.len().alias("n_applicable"), (pl.col("points") >= pl.col("max") - 1e-9).sum().alias("n_at_max"))
        .join(spec, on="indicator").sort("order")
    )


def next_tier_gaps(units: pl.DataFrame, points: pl.DataFrame, meth: Methodology, near: float = 5.0,
                   keys: tuple[str, ...] = ("unit_group", "unit"), n_options: int = 3) -> pl.DataFrame:
    """Units within `near` converted points of the next tier: the gap and how to close it.

    The points needed are ``(next tier min − converted) × applicable max / scale``.
    Least effort is read as the smallest rise in an indicator's underlying rate:
    an indicator with headroom for the whole gap needs its rate raised by
    ``points needed / max``; the `n_options` indicators with the smallest such rise
    are proposed (``options``: indicator, rate rise in percentage points). When no
    single indicator has the headroom, ``combination`` lists the fewest indicators
    (largest headroom first) that together close the gap.
    """
    tiers = sorted(meth.tiers, key=lambda t: t.min)
    nxt = {tiers[i].name: tiers[i + 1] for i in range(len(tiers) - 1)}
    rows = units.filter(pl.col("tier").is_in(list(nxt))).with_columns(
        pl.col("tier").replace_strict({k: v.name for k, v in nxt.items()}, return_dtype=pl.String).alias("next_tier"),
        pl.col("tier").replace_strict({k: v.min for k, v in nxt.items()}, return_dtype=pl.Float64).alias("next_min"),
    ).with_columns((pl.col("next_min") - pl.col("converted")).alias("gap_converted")).filter(
        pl.col("gap_converted") <= near
    ).with_columns((pl.col("gap_converted") * pl.col("applicable_max") / meth.scale).alias("gap_points"))
    head = (
        points.filter(pl.col("applicable"))
        .with_columns((pl.col("max") - pl.col("points")).alias("headroom"))
        .filter(pl.col("headroom") > 1e-9)
        .join(rows.select(*keys, "gap_points"), on=list(keys))
    )
    options = (
        head.filter(pl.col("headroom") >= pl.col("gap_points") - 1e-9)
        .with_columns((pl.col("gap_points") / pl.col("max") * 100).alias("rate_rise_pp"))
        .sort("rate_rise_pp", "indicator")
        .group_by(list(keys), maintain_order=True)
        .agg(pl.struct("indicator", "rate_rise_pp").head(n_options).alias("options"))
    )
    combination = (
        head.sort("headroom", "indicator", descending=[True, False])
        .with_columns(pl.col("headroom").cum_sum().over(list(keys)).alias("cum"))
        .with_columns((pl.col("cum") - pl.col("headroom")).alias("before"))
        .filter(pl.col("before") < pl.col("gap_points") - 1e-9)
        .group_by(list(keys), maintain_order=True)
        .agg(pl.col("indicator").alias("combination"), pl.col("headroom").sum().alias("reachable"))
    )
    return (rows.join(options, on=list(keys), how="left").join(combination, on=list(keys), how="left")
            .sort("gap_converted"))


def changes(current: pl.DataFrame, previous: pl.DataFrame, tier_order: list[str],
            keys: tuple[str, ...] = ("unit_group", "unit")) -> pl.DataFrame:
    """Delta of converted score, rank change and tier change between two periods."""
    order = {t: i for i, t in enumerate(tier_order)}
    prev = previous.select(*keys, pl.col("converted").alias("converted_prev"), pl.col("rank").alias("rank_prev"),
                           pl.col("tier").alias("tier_prev"))
    return current.join(prev, on=list(keys), how="left").with_columns(
        (pl.col("converted") - pl.col("converted_prev")).alias("delta"),
        (pl.col("rank_prev") - pl.col("rank")).alias("rank_change"),
        (pl.col("tier_prev").replace_strict(order, default=None, return_dtype=pl.Int32)
         - pl.col("tier").replace_strict(order, default=None, return_dtype=pl.Int32)).alias("tier_change"),
    )
