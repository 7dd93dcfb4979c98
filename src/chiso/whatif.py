"""What-if studies: a scenario next to the baseline, counterfactual inputs, comparing runs.

* `scenario(source, meth, overrides, counterfactuals)`: score a table under its
  methodology (baseline) and under params-style overrides (``not_applicable``,
  ``no_dossier_policy``, ``tier_basis``, ``tiers``, ``max``, ``rules``) and/or
  counterfactual inputs, side by side; units that change tier or rank; the
  cheapest path to the next tier (``chiso.analysis.next_tier_gaps``).
* Counterfactuals (`apply_counterfactuals`): on a counts table they change
  numerators ("all late dossiers on time": on-time numerator = denominator; "online
  payment at the provincial median": that metric's ratio raised to the median); on a
  published points table, where only points are known, the same statements act on
  the points (points = ratio × max).
* `diff_units` and `compare_runs`: the differences between two scored sets, e.g. a
  ``dvc exp run -S …`` experiment against its baseline (``chiso compare-runs``).

Source tables are long polars tables: a counts table (``chiso.counts``) or a points
table (``chiso.scoring``); every function works on any number of periods and units.
"""

from __future__ import annotations

import argparse
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import polars as pl

from . import analysis, scoring
from .cliparse import ArgumentParser, print_frame
from .uncertainty import exclude_no_dossier, given_no_dossier_policy, infer_no_dossier, is_counts
from .methodology import Methodology, MethodologyError, from_raw
from .scoring import UNIT_KEYS


# ---------------------------------------------------------------------------
# Methodology variants and scoring of either kind of source
# ---------------------------------------------------------------------------
def derive_methodology(meth: Methodology, overrides: Mapping[str, Any] | None) -> Methodology:
    """`meth` with params-style overrides applied on top (validated like ``methodology.load``)."""
    if not overrides:
        return meth
    return from_raw(meth.raw, dict(overrides))


def points_of(source: pl.DataFrame, meth: Methodology, notes: list[str] | None = None,
              baseline: Methodology | None = None) -> pl.DataFrame:
    """The long points table of a source under `meth`.

    Counts are scored by ``chiso.counts.indicator_points``. A points table is kept as
    scored, with two adjustments: points follow a max that `meth` changes (every rule
    gives points proportional to the max) and, when `meth` changes the no-dossier
    policy of `baseline`, units without dossiers are excluded (``exclude``; the
    ``zero`` policy cannot be rebuilt from a table that excluded them: noted).
    """
    notes = notes if notes is not None else []
    if is_counts(source):
        from . import counts as _counts

        return _counts.indicator_points(source, meth)
    spec = pl.DataFrame({"indicator": meth.indicator_codes, "_new_max": [float(i.max) for i in meth.indicators]})
    out = (source.join(spec, on="indicator", how="left")
           .with_columns(pl.when((pl.col("max") > 0) & pl.col("_new_max").is_not_null())
                         .then(pl.col("_new_max") / pl.col("max")).otherwise(1.0).alias("_f"))
           .with_columns(pl.col("points") * pl.col("_f"), pl.col("max") * pl.col("_f"),
                         *[pl.col(c) * pl.col("_f") for c in ("points_exact", "spec_max") if c in source.columns])
           .drop("_new_max", "_f"))
    if baseline is None or baseline.no_dossier_policy == meth.no_dossier_policy:
        return out
    flagged = infer_no_dossier(out)
    given = given_no_dossier_policy(out, flagged, meth)
    if flagged.height and meth.no_dossier_policy != given:
        if meth.no_dossier_policy == "exclude":
            out = exclude_no_dossier(out, flagged)
        else:
            notes.append("Bảng điểm đã loại đơn vị không phát sinh hồ sơ; cần bảng tử số, mẫu số để chấm 0 điểm.")
    return out


def units_of(points: pl.DataFrame, meth: Methodology) -> pl.DataFrame:
    """Unit table (converted score, tier, rank) of a points table."""
    if {"unit_code", "basis", "excluded", "spec_max"} <= set(points.columns):
        from . import counts as _counts

        return _counts.unit_table(points, meth)
    return scoring.unit_scores(points, meth)


def load_source(table_id: str = "", counts_file: str | Path = "", methodology_id: str = "",
                params_file: str | Path = "params.yaml", root: str | Path = ".") -> tuple[pl.DataFrame, Methodology, Path]:
    """The source table of a study, its methodology (with the knobs of ``params.yaml``)
    and the folder its results belong to.

    * `counts_file`: any counts source (portal JSON, template CSV/XLSX, QĐ 1187 folder);
    * `table_id` of a published table: ``data/processed/<id>/points.parquet``, or the
      table ``data/raw/published/<id>.csv`` itself before ``dvc repro`` (methodology
      from the table's metadata unless given);
    * `table_id` of a period ``YYYY-MM``: ``data/processed/periods/<period>/counts.parquet``.
    Without `methodology_id`, counts are scored under ``published.methodology``.
    """
    from .params import load_methodology, load_params

    root = Path(root)
    params = load_params(root / params_file)
    default_mid = methodology_id or (params.get("published") or {}).get("methodology") or "qd459-2023"
    if counts_file:
        from . import counts as _counts

        path = Path(counts_file)
        return _counts.read_counts(path), load_methodology(default_mid, params), path.parent
    published = root / "data" / "processed" / table_id
    raw_csv = root / "data" / "raw" / "published" / f"{table_id}.csv"
    if table_id and ((published / "points.parquet").exists() or raw_csv.exists()):
        if methodology_id:
            meth = load_methodology(methodology_id, params)
        else:
            from .stages import _methodology_for

            meth = _methodology_for(table_id, params, root)
        if (published / "points.parquet").exists():
            return pl.read_parquet(published / "points.parquet"), meth, published
        from . import published as _published  # not validated yet (no `dvc repro`): read the table itself

        return _published.points_long(_published.read_published(raw_csv, meth), meth), meth, published
    period = root / "data" / "processed" / "periods" / table_id
    if (period / "counts.parquet").exists():
        return pl.read_parquet(period / "counts.parquet"), load_methodology(default_mid, params), period
    raise FileNotFoundError(2, "Không có bảng điểm hay bảng số liệu", str(published))


def select_period(source: pl.DataFrame, period: str | None) -> pl.DataFrame:
    """Rows of one period (None or "": every period)."""
    return source.filter(pl.col("period") == str(period)) if period else source


# ---------------------------------------------------------------------------
# Counterfactual inputs
# ---------------------------------------------------------------------------
def _metric(meth: Methodology, indicator: str | None, metric: str | None) -> tuple[str, str | None]:
    """(indicator code, counts metric) from either."""
    if indicator:
        try:
            ind = meth.indicator(indicator)
        except KeyError:
            raise MethodologyError(f"Chỉ số '{indicator}' không có trong phương pháp {meth.id}.") from None
        return ind.code, metric or ind.metric
    for ind in meth.indicators:
        if ind.metric == metric:
            return ind.code, metric
    raise MethodologyError(f"Chỉ tiêu '{metric}' không gắn với chỉ số nào của phương pháp {meth.id}.")


def _unit_filter(df: pl.DataFrame, units: Iterable[str] | None) -> pl.Expr:
    if units is None:
        return pl.lit(True)
    wanted = [str(u) for u in units]
    cols = [c for c in ("unit_code", "unit_name", "unit") if c in df.columns]
    expr = pl.lit(False)
    for c in cols:
        expr = expr | pl.col(c).is_in(wanted)
    return expr


ON_TIME_METRIC = "on_time"   # counts metric of dossiers resolved early or on time (chiso.dossiers.DOSSIER_METRICS)


def all_on_time(source: pl.DataFrame, meth: Methodology, units: Iterable[str] | None = None,
                indicator: str | None = None, metric: str | None = None) -> pl.DataFrame:
    """"All late dossiers resolved on time" for `units` (None: every unit).

    The indicator is `indicator`, else the methodology's indicator scored from
    `metric` (default ``ON_TIME_METRIC``): ``tdgq`` under QĐ 459, ``on_time`` under
    QĐ 766. Counts: the on-time numerator becomes its denominator. Points: the
    indicator gets its max where it applies.
    """
    if indicator is None and metric is None:
        metric = ON_TIME_METRIC
    return set_ratio(source, meth, 1.0, indicator=indicator, metric=metric, units=units,
                     label="toàn bộ hồ sơ được giải quyết đúng hạn")


def set_ratio(source: pl.DataFrame, meth: Methodology, ratio: float, *, indicator: str | None = None,
              metric: str | None = None, units: Iterable[str] | None = None, only_below: bool = False,
              label: str | None = None) -> pl.DataFrame:
    """Set one metric's ratio to `ratio` for `units` (only where it is lower if `only_below`)."""
    code, metric = _metric(meth, indicator, metric)
    note = f"Giả định: {label or f'tỷ lệ {code} = {ratio:g}'}"
    if is_counts(source):
        hit = (_unit_filter(source, units) & (pl.col("indicator") == metric)
               & pl.col("denominator").is_not_null() & (pl.col("denominator") > 0))
        if only_below:
            hit = hit & (pl.col("numerator").fill_null(0) < pl.col("denominator") * ratio)
        return _set_numerators(source, hit, pl.lit(ratio), note, mark_available=True)
    hit = _unit_filter(source, units) & (pl.col("indicator") == code) & pl.col("applicable") & (pl.col("max") > 0)
    if only_below:
        hit = hit & (pl.col("points") < pl.col("max") * ratio)
    return _set_points(source, hit, pl.col("max") * ratio)


def _set_numerators(counts: pl.DataFrame, hit: pl.Expr, ratio: pl.Expr, note: str,
                    mark_available: bool = False) -> pl.DataFrame:
    """A counts table with ``numerator`` = ``denominator`` × `ratio` where `hit`, those
    rows noted (and marked available with `mark_available`)."""
    return counts.with_columns(
        pl.when(hit).then(pl.col("denominator") * ratio).otherwise(pl.col("numerator")).alias("numerator"),
        *([pl.when(hit).then(pl.lit(True)).otherwise(pl.col("available")).alias("available")]
          if mark_available and "available" in counts.columns else []),
        *([pl.when(hit).then(pl.lit(note)).otherwise(pl.col("note")).alias("note")] if "note" in counts.columns else []),
    )


def _set_points(points: pl.DataFrame, hit: pl.Expr, new: pl.Expr) -> pl.DataFrame:
    """A points table with ``points`` (and ``points_exact``) set to `new` where `hit`,
    those rows marked ``counterfactual``."""
    return points.with_columns(
        pl.when(hit).then(new).otherwise(pl.col("points")).alias("points"),
        *([pl.when(hit).then(new).otherwise(pl.col("points_exact")).alias("points_exact")]
          if "points_exact" in points.columns else []),
        (hit | (pl.col("counterfactual") if "counterfactual" in points.columns else pl.lit(False))).alias("counterfactual"),
    )


def ratio_at_median(source: pl.DataFrame, meth: Methodology, *, indicator: str | None = None,
                    metric: str | None = None, units: Iterable[str] | None = None, only_below: bool = True,
                    within: Sequence[str] = ("period",)) -> pl.DataFrame:
    """One metric's ratio set to its median over the units of the period (the
    province), for `units` (None: every unit), only raising it when `only_below`.

    The median is taken over units whose ratio is defined (denominator > 0; for
    points, where the indicator applies). Example: online payment at the provincial
    median, ``ratio_at_median(counts, meth, indicator="dvctt_2")``.
    """
    code, metric = _metric(meth, indicator, metric)
    within = [w for w in within if w in source.columns]
    if is_counts(source):
        is_m = (pl.col("indicator") == metric) & (pl.col("denominator") > 0)
        ratio = pl.col("numerator") / pl.col("denominator")
    else:
        is_m = (pl.col("indicator") == code) & pl.col("applicable") & (pl.col("max") > 0)
        ratio = pl.col("points") / pl.col("max")
    med = ratio.filter(is_m).median()
    med = med.over(within) if within else med
    marked = source.with_columns(med.alias("_median"))
    hit = _unit_filter(source, units) & is_m
    if only_below:
        hit = hit & (ratio < pl.col("_median"))
    note = "Giả định: tỷ lệ bằng trung vị của tỉnh"
    if is_counts(source):
        out = _set_numerators(marked, hit, pl.col("_median"), note)
    else:
        out = _set_points(marked, hit, pl.col("max") * pl.col("_median"))
    return out.drop("_median")


COUNTERFACTUALS = {
    "all_on_time": all_on_time,
    "ratio_at_median": ratio_at_median,
    "set_ratio": set_ratio,
}


def apply_counterfactuals(source: pl.DataFrame, meth: Methodology,
                          specs: Sequence[Mapping[str, Any]] | None) -> pl.DataFrame:
    """Apply counterfactual statements in order. Each is a mapping with ``kind``
    (``all_on_time``, ``ratio_at_median``, ``set_ratio``) and that function's keyword
    arguments, e.g. ``{kind: all_on_time, units: [UBND xã Núa Ngam]}`` or
    ``{kind: ratio_at_median, indicator: dvctt_2}`` (YAML in the what-if notebook)."""
    out = source
    for spec in specs or []:
        spec = dict(spec)
        kind = spec.pop("kind", None)
        if kind not in COUNTERFACTUALS:
            raise MethodologyError(f"Giả định '{kind}' không được hỗ trợ; chọn trong {sorted(COUNTERFACTUALS)}.")
        if kind == "set_ratio":
            out = set_ratio(out, meth, float(spec.pop("ratio")), **spec)
        else:
            out = COUNTERFACTUALS[kind](out, meth, **spec)
    return out


# ---------------------------------------------------------------------------
# Scenario vs baseline
# ---------------------------------------------------------------------------
@dataclass
class Scenario:
    meth: Methodology                  # baseline methodology
    meth_scenario: Methodology
    baseline_points: pl.DataFrame
    scenario_points: pl.DataFrame
    baseline_units: pl.DataFrame
    scenario_units: pl.DataFrame
    comparison: pl.DataFrame           # every unit, side by side (diff_units, only_changed=False)
    changes: pl.DataFrame              # units whose tier or rank changed
    gaps: pl.DataFrame                 # cheapest path to the next tier in the scenario
    scenario_source: pl.DataFrame | None = None   # input of the scenario (counts, or its points table)
    notes: list[str] = field(default_factory=list)


def scenario(source: pl.DataFrame, meth: Methodology, overrides: Mapping[str, Any] | None = None,
             counterfactuals: Sequence[Mapping[str, Any]] | None = None, *, near: float | None = None) -> Scenario:
    """Baseline (`source` under `meth`) and scenario (`overrides` on `meth`,
    `counterfactuals` on `source`) side by side.

    `near`: gap (converted points) up to which units get a path to the next tier
    (default: every unit below the top tier).
    """
    notes: list[str] = []
    meth2 = derive_methodology(meth, overrides)
    if not is_counts(source) and overrides and overrides.get("rules"):
        notes.append("Bảng điểm đã công bố không có tử số, mẫu số: thay đổi quy tắc tính điểm (rules) không áp dụng được.")
    base_points = points_of(source, meth)
    base_units = units_of(base_points, meth)
    scen_source = apply_counterfactuals(source, meth2, counterfactuals)
    scen_points = points_of(scen_source, meth2, notes, baseline=meth)
    scen_units = units_of(scen_points, meth2)
    order = [t.name for t in sorted(meth2.tiers, key=lambda t: t.min, reverse=True)]
    comparison = diff_units(base_units, scen_units, tier_order=order, only_changed=False)
    return Scenario(
        meth=meth, meth_scenario=meth2, baseline_points=base_points, scenario_points=scen_points,
        baseline_units=base_units, scenario_units=scen_units, comparison=comparison,
        changes=comparison.filter(pl.col("changed")),
        gaps=cheapest_path(scen_units, scen_points, meth2, near=near),
        scenario_source=scen_source if is_counts(scen_source) else scen_points, notes=notes,
    )


def cheapest_path(units: pl.DataFrame, points: pl.DataFrame, meth: Methodology, near: float | None = None) -> pl.DataFrame:
    """Least effort to the next tier per unit (``chiso.analysis.next_tier_gaps`` over
    every period), with, where counts are known, the dossiers that the first option
    needs (``dossiers_needed``: rate rise × the metric's denominator, rounded up)."""
    keys = tuple(k for k in UNIT_KEYS if k in units.columns and k in points.columns)
    gaps = analysis.next_tier_gaps(units, points, meth, near=meth.scale if near is None else near, keys=keys)
    if "denominator" not in points.columns or gaps.height == 0:
        return gaps
    first = gaps.select(*keys, pl.col("options").list.first().struct.field("indicator").alias("_ind"),
                        pl.col("options").list.first().struct.field("rate_rise_pp").alias("_pp"))
    den = points.select(*keys, pl.col("indicator").alias("_ind"), pl.col("denominator").alias("_den"))
    need = (first.join(den, on=[*keys, "_ind"], how="left")
            .select(*keys, (pl.col("_pp") / 100 * pl.col("_den") - 1e-9).ceil().cast(pl.Int64).alias("dossiers_needed")))
    return gaps.join(need, on=list(keys), how="left")


def _tier_order(*frames: pl.DataFrame) -> list[str]:
    """Tiers best first, read from the scores (the tier with the highest minimum first)."""
    both = pl.concat([f.select(pl.col("tier").cast(pl.String), pl.col("converted").cast(pl.Float64)) for f in frames])
    return (both.drop_nulls().group_by("tier").agg(pl.col("converted").min())
            .sort("converted", descending=True)["tier"].to_list())


def diff_units(baseline_units: pl.DataFrame, scenario_units: pl.DataFrame,
               keys: Sequence[str] = UNIT_KEYS, tier_order: Sequence[str] | None = None,
               only_changed: bool = True) -> pl.DataFrame:
    """Units of two scored sets side by side; with `only_changed`, those whose tier or
    rank changed or that are scored in one set only (absent or not scored in the other).

    Columns: keys, converted/rank/tier ``_baseline`` and ``_scenario``, ``delta``
    (converted points), ``rank_change`` (places gained: baseline − scenario),
    ``tier_change`` (tiers gained, best tier = highest), ``change`` (``tier``,
    ``rank``, ``score``, ``added``, ``removed``, ``none``), ``changed``.
    """
    keys = [k for k in keys if k in baseline_units.columns and k in scenario_units.columns]
    cols = ("converted", "rank", "tier")

    def side(df: pl.DataFrame, tag: str) -> pl.DataFrame:
        return df.select(*keys, *[pl.col(c).alias(f"{c}_{tag}") for c in cols]).with_columns(
            pl.col(f"converted_{tag}").is_not_null().alias(f"_in_{tag}"))   # scored in that set

    order = list(tier_order) if tier_order is not None else _tier_order(baseline_units, scenario_units)
    idx = {t: len(order) - i for i, t in enumerate(order)}
    j = side(baseline_units, "baseline").join(side(scenario_units, "scenario"), on=keys, how="full", coalesce=True)
    tb = pl.col("tier_baseline").replace_strict(idx, default=None, return_dtype=pl.Int32)
    ts = pl.col("tier_scenario").replace_strict(idx, default=None, return_dtype=pl.Int32)
    out = j.with_columns(
        pl.col("_in_baseline").fill_null(False), pl.col("_in_scenario").fill_null(False),
        (pl.col("converted_scenario") - pl.col("converted_baseline")).alias("delta"),
        (pl.col("rank_baseline").cast(pl.Int64) - pl.col("rank_scenario").cast(pl.Int64)).alias("rank_change"),
        (ts - tb).alias("tier_change"),
    ).with_columns(
        pl.when(~pl.col("_in_baseline")).then(pl.lit("added"))
        .when(~pl.col("_in_scenario")).then(pl.lit("removed"))
        .when(pl.col("tier_baseline").ne_missing(pl.col("tier_scenario"))).then(pl.lit("tier"))
        .when(pl.col("rank_baseline").ne_missing(pl.col("rank_scenario"))).then(pl.lit("rank"))
        .when(pl.col("delta").abs().fill_null(0) > 1e-9).then(pl.lit("score"))
        .otherwise(pl.lit("none")).alias("change"),
    ).with_columns(pl.col("change").is_in(["tier", "rank", "added", "removed"]).alias("changed")).drop(
        "_in_baseline", "_in_scenario")
    if only_changed:
        out = out.filter(pl.col("changed"))
    return out.sort(*[k for k in keys if k != "unit"], "rank_scenario", "rank_baseline", "unit", nulls_last=True)


CHANGE_VI = {"tier": "đổi xếp loại", "rank": "đổi hạng", "score": "đổi điểm",
             "added": "chỉ được chấm điểm ở thử nghiệm", "removed": "chỉ được chấm điểm ở gốc", "none": "không đổi"}
DISPLAY_VI = {
    "table": "Bảng", "period": "Kỳ", "unit_group": "Nhóm đơn vị", "unit": "Đơn vị",
    "converted_baseline": "Điểm gốc", "converted_scenario": "Điểm thử nghiệm", "delta": "Chênh lệch",
    "rank_baseline": "Hạng gốc", "rank_scenario": "Hạng thử nghiệm", "rank_change": "Tăng hạng",
    "tier_baseline": "Xếp loại gốc", "tier_scenario": "Xếp loại thử nghiệm", "change": "Thay đổi",
}


def display_changes(diff: pl.DataFrame) -> pl.DataFrame:
    """`diff_units` output with Vietnamese headers and numbers as printed (82,96)."""
    from .numbers import fmt_num, fmt_signed

    cols = [c for c in DISPLAY_VI if c in diff.columns]
    return diff.select(
        *[pl.col(c).map_elements(lambda x: fmt_num(x, 2), return_dtype=pl.String) if c.startswith("converted")
          else pl.col(c).map_elements(lambda x: fmt_signed(x, 2), return_dtype=pl.String) if c == "delta"
          else pl.col(c).replace_strict(CHANGE_VI, return_dtype=pl.String) if c == "change"
          else pl.col(c) for c in cols]
    ).rename({c: DISPLAY_VI[c] for c in cols})


# ---------------------------------------------------------------------------
# Comparing two runs: directories or git/DVC revisions (`chiso compare-runs`)
# ---------------------------------------------------------------------------
UNITS_GLOBS = ("data/processed/*/units*.parquet", "data/processed/periods/*/units_*.parquet")


def _table_name(path: str | Path) -> str:
    p = Path(path)
    suffix = p.stem.removeprefix("units").removeprefix("_")
    return p.parent.name + (f"/{suffix}" if suffix else "")


def read_run_units(run: str, root: str | Path = ".", tables: Sequence[str] | None = None) -> pl.DataFrame:
    """Every ``units*.parquet`` of one run, stacked with a ``table`` column.

    `run` is a directory (a repository root, its ``data/processed`` or one table's
    folder) or a git revision / DVC experiment name of the repository at `root`
    (files read with ``dvc.api.DVCFileSystem``: DVC-tracked outputs come from the cache).
    """
    frames: list[pl.DataFrame] = []
    path = Path(run)
    if path.is_dir():
        for patterns in (UNITS_GLOBS, ("*/units*.parquet", "periods/*/units_*.parquet"), ("units*.parquet",)):
            found = sorted(f for pattern in patterns for f in path.glob(pattern))
            if found:
                frames = [pl.read_parquet(f).with_columns(pl.lit(_table_name(f)).alias("table")) for f in found]
                break
    else:
        from dvc.api import DVCFileSystem

        try:
            fs = DVCFileSystem(str(Path(root).resolve()), rev=run)
            found = sorted(f for pattern in UNITS_GLOBS for f in fs.glob(pattern))
        except Exception as exc:  # not a git repository, unknown revision, …
            raise FileNotFoundError(2, f"'{run}' không phải thư mục, cũng không phải phiên bản git hay thử nghiệm "
                                       f"DVC của kho {root} ({exc})", str(run)) from exc
        for f in found:
            with fs.open(f, "rb") as fh:
                frames.append(pl.read_parquet(io.BytesIO(fh.read())).with_columns(pl.lit(_table_name(f)).alias("table")))
    if not frames:
        raise FileNotFoundError(2, "Không có tệp units*.parquet", str(run))
    out = pl.concat(frames, how="diagonal_relaxed")
    if tables:
        out = out.filter(pl.col("table").is_in(list(tables)) | pl.col("table").str.split("/").list.first().is_in(list(tables)))
    return out


def compare_runs(baseline: str, scenario_run: str, root: str | Path = ".", tables: Sequence[str] | None = None,
                 only_changed: bool = True) -> pl.DataFrame:
    """`diff_units` between two runs (see `read_run_units`), table by table."""
    b = read_run_units(baseline, root, tables)
    s = read_run_units(scenario_run, root, tables)
    return diff_units(b, s, keys=("table", *UNIT_KEYS), only_changed=only_changed)


def add_compare_runs_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("baseline", help="lần chạy gốc: thư mục (kho, data/processed hoặc thư mục một bảng) "
                                    "hoặc phiên bản git / tên thử nghiệm DVC (ví dụ HEAD)")
    p.add_argument("scenario", help="lần chạy thử nghiệm, cùng dạng (ví dụ . là thư mục làm việc)")
    p.add_argument("--root", default=".", help="kho git/DVC khi dùng phiên bản (mặc định: thư mục hiện tại)")
    p.add_argument("--table", action="append", dest="tables", help="chỉ so sánh bảng này (có thể lặp lại)")
    p.add_argument("--all", action="store_true", dest="show_all", help="liệt kê cả đơn vị không thay đổi")
    p.add_argument("--out", help="ghi kết quả ra CSV hoặc Parquet")
    return p


def cmd_compare_runs(args: argparse.Namespace) -> int:
    """``chiso compare-runs BASELINE SCENARIO [--root R] [--table T]… [--all] [--out F]``."""
    from .numbers import fmt_units

    diff = compare_runs(args.baseline, args.scenario, args.root, args.tables, only_changed=False)
    changed = diff.filter(pl.col("changed"))
    n_tier = changed.filter(pl.col("change") == "tier").height
    n_rank = changed.filter(pl.col("change") == "rank").height
    n_other = changed.height - n_tier - n_rank
    print(f"So sánh {args.baseline} → {args.scenario}: {diff['table'].n_unique()} bảng, {diff.height} đơn vị; "
          f"{fmt_units(n_tier)} đơn vị đổi xếp loại, {fmt_units(n_rank)} đơn vị chỉ đổi hạng"
          + (f", {fmt_units(n_other)} đơn vị chỉ được chấm điểm ở một lần chạy" if n_other else "") + ".")
    shown = diff if args.show_all else changed
    if shown.height:
        print_frame(display_changes(shown.drop("tier_change", "changed", "rank_change")), limit=200)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        (shown.write_parquet if out.suffix == ".parquet" else shown.write_csv)(out)
        print(f"Đã ghi: {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry: ``python -m chiso.whatif BASELINE SCENARIO …``."""
    parser = add_compare_runs_arguments(ArgumentParser(
        prog="chiso compare-runs", description="Liệt kê đơn vị đổi xếp loại hoặc đổi hạng giữa hai lần chạy."))
    return parser.run_command(argv, cmd_compare_runs)


if __name__ == "__main__":
    raise SystemExit(main())
