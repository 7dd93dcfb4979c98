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
    # where the first unexpected values are: file (of a period's several files) and row in that file
    "files": pl.List(pl.String), "rows": pl.List(pl.Int64),
}
# Columns of a validated frame that locate a row in its input file (when present).
LOCATION_COLUMNS = {"file": "source_file", "row": ("source_row", "__line")}
MAX_LOCATIONS = 20


@dataclass
class ValidationOutcome:
    suite: str
    file: str
    results: pl.DataFrame  # one row per expectation
    repairs: pl.DataFrame | None = None  # repairs accepted while reading (chiso.sniff.REPAIR_SCHEMA)

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
             "results": self.results.to_dicts(),
             "repairs": self.repairs.to_dicts() if self.repairs is not None else []},
            ensure_ascii=False, indent=1, sort_keys=True) + "\n"

    def error_message(self) -> str:
        lines = []
        for r in self.critical_failures.iter_rows(named=True):
            units = ", ".join(r["units"][:10]) if r["units"] else "toàn bảng"
            values = ", ".join(f"\"{v}\"" for v in r["values"][:5]) if r["values"] else ""
            where = where_text(r)
            lines.append(f"- cột {r['column'] or '(bảng)'}: {r['rule_vi']}; đơn vị: {units}"
                         + (f"; giá trị: {values}" if values else "") + (f"; {where}" if where else ""))
        return "\n".join(lines)


def where_text(r: dict[str, Any], limit: int = 8, short: bool = False) -> str:
    """"tệp a.csv dòng 4, 7; tệp b.json dòng 2" from a result row's locations, at most
    ``limit`` rows per file; ``short``: "a.csv: dòng 4, 7" with the file's name only (tables)."""
    by_file: dict[str, list[str]] = {}
    for f, row in zip(r.get("files") or [], r.get("rows") or [], strict=False):
        by_file.setdefault((Path(f).name if short else f) if f else "", []).append(str(row))
    label = (lambda f: f"{f}: ") if short else (lambda f: f"tệp {f} ")
    return "; ".join((label(f) if f else "") + "dòng " + ", ".join(rows[:limit]) + (" …" if len(rows) > limit else "")
                     for f, rows in by_file.items())


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
    expectations = [{**e, "type": str(e["type"]).lower()} for e in suite_dict["expectations"]]
    suite = ctx.suites.add(gx.ExpectationSuite(name=suite_dict["name"], expectations=expectations))
    if len(suite.expectations) != len(expectations):  # GE drops unknown expectation types with a log line only
        known = {e.expectation_type for e in suite.expectations}
        lost = sorted({e["type"] for e in expectations} - known)
        raise RuntimeError(f"expectations/{suite_name}.json: Great Expectations không nhận các quy tắc {lost}; "
                           "sửa tên quy tắc (một quy tắc bị bỏ qua là một kiểm tra không được chạy).")
    batch = batch_def.get_batch(batch_parameters={"dataframe": df.to_pandas()})
    fmt: dict[str, Any] = {"result_format": "COMPLETE"}
    file_col = LOCATION_COLUMNS["file"] if LOCATION_COLUMNS["file"] in df.columns else None
    row_col = next((c for c in LOCATION_COLUMNS["row"] if c in df.columns), None)
    index_columns = [c for c in (index_column, file_col, row_col) if c and c in df.columns]
    if index_columns:
        fmt["unexpected_index_column_names"] = list(dict.fromkeys(index_columns))
    res = batch.validate(suite, expectation_parameters=parameters, result_format=fmt)
    if len(res.results) != len(suite_dict["expectations"]):
        ran = {r.expectation_config.type for r in res.results}
        lost = sorted({e["type"] for e in suite_dict["expectations"]} - ran)
        raise ValueError(f"Bộ kiểm tra {suite_name}: {len(suite_dict['expectations']) - len(res.results)} quy tắc không được "
                         f"Great Expectations chạy (tên không được nhận: {', '.join(lost) or '?'}).")
    rows = []
    for r in res.results:
        cfg = r.expectation_config
        meta = cfg.meta or {}
        idx = r.result.get("unexpected_index_list") or []
        units = [str(i.get(index_column)) for i in idx if isinstance(i, dict) and i.get(index_column) is not None]
        located = [i for i in idx if isinstance(i, dict) and row_col and i.get(row_col) is not None][:MAX_LOCATIONS]
        files = [str(i.get(file_col)) if file_col and i.get(file_col) is not None else file for i in located]
        line_numbers = [int(i[row_col]) for i in located]
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
            "files": files,
            "rows": line_numbers,
        })
    return ValidationOutcome(suite=suite_name, file=file, results=pl.DataFrame(rows, schema=RESULT_SCHEMA))


def validate_published(table, meth: Methodology) -> ValidationOutcome:
    """Run the ``published_table`` suite on a parsed published table."""
    aliases = table.meta.get("tier_abbreviations") or {}
    outcome = run_suite(table.wide, "published_table", methodology_parameters(meth, aliases), str(table.path))
    outcome.repairs = getattr(table, "repairs", None)
    return outcome


def raise_on_failure(outcome: ValidationOutcome) -> None:
    if outcome.success:
        return
    first = outcome.critical_failures.row(0, named=True)
    file = (first.get("files") or [outcome.file])[0]
    row = (first.get("rows") or [None])[0]
    raise InputError(
        "Dữ liệu đầu vào không đạt kiểm tra bắt buộc, dừng xử lý kỳ này (các kết quả đã có không bị thay đổi):\n"
        + outcome.error_message(),
        "Input failed critical expectations: "
        + "; ".join(f"{r['column'] or 'table'}: {r['rule_en']}" for r in outcome.critical_failures.iter_rows(named=True)),
        file=file, row=row, column=first["column"], rule=first["expectation"],
    )
