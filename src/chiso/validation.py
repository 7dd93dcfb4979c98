"""Input validation with Great Expectations suites kept as JSON in ``expectations/``.

Great Expectations 1.x has no polars data source, so frames are converted with
``to_pandas()`` (pyarrow). Suite parameters (``{"$PARAMETER": "max_tdgq"}``) are
filled from the methodology, so one suite serves every methodology that shares
the published layout. A failing *critical* expectation stops the stage with a
message naming file, unit and column; *warning* expectations are recorded and
reported (a published table's own errors are audited, not hidden).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from .errors import InputError
from .methodology import Methodology

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TQDM_DISABLE", "1")

REPO_ROOT = Path(__file__).resolve().parents[2]
EXPECTATIONS_DIR = Path(os.environ.get("CHISO_EXPECTATIONS_DIR", REPO_ROOT / "expectations"))

RESULT_SCHEMA = {
    "expectation": pl.String, "column": pl.String, "severity": pl.String, "success": pl.Boolean,
    "n_unexpected": pl.Int64, "units": pl.List(pl.String), "values": pl.List(pl.String),
    "rule_vi": pl.String, "rule_en": pl.String,
}


@dataclass
class ValidationOutcome:
    suite: str
    file: str
    results: pl.DataFrame  # one row per expectation

    @property
    def critical_failures(self) -> pl.DataFrame:
        return self.results.filter(~pl.col("success") & (pl.col("severity") == "critical"))

    @property
    def warnings(self) -> pl.DataFrame:
        return self.results.filter(~pl.col("success") & (pl.col("severity") != "critical"))

    @property
    def success(self) -> bool:
        return self.critical_failures.height == 0

    def to_json(self) -> str:
        return json.dumps(
            {"suite": self.suite, "file": self.file, "success": self.success,
             "results": self.results.to_dicts()},
            ensure_ascii=False, indent=1, sort_keys=True) + "\n"

    def error_message(self) -> str:
        lines = []
        for r in self.critical_failures.iter_rows(named=True):
            units = ", ".join(r["units"][:10]) if r["units"] else "toàn bảng"
            values = ", ".join(f"\"{v}\"" for v in r["values"][:5]) if r["values"] else ""
            lines.append(f"- cột {r['column'] or '(bảng)'}: {r['rule_vi']}; đơn vị: {units}"
                         + (f"; giá trị: {values}" if values else ""))
        return "\n".join(lines)


def _show(value: Any) -> str:
    """An unexpected value as a reader would write it ("(4, 5)" for a pair of columns)."""
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(f)) if f.is_integer() else str(f)


def load_suite_dict(name: str) -> dict[str, Any]:
    path = EXPECTATIONS_DIR / f"{name}.json"
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def methodology_parameters(meth: Methodology, extra_tiers: dict[str, str] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {f"max_{i.code}": i.max for i in meth.indicators}
    params["scale"] = meth.scale
    params["allowed_tiers"] = sorted({t.name for t in meth.tiers} | set(extra_tiers or {}))
    return params


def run_suite(df: pl.DataFrame, suite_name: str, parameters: dict[str, Any], file: str,
              index_column: str = "unit") -> ValidationOutcome:
    """Validate a polars frame against a JSON suite; return a tidy result table."""
    import great_expectations as gx  # slow import: only when validating

    suite_dict = load_suite_dict(suite_name)
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = ctx.data_sources.add_pandas("chiso").add_dataframe_asset(suite_name)
    batch_def = asset.add_batch_definition_whole_dataframe("whole")
    suite = ctx.suites.add(gx.ExpectationSuite(name=suite_dict["name"], expectations=suite_dict["expectations"]))
    batch = batch_def.get_batch(batch_parameters={"dataframe": df.to_pandas()})
    fmt: dict[str, Any] = {"result_format": "COMPLETE"}
    if index_column in df.columns:
        fmt["unexpected_index_column_names"] = [index_column]
    res = batch.validate(suite, expectation_parameters=parameters, result_format=fmt)
    rows = []
    for r in res.results:
        cfg = r.expectation_config
        meta = cfg.meta or {}
        idx = r.result.get("unexpected_index_list") or []
        units = [str(i.get(index_column)) for i in idx if isinstance(i, dict) and i.get(index_column) is not None]
        values = [_show(v) for v in (r.result.get("unexpected_list") or [])]
        if cfg.type == "expect_table_columns_to_match_set" and not r.success:
            details = r.result.get("details", {}).get("mismatched", {})
            values = [str(v) for v in details.get("missing", [])]
        severity = getattr(cfg, "severity", "critical")
        rows.append({
            "expectation": cfg.type,
            "column": meta.get("column") or cfg.kwargs.get("column"),
            "severity": getattr(severity, "value", str(severity)),
            "success": bool(r.success),
            "n_unexpected": int(r.result.get("unexpected_count") or len(values) or 0),
            "units": list(dict.fromkeys(units)),
            "values": list(dict.fromkeys(values)),
            "rule_vi": meta.get("rule_vi", cfg.type),
            "rule_en": meta.get("rule_en", cfg.type),
        })
    return ValidationOutcome(suite=suite_name, file=file, results=pl.DataFrame(rows, schema=RESULT_SCHEMA))


def validate_published(table, meth: Methodology) -> ValidationOutcome:
    """Run the ``published_table`` suite on a parsed published table."""
    aliases = table.meta.get("tier_abbreviations") or {}
    return run_suite(table.wide, "published_table", methodology_parameters(meth, aliases), str(table.path))


def raise_on_failure(outcome: ValidationOutcome) -> None:
    if outcome.success:
        return
    first = outcome.critical_failures.row(0, named=True)
    raise InputError(
        "Dữ liệu đầu vào không đạt kiểm tra bắt buộc, dừng xử lý kỳ này (các kết quả đã có không bị thay đổi):\n"
        + outcome.error_message(),
        "Input failed critical expectations: "
        + "; ".join(f"{r['column']}: {r['rule_en']}" for r in outcome.critical_failures.iter_rows(named=True)),
        file=outcome.file, column=first["column"], rule=first["expectation"],
    )
