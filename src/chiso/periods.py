"""The monthly pipeline over periods: ingest → validate → score, one period at a time.

Layout of a period (an analyst drops the month's exports into its folder):

* ``data/raw/<YYYY-MM>/``: the national portal's JSON and/or our template
  (CSV/XLSX), plus an optional ``period.yaml`` (``synthetic: true`` for generated data);
* ``data/processed/periods/<YYYY-MM>/``: ``counts.parquet`` (validated counts of every file),
  ``points_<methodology>.parquet``, ``units_<methodology>.parquet``, ``metrics.json``;
* ``reports/<YYYY-MM>/``: ``validation.html`` and the monthly reports.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from . import counts as _counts
from . import sniff, validation
from .errors import InputError
from .io import atomic_write_text, write_parquet
from .params import load_methodology, load_params
from .units import REGISTRY_PATH, load_registry

PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
INPUT_SUFFIXES = (".json", ".csv", ".xlsx")
DEFAULT_METHODOLOGIES = ("qd459-2023", "qd766-2022")


def check_period(period: str) -> str:
    """A period name is YYYY-MM and nothing else (no path traversal through it)."""
    period = str(period)
    if not PERIOD_RE.fullmatch(period):
        raise InputError(f"Kỳ báo cáo \"{period}\" không hợp lệ: phải có dạng NNNN-TT, ví dụ 2024-06.",
                         f"Invalid period {period!r}: expected YYYY-MM.", rule="period_name")
    return period


def shift(period: str, months: int) -> str:
    y, m = map(int, check_period(period).split("-"))
    total = y * 12 + (m - 1) + months
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def period_bounds(period: str) -> tuple[_dt.date, _dt.date]:
    y, m = map(int, check_period(period).split("-"))
    start = _dt.date(y, m, 1)
    end = _dt.date(y + (m == 12), m % 12 + 1, 1) - _dt.timedelta(days=1)
    return start, end


def raw_dir(period: str, root: Path) -> Path:
    return root / "data" / "raw" / check_period(period)


def processed_dir(period: str, root: Path) -> Path:
    return root / "data" / "processed" / "periods" / check_period(period)


def reports_dir(period: str, root: Path) -> Path:
    return root / "reports" / check_period(period)


def period_meta(period: str, root: Path) -> dict[str, Any]:
    path = raw_dir(period, root) / "period.yaml"
    if not path.exists():
        return {"period": period, "synthetic": False}
    with path.open(encoding="utf-8") as fh:
        return {"period": period, "synthetic": False, **(yaml.safe_load(fh) or {})}


def input_files(period: str, root: Path) -> list[Path]:
    folder = raw_dir(period, root)
    if not folder.is_dir():
        raise InputError(f"Không có thư mục số liệu {folder} cho kỳ {period}.",
                         f"No input folder {folder}.", file=str(folder), rule="period_folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in INPUT_SUFFIXES and p.is_file())
    if not files:
        raise InputError(f"Thư mục {folder} không có tệp số liệu (.json, .csv, .xlsx).",
                         f"No input file in {folder}.", file=str(folder), rule="period_folder")
    return files


def methodology_ids(params: dict) -> list[str]:
    return list((params.get("periods_config") or {}).get("methodologies") or DEFAULT_METHODOLOGIES)


def known_units(period: str, root: Path, codes: list[str]) -> list[str]:
    """Registry units valid in the period; without a registry, the codes as given."""
    if not (root / REGISTRY_PATH).exists():
        return sorted(set(codes))
    reg = load_registry(root)
    start, end = period_bounds(period)
    valid = reg.filter((pl.col("valid_from").cast(pl.Date) <= end)
                       & (pl.col("valid_to").is_null() | (pl.col("valid_to").cast(pl.Date) >= start)))
    return sorted(set(valid["unit_code"].to_list()))


def _read_period(period: str, root: Path) -> tuple[pl.DataFrame, list[Path], pl.DataFrame]:
    """Every export of the period stacked (with ``source_row``), names and groups taken
    from the unit registry when there is one (sources spell them differently), and the
    repairs accepted while reading."""
    files = input_files(period, root)
    with sniff.collect_repairs() as repairs:
        frames = [_counts.read_counts_located(f).with_columns(pl.lit(f.name).alias("source_file")) for f in files]
    counts = pl.concat(frames, how="diagonal_relaxed")
    if (root / REGISTRY_PATH).exists():
        reg = load_registry(root).select("unit_code", pl.col("unit_name").alias("_name"), pl.col("unit_group").alias("_group"))
        counts = (counts.join(reg.unique("unit_code"), on="unit_code", how="left", maintain_order="left")
                  .with_columns(pl.coalesce("_name", "unit_name").alias("unit_name"),
                                pl.coalesce("_group", "unit_group").alias("unit_group"))
                  .drop("_name", "_group"))
    return counts, files, sniff.repairs_frame(repairs)


def _coverage_results(counts: pl.DataFrame, known: list[str], carried: set[str]) -> list[dict[str, Any]]:
    """Warnings for a half-filled month: registry units without any row (none without a
    registry: ``known`` is then the codes present), and units that lack indicators the
    other units of the same file have. ``carried``: the metrics of group scores carried
    from a source (the methodologies' ``source_metric``), which only some units have."""
    out = []
    present = set(counts["unit_code"].drop_nulls().to_list())
    absent = sorted(set(known) - present)
    out.append({
        "expectation": "chiso_units_reported", "column": "unit_code", "severity": "warning",
        "success": not absent, "n_unexpected": len(absent), "units": absent[:50], "values": [],
        "rule_vi": "Mọi đơn vị còn hiệu lực trong danh mục nên có số liệu trong kỳ (tháng chưa đủ số liệu?)",
        "rule_en": "every registry unit of the period has data", "files": [], "rows": [],
    })
    per_file = (counts.filter(~pl.col("indicator").is_in(sorted(carried)))
                .group_by("source_file", "unit_code", "unit_name").agg(pl.col("indicator").unique())
                .with_columns(pl.col("indicator").list.len().alias("n"))
                .with_columns(pl.col("n").max().over("source_file").alias("n_max")))
    short = per_file.filter(pl.col("n") < pl.col("n_max")).sort("source_file", "unit_code")
    missing: list[str] = []
    if short.height:
        full = (counts.group_by("source_file").agg(pl.col("indicator").unique().alias("all")))
        gaps = short.join(full, on="source_file").with_columns(
            pl.col("all").list.set_difference("indicator").list.sort().alias("missing"))
        missing = sorted({m for ms in gaps["missing"].to_list() for m in ms if m not in carried})
    out.append({
        "expectation": "chiso_indicators_complete", "column": "indicator", "severity": "warning",
        "success": short.height == 0, "n_unexpected": short.height,
        "units": short["unit_name"].cast(pl.String).to_list()[:50], "values": missing[:20],
        "rule_vi": "Mỗi đơn vị nên có đủ các chỉ tiêu mà các đơn vị khác trong cùng tệp có (chỉ tiêu thiếu không được "
                   "chấm điểm)",
        "rule_en": "units have the indicators the other units of the same file have", "files": [], "rows": [],
    })
    return out


def _read_failure(exc: InputError, file: str) -> validation.ValidationOutcome:
    """An outcome for a file that could not be read at all (shown in validation.html)."""
    row = {"expectation": exc.rule or "input", "column": exc.column, "severity": "critical", "success": False,
           "n_unexpected": 1, "units": [], "values": [], "rule_vi": exc.message_vi, "rule_en": exc.message_en,
           "files": [exc.file or file], "rows": [exc.row] if exc.row is not None else []}
    return validation.ValidationOutcome(suite="counts", file=exc.file or file,
                                        results=pl.DataFrame([row], schema=validation.RESULT_SCHEMA))


def ingest_period(period: str, params_file: str | Path = "params.yaml", root: str | Path = ".") -> validation.ValidationOutcome:
    """Read every export of the period, validate them together and write counts.parquet.

    A file that cannot be read, or a critical rule broken, stops here with an
    ``InputError`` naming file, row, column and rule; ``validation.json`` and
    ``reports/<period>/validation.html`` say why, and list the repairs accepted.
    """
    root = Path(root)
    period = check_period(period)
    params = load_params(root / params_file)
    from .reports.validation import write_period_validation_report

    try:
        counts, files, repairs = _read_period(period, root)
    except InputError as exc:
        failed = _read_failure(exc, str(raw_dir(period, root)))
        atomic_write_text(processed_dir(period, root) / "validation.json", failed.to_json())
        write_period_validation_report(failed, period, reports_dir(period, root) / "validation.html")
        raise
    metrics, carried = set(), set()
    for mid in methodology_ids(params):
        meth = load_methodology(mid, params)
        metrics |= {i.metric for i in meth.indicators if i.metric}
        carried |= {g.get("source_metric") for g in meth.groups if g.get("source_metric")}
        metrics |= carried
        metrics.add(meth.no_dossier_metric)
        for ind in meth.indicators:
            metrics |= set((ind.rule.get("levels") or {}))
            metrics.add((ind.rule.get("condition") or {}).get("metric"))
    known = known_units(period, root, counts["unit_code"].drop_nulls().to_list())
    parameters = {"periods": [period], "known_units": known, "known_metrics": sorted(m for m in metrics if m)}
    outcome = validation.run_suite(counts, "counts", parameters, ", ".join(str(f) for f in files), index_column="unit_name")
    outcome.results = pl.concat([outcome.results,
                                 pl.DataFrame(_coverage_results(counts, known, carried), schema=validation.RESULT_SCHEMA)])
    outcome.repairs = repairs
    # locations name the file as the analyst finds it (data/raw/<period>/<file>)
    paths = {f.name: str(f) for f in files}
    outcome.results = outcome.results.with_columns(
        pl.col("files").list.eval(pl.element().replace(paths)))
    atomic_write_text(processed_dir(period, root) / "validation.json", outcome.to_json())
    write_period_validation_report(outcome, period, reports_dir(period, root) / "validation.html")
    validation.raise_on_failure(outcome)
    write_parquet(counts.drop("source_row").sort("unit_code", "indicator"), processed_dir(period, root) / "counts.parquet")
    return outcome


def score_period(period: str, params_file: str | Path = "params.yaml", root: str | Path = ".") -> dict[str, pl.DataFrame]:
    """Score the period's counts under every configured methodology."""
    root = Path(root)
    period = check_period(period)
    params = load_params(root / params_file)
    counts = pl.read_parquet(processed_dir(period, root) / "counts.parquet")
    out: dict[str, pl.DataFrame] = {}
    metrics: dict[str, Any] = {"period": period}
    for mid in methodology_ids(params):
        meth = load_methodology(mid, params)
        points = _counts.indicator_points(counts, meth)
        units = _counts.unit_table(points, meth)
        write_parquet(points, processed_dir(period, root) / f"points_{mid}.parquet")
        write_parquet(units, processed_dir(period, root) / f"units_{mid}.parquet")
        scored = units.filter(~pl.col("excluded").fill_null(False))
        metrics[mid] = {
            "units_scored": scored.height,
            "units_excluded": units.height - scored.height,
            "mean_converted": round(float(scored["converted"].mean() or 0.0), 4),
            "tiers": {t.code: int(scored.filter(pl.col("tier") == t.name).height) for t in meth.tiers},
        }
        out[mid] = units
    atomic_write_text(processed_dir(period, root) / "metrics.json",
                      json.dumps(metrics, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    return out


def available_periods(root: Path, upto: str | None = None) -> list[str]:
    """Periods already scored in data/processed (for comparisons and trends)."""
    base = root / "data" / "processed" / "periods"
    found = sorted(p.name for p in base.iterdir() if p.is_dir() and PERIOD_RE.fullmatch(p.name)) if base.exists() else []
    return [p for p in found if upto is None or p <= upto]


def load_units(period: str, methodology_id: str, root: Path) -> pl.DataFrame | None:
    path = processed_dir(period, root) / f"units_{methodology_id}.parquet"
    return pl.read_parquet(path) if path.exists() else None
