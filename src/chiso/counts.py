"""Counts-level input and the rule interpreter that turns counts into points.

The monthly input of every index is, per unit and metric, a numerator and a
denominator (or, for weighted criteria, a few counts). This module holds

* the **counts table** (one row per period × unit × metric, see ``COUNTS_SCHEMA``)
  and its adapters: the analyst's CSV/XLSX template (``read_template``), the
  national portal's JSON (``chiso.portal.read_portal``) and the QĐ 1187 quarterly
  transcription (``read_qd1187``);
* the **rule interpreter** ``indicator_points(counts, meth)``: counts joined to the
  methodology's indicators by ``metric``, every rule (linear, threshold,
  weighted_levels, bands, carried, zero-denominator policies, the no-dossier and
  not-applicable policies) written as polars expressions driven by the
  methodology file: no point value, threshold or rule lives here;
* ``score_file`` and ``unit_table``, the two entry points of ``chiso score``.

Basis of every indicator row: ``recomputed`` (points computed here from counts),
``carried from source, not recomputed`` (the source's printed score is kept because
the source gives no counts for it), ``not available`` (no counts, no score).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import polars as pl
import yaml

from . import methodology as _methodology
from . import scoring, sniff
from .errors import InputError
from .methodology import Methodology
from .numbers import round_half_up_expr

COUNTS_SCHEMA: dict[str, pl.DataType] = {
    "period": pl.String,
    "unit_code": pl.String,
    "unit_name": pl.String,
    "unit_group": pl.String,
    "indicator": pl.String,
    "numerator": pl.Float64,
    "denominator": pl.Float64,
    "provisional": pl.Boolean,
    "source_score": pl.Float64,
    "source_max": pl.Float64,
    "available": pl.Boolean,
    "note": pl.String,
}
KEYS = ["period", "unit_code"]
UNIT_COLUMNS = ["period", "unit_code", "unit_name", "unit_group"]

BASIS_RECOMPUTED = "recomputed"
BASIS_CARRIED = "carried from source, not recomputed"
BASIS_NOT_AVAILABLE = "not available"

LEVELS_PREFIX = "__levels__"
DEFAULT_UNIT_GROUP = "Tất cả đơn vị"
NO_DOSSIER_REASON = "Không có hồ sơ phát sinh trong kỳ: không chấm điểm, không xếp hạng (chính sách loại trừ)."

# Column headers of the template: canonical name → accepted spellings (compared
# after NFC, lower case and collapsed spaces).
TEMPLATE_ALIASES: dict[str, tuple[str, ...]] = {
    "period": ("period", "kỳ", "kỳ báo cáo", "kỳ đánh giá", "thời gian"),
    "unit_code": ("unit_code", "mã đơn vị", "mã đv"),
    "unit_name": ("unit_name", "unit", "tên đơn vị", "đơn vị"),
    "unit_group": ("unit_group", "nhóm đơn vị", "khối", "nhóm"),
    "indicator": ("indicator", "metric", "chỉ tiêu", "mã chỉ tiêu"),
    "numerator": ("numerator", "tử số"),
    "denominator": ("denominator", "mẫu số"),
    "provisional": ("provisional", "số liệu tạm", "tạm tính"),
    "source_score": ("source_score", "điểm nguồn", "điểm công bố"),
    "source_max": ("source_max", "điểm tối đa nguồn", "điểm tối đa công bố"),
    "available": ("available", "có số liệu"),
    "note": ("note", "ghi chú"),
}
REQUIRED_TEMPLATE_COLUMNS = ("period", "unit_name", "indicator", "numerator")


def _vi_header(code: str) -> str:
    """The template's Vietnamese header for a column code ('indicator' → 'Chỉ tiêu (indicator)')."""
    vi = next((a for a in TEMPLATE_ALIASES[code] if not a.isascii()), code)
    return f"{vi[:1].upper()}{vi[1:]} ({code})" if vi != code else code
TRUE_WORDS = ("true", "1", "x", "có", "co", "yes", "đúng", "tạm")
FALSE_WORDS = ("false", "0", "không", "khong", "no", "sai", "")
INDICATOR_PATTERN = r"^[a-z][a-z0-9_]*$"


# ---------------------------------------------------------------------------
# The counts table
# ---------------------------------------------------------------------------
def empty_counts() -> pl.DataFrame:
    return pl.DataFrame(schema=COUNTS_SCHEMA)


def normalize_counts(df: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Cast to ``COUNTS_SCHEMA`` (missing optional columns get their default)."""
    lf = df.lazy()
    names = lf.collect_schema().names()
    defaults = {
        "unit_code": pl.col("unit_name") if "unit_name" in names else pl.lit(None),
        "unit_group": pl.lit(DEFAULT_UNIT_GROUP),
        "provisional": pl.lit(False),
        "source_score": pl.lit(None),
        "source_max": pl.lit(None),
        "note": pl.lit(None),
    }
    exprs = []
    for col, dtype in COUNTS_SCHEMA.items():
        if col in names:
            exprs.append(pl.col(col).cast(dtype))
        elif col == "available":
            exprs.append(pl.col("numerator").cast(pl.Float64).is_not_null().alias(col))
        else:
            exprs.append(defaults.get(col, pl.lit(None)).cast(dtype).alias(col))
    return (
        lf.select(exprs)
        .with_columns(
            pl.col("provisional").fill_null(False),
            pl.col("available").fill_null(False),
            pl.col("unit_group").fill_null(DEFAULT_UNIT_GROUP),
            pl.col("unit_code").fill_null(pl.col("unit_name")),
        )
        .collect()
    )


TEMPLATE_HEADERS = frozenset(sniff.norm_header(a) for aliases in TEMPLATE_ALIASES.values() for a in aliases)
COUNT_COLUMNS = ("numerator", "denominator")
VALUE_COLUMNS = (*COUNT_COLUMNS, "source_score", "source_max")     # the numbers of a counts row


def _bool_expr(col: str) -> pl.Expr:
    raw = pl.col(col).cast(pl.String).str.strip_chars().str.to_lowercase().fill_null("")
    return pl.when(raw.is_in(list(TRUE_WORDS))).then(True).when(raw.is_in(list(FALSE_WORDS))).then(False)


def _read_table_strings(path: Path, text: str | None = None) -> sniff.SniffedTable:
    """A CSV or XLSX template as strings: encoding, delimiter, header rows found and repaired (``chiso.sniff``)."""
    return sniff.read_table(path, TEMPLATE_HEADERS, text=text)


def read_template(path: str | Path) -> pl.DataFrame:
    """Read the analyst's counts template (CSV or XLSX; see docs/counts-template.md).

    Bad input raises ``InputError`` (file, row, column, rule); accepted repairs
    (encoding, BOM, NFC, delimiter, title rows, merged headers, "82,96%", "1.234",
    "6/2024" …) are recorded with ``chiso.sniff.record`` (wrap the call in
    ``sniff.collect_repairs()`` to get them).
    """
    return _read_template(Path(path)).drop("source_row")


def _repair_rows(df: pl.DataFrame, mask: pl.Expr, col: str) -> tuple[tuple[int, ...], int, str]:
    hit = df.filter(mask)
    return tuple(hit["row"].head(sniff.EXAMPLES).to_list()), hit.height, (str(hit[col][0]) if hit.height else "")


def _read_template(path: Path, text: str | None = None) -> pl.DataFrame:
    """``read_template`` plus ``source_row`` (the row of the file each counts row comes from)."""
    table = _read_table_strings(path, text)
    raw = table.frame("row")
    file = str(path)
    renames, seen = {}, {}
    for col in table.header:
        canon = next((c for c, aliases in TEMPLATE_ALIASES.items() if sniff.norm_header(col) in aliases), None)
        if canon is None:
            continue
        if canon in seen:
            raise InputError(
                f"Hai cột cùng nghĩa '{canon}': '{seen[canon]}' và '{col}'.",
                f"Two columns mean '{canon}': '{seen[canon]}' and '{col}'.",
                file=file, row=table.header_line, column=col, rule="duplicate_column",
            )
        seen[canon] = col
        renames[col] = canon
    df = raw.select([*renames, "row"]).rename(renames)
    missing = [c for c in REQUIRED_TEMPLATE_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(
            f"Thiếu cột bắt buộc: {', '.join(_vi_header(c) for c in missing)} (xem docs/counts-template.md; "
            f"tiêu đề đọc được: "
            f"{', '.join(h for h in table.header[:12] if h) or 'không có'}).",
            f"Missing required columns: {', '.join(missing)}.",
            file=file, row=table.header_line, column=missing[0], rule="required_columns",
        )
    if df.height == 0:
        raise InputError("Tệp chỉ có dòng tiêu đề, không có dòng số liệu nào.", "Header only, no data rows.",
                         file=file, row=table.header_line, rule="empty_file")
    strings = [c for c in ("period", "unit_code", "unit_name", "unit_group", "indicator", "note") if c in df.columns]
    numbers = [c for c in VALUE_COLUMNS if c in df.columns]
    bools = [c for c in ("provisional", "available") if c in df.columns]
    parsed = sniff.parse_numbers(df.with_columns(
        *[pl.col(c).str.strip_chars().replace("", None).alias(c) for c in strings],
        *[pl.col(c).alias(f"{c}__raw") for c in bools + ["period"]],
    ), numbers, counts=COUNT_COLUMNS).with_columns(
        *[_bool_expr(c).alias(c) for c in bools],
    ).with_columns(
        pl.col("indicator").str.to_lowercase(),
        pl.col("unit_name").str.normalize("NFC"),
        pl.col("period").map_elements(sniff.normalize_period, return_dtype=pl.String).alias("period"),
    )
    _check_template(parsed, numbers, bools, path, seen)
    _report_repairs(parsed, numbers, path, seen)
    keep = [c for c in parsed.columns if c in COUNTS_SCHEMA]
    counts = normalize_counts(parsed.select(keep))
    return counts.with_columns(parsed["row"].cast(pl.Int64).alias("source_row"))


def _report_repairs(df: pl.DataFrame, numbers: list[str], path: Path, header: dict[str, str]) -> None:
    file = str(path)
    changed = pl.col("period__raw").str.strip_chars() != pl.col("period")
    rows, n, before = _repair_rows(df, changed, "period__raw")
    if n:
        after = df.filter(changed)["period"][0]
        sniff.record(sniff.Repair(file, "period_format", f"Kỳ ghi dạng \"{before}\" được đọc là {after} (NNNN-TT).",
                                  f"Period \"{before}\" read as {after}.", column=header.get("period", "period"),
                                  rows=rows, n=n, before=before, after=after))
    sniff.record_number_repairs(df, numbers, file, header=header)
    for c in numbers:
        seps = df[f"{c}__sep"].drop_nulls()
        if seps.n_unique() > 1:
            minority = seps.value_counts(sort=True)[f"{c}__sep"][-1]
            mask = pl.col(f"{c}__sep") == minority
            rows, n, before = _repair_rows(df, mask, f"{c}__raw")
            sniff.record(sniff.Repair(
                file, "mixed_decimal",
                f"Cột dùng lẫn dấu thập phân \",\" và \".\": {n} ô dùng \"{minority}\" (ví dụ \"{before}\") được đọc là "
                "số thập phân.", "Mixed decimal separators in one column: read both as decimals.",
                column=header.get(c, c), rows=rows, n=n, before=before,
                after=sniff.vi_number(df.filter(mask)[c][0])))
    if "numerator" in df.columns:
        score = pl.col("source_score").is_null() if "source_score" in df.columns else pl.lit(True)
        blank = pl.col("numerator").is_null() & pl.col("numerator__problem").is_null() & score
        rows, n, _ = _repair_rows(df, blank, "indicator")
        if n:
            sniff.record(sniff.Repair(
                file, "no_data",
                f"{n} dòng không có tử số (và không có điểm nguồn): chỉ tiêu được coi là không có số liệu, không "
                "chấm điểm. Nếu tháng chưa đủ số liệu, bổ sung rồi chạy lại.",
                f"{n} rows without numerator: indicator not available.",
                column=header.get("numerator", "numerator"), rows=rows, n=n, before="", after="không có số liệu"))


def _first_bad(df: pl.DataFrame, mask: pl.Expr) -> dict[str, Any] | None:
    bad = df.filter(mask)
    return bad.row(0, named=True) if bad.height else None


def check_value_rules(df: pl.DataFrame, file: str, *, row: str = "row", field: dict[str, str] | None = None,
                      place: Callable[[dict[str, Any], str], str] = lambda r, col: "") -> None:
    """The value rules of every counts table, whatever its source (the template, the
    portal's JSON): counts and scores not negative, numerator ≤ denominator, source
    score ≤ source maximum. Raises the first broken rule, in that order, naming the row
    (column ``row``) and the source's column.

    ``field``: a canonical column → the column of ``df`` that holds, per row, the name
    the source gives it (the portal's "TDGQ.numerator"); by default the canonical name.
    ``place``: more location text for a bad row and canonical column ("" by default).
    """
    field = field or {}
    present = [c for c in VALUE_COLUMNS if c in df.columns]

    def fail(r: dict[str, Any], col: str, vi: str, en: str, rule: str, why: str = "") -> NoReturn:
        raise InputError(f"{vi} ở chỉ tiêu {r['indicator']}, đơn vị {r['unit_name']}{place(r, col)}{why}.", en,
                         file=file, row=r[row], column=r[field[col]] if col in field else col, rule=rule)

    for col in present:
        bad = _first_bad(df, pl.col(col) < 0)
        if bad:
            fail(bad, col, f"Số liệu âm ({bad[col]:g})", f"Negative value ({bad[col]:g}) in {col}.", "non_negative",
                 ": số hồ sơ và điểm không được âm")
    if {"numerator", "denominator"} <= set(present):
        bad = _first_bad(df, pl.col("numerator") > pl.col("denominator"))
        if bad:
            fail(bad, "numerator", f"Tử số ({bad['numerator']:g}) lớn hơn mẫu số ({bad['denominator']:g})",
                 "Numerator greater than denominator.", "numerator_le_denominator")
    if {"source_score", "source_max"} <= set(present):
        bad = _first_bad(df, pl.col("source_score") > pl.col("source_max") + 1e-9)
        if bad:
            fail(bad, "source_score", f"Điểm nguồn ({bad['source_score']:g}) vượt điểm tối đa nguồn "
                 f"({bad['source_max']:g})", "Source score above its maximum.", "score_le_max")


def _check_template(df: pl.DataFrame, numbers: list[str], bools: list[str], path: Path,
                    header: dict[str, str] | None = None) -> None:
    header = header or {}

    def where(col: str) -> str:
        return f" (cột '{header[col]}' trong tệp)" if header.get(col) and header[col] != col else ""

    for col in ("period", "unit_name", "indicator"):
        bad = _first_bad(df, pl.col(col).is_null() & (pl.col("period__raw").fill_null("").str.strip_chars() == "")
                         if col == "period" else pl.col(col).is_null())
        if bad:
            raise InputError(f"Ô '{col}' để trống{where(col)}.", f"Empty '{col}' cell.",
                             file=str(path), row=bad["row"], column=col, rule="required_value")
    bad = _first_bad(df, pl.col("period").is_null())
    if bad:
        raise InputError(
            f"Kỳ '{bad['period__raw']}' không đọc được{where('period')}: ghi NNNN-TT (ví dụ 2024-06), TT/NNNN "
            "(6/2024), NNNN (cả năm) hoặc NNNN-Qn (quý).",
            f"Unreadable period '{bad['period__raw']}' (expected YYYY-MM, M/YYYY, YYYY or YYYY-Qn).",
            file=str(path), row=bad["row"], column="period", rule="period_format")
    bad = _first_bad(df, ~pl.col("indicator").str.contains(INDICATOR_PATTERN))
    if bad:
        raise InputError(
            f"Mã chỉ tiêu '{bad['indicator']}' không hợp lệ: chỉ dùng chữ thường không dấu, số và dấu gạch dưới "
            "(ví dụ on_time, online_payment).",
            f"Invalid indicator code '{bad['indicator']}' (lower-case snake case expected).",
            file=str(path), row=bad["row"], column="indicator", rule="indicator_code")
    sniff.raise_number_problem(df, numbers, str(path), where=where)
    for col in bools:
        bad = _first_bad(df, pl.col(col).is_null())
        if bad:
            raise InputError(f"Giá trị '{bad[f'{col}__raw']}' không hiểu được (dùng có/không){where(col)}.",
                             f"'{bad[f'{col}__raw']}' is not a yes/no value.",
                             file=str(path), row=bad["row"], column=col, rule="boolean_format")
    check_value_rules(df, str(path), place=lambda r, col: where(col))
    unit_key = "unit_code" if "unit_code" in df.columns else "unit_name"
    dup = df.filter(pl.len().over("period", unit_key, "indicator") > 1)
    if dup.height:
        r = dup.row(0, named=True)
        first = dup.filter((pl.col(unit_key) == r[unit_key]) & (pl.col("indicator") == r["indicator"]))["row"].to_list()
        raise InputError(
            f"Chỉ tiêu {r['indicator']} của đơn vị {r['unit_name']} kỳ {r['period']} xuất hiện nhiều lần "
            f"(dòng {', '.join(map(str, first[:5]))}): đơn vị bị lặp, xóa dòng thừa.",
            "Duplicate period × unit × indicator row (duplicated unit).",
            file=str(path), row=r["row"], column="indicator", rule="unique_rows")


def _is_json_text(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[")


def read_counts(path: str | Path) -> pl.DataFrame:
    """Read any supported counts source, detected by content.

    A directory holding ``unit_counts.csv`` is a QĐ 1187 transcription; a file that
    starts with ``{`` is the national portal's JSON; a ZIP file is an XLSX template;
    anything else is read as a CSV template.
    """
    path = Path(path)
    if path.is_dir():
        if (path / "unit_counts.csv").exists():
            return read_qd1187(path)
        raise InputError("Thư mục không có unit_counts.csv (bản chép QĐ 1187).",
                         "Directory without unit_counts.csv.", file=str(path), rule="unknown_format")
    return read_counts_located(path).drop("source_row")


def read_counts_located(path: str | Path) -> pl.DataFrame:
    """``read_counts`` of one file plus ``source_row``: the template row, or the unit's
    position in the portal's ``unitsDetail``, of every counts row (for error messages)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(2, "Không tìm thấy tệp", str(path))
    data = path.read_bytes()
    if sniff.is_xlsx(data):
        return _read_template(path)
    text, _ = sniff.decode(data, str(path))
    if _is_json_text(text):
        from .portal import _read_portal

        return _read_portal(path, text)
    return _read_template(path, text)


# ---------------------------------------------------------------------------
# The rule interpreter
# ---------------------------------------------------------------------------
def _rule(ind: _methodology.Indicator) -> dict[str, Any]:
    return dict(ind.rule or {"kind": "linear"})


def _spec(meth: Methodology) -> pl.DataFrame:
    """One row per indicator with every rule parameter as a column."""
    rows = []
    group_info = {g["code"]: g for g in meth.groups}
    for order, ind in enumerate(meth.indicators):
        rule = _rule(ind)
        kind = rule.get("kind", "linear")
        levels = _levels(rule)
        bands = rule.get("bands") or []
        cond = rule.get("condition") or {}
        max_weight = max(levels.values()) if levels else 1.0
        rows.append({
            "indicator": ind.code,
            "group": ind.group,
            "name": ind.name,
            "spec_max": float(ind.max),
            "dossier_based": ind.dossier_based,
            "kind": kind,
            "threshold": float(rule.get("threshold", 1.0)),
            "zero_denominator": rule.get("zero_denominator", "not_applicable"),
            "fallback": rule.get("fallback", meth.fallback),
            "metric": (LEVELS_PREFIX + ind.code) if kind == "weighted_levels" else ind.metric,
            "ratio_scale": 1.0 / max_weight if max_weight > 0 else 1.0,
            "band_top": float(max((b["points"] for b in bands), default=1.0)) or 1.0,
            "cond_metric": cond.get("metric"),
            "cond_max": float(cond.get("max", 0)),
            "group_source_metric": group_info.get(ind.group, {}).get("source_metric"),
            "group_max": meth.group_max(ind.group),
            "group_name": group_info.get(ind.group, {}).get("name", ind.group),
            "method_source": ind.source,
            "order": float(order),
        })
    return pl.DataFrame(rows, schema_overrides={"metric": pl.String, "cond_metric": pl.String,
                                                "group_source_metric": pl.String})


def _levels(rule: dict[str, Any]) -> dict[str, float]:
    levels = rule.get("levels") or {}
    if isinstance(levels, list):  # [{metric: x, weight: 2}, ...]
        return {lv["metric"]: float(lv["weight"]) for lv in levels}
    return {k: float(v) for k, v in levels.items()}


def _levels_frame(meth: Methodology) -> pl.DataFrame:
    rows = [
        {"wl_indicator": ind.code, "level_metric": metric, "weight": weight}
        for ind in meth.indicators if _rule(ind).get("kind") == "weighted_levels"
        for metric, weight in _levels(_rule(ind)).items()
    ]
    return pl.DataFrame(rows, schema={"wl_indicator": pl.String, "level_metric": pl.String, "weight": pl.Float64})


def _bands_expr(meth: Methodology, ratio: pl.Expr) -> pl.Expr:
    """Band points of every ``bands`` indicator: highest band whose ``min`` the ratio reaches."""
    chain = None
    for ind in meth.indicators:
        rule = _rule(ind)
        if rule.get("kind") != "bands":
            continue
        is_ind = pl.col("indicator") == ind.code
        for band in sorted(rule["bands"], key=lambda b: float(b["min"]), reverse=True):
            cond = is_ind & (ratio >= float(band["min"]) - 1e-12)
            chain = (pl.when(cond) if chain is None else chain.when(cond)).then(pl.lit(float(band["points"])))
        cond = is_ind & ratio.is_not_null()
        chain = (pl.when(cond) if chain is None else chain.when(cond)).then(pl.lit(float(rule.get("else", 0.0))))
    return pl.lit(None, dtype=pl.Float64) if chain is None else chain.otherwise(pl.lit(None, dtype=pl.Float64))


def _level_counts(c: pl.LazyFrame, meth: Methodology) -> pl.LazyFrame:
    """Counts rows derived for weighted_levels indicators: Σ weight × n and Σ n."""
    lv = _levels_frame(meth)
    schema = {k: v for k, v in COUNTS_SCHEMA.items() if k not in ("unit_name", "unit_group")}
    if lv.height == 0:
        return pl.LazyFrame(schema=schema)
    return (
        c.join(lv.lazy(), left_on="indicator", right_on="level_metric", how="inner")
        .group_by([*KEYS, "wl_indicator"])
        .agg(
            (pl.col("numerator") * pl.col("weight")).sum().alias("numerator"),
            pl.col("numerator").sum().alias("denominator"),
            pl.col("provisional").any().alias("provisional"),
            (pl.col("available") & pl.col("numerator").is_not_null()).any().alias("available"),
        )
        .with_columns(
            (pl.lit(LEVELS_PREFIX) + pl.col("wl_indicator")).alias("indicator"),
            pl.lit(None, dtype=pl.Float64).alias("source_score"),
            pl.lit(None, dtype=pl.Float64).alias("source_max"),
            pl.lit(None, dtype=pl.String).alias("note"),
        )
        .select(list(schema))
    )


def indicator_points(counts: pl.DataFrame | pl.LazyFrame, meth: Methodology) -> pl.DataFrame:
    """Points of every period × unit × indicator of ``meth`` from a counts table.

    Columns: ``period, unit_code, unit, unit_group, indicator, group, name, metric,
    numerator, denominator, ratio, rule, max, spec_max, points, points_exact,
    source_score, source_max, applicable, recomputed, basis, provisional,
    no_dossier, excluded, group_carried, group_row, dossier_based, note, order``. ``max`` is what counts
    towards the unit's maximum (0 for a row replaced by its group's carried score or
    for an excluded unit); it feeds ``chiso.scoring.unit_scores`` directly.
    """
    c_df = normalize_counts(counts)
    dup = c_df.filter(pl.len().over(*KEYS, "indicator") > 1)
    if dup.height:
        r = dup.row(0, named=True)
        raise InputError(
            f"Chỉ tiêu {r['indicator']} của đơn vị {r['unit_name']} kỳ {r['period']} có nhiều dòng số liệu.",
            "Duplicate period × unit × indicator in the counts table.", column="indicator", rule="unique_rows")
    c = c_df.lazy()
    units = c.select(UNIT_COLUMNS).unique(subset=KEYS, keep="first", maintain_order=True)
    spec = _spec(meth)
    metric_rows = pl.concat(
        [c.select([k for k in COUNTS_SCHEMA if k not in ("unit_name", "unit_group")]), _level_counts(c, meth)],
        how="vertical_relaxed",
    ).rename({"indicator": "metric"})
    cond = c.select(*KEYS, pl.col("indicator").alias("cond_metric"), pl.col("numerator").alias("cond_value"))
    gsrc = c.select(*KEYS, pl.col("indicator").alias("group_source_metric"),
                    pl.col("source_score").alias("group_source_score"),
                    pl.col("source_max").alias("group_source_max"))
    grid = (
        units.join(spec.lazy(), how="cross")
        .join(metric_rows, on=[*KEYS, "metric"], how="left")
        .join(cond, on=[*KEYS, "cond_metric"], how="left")
        .join(gsrc, on=[*KEYS, "group_source_metric"], how="left")
        .with_columns(pl.col("available").fill_null(False), pl.col("provisional").fill_null(False))
    )

    # Units without dossiers: the no-dossier metric's count, else the largest
    # denominator of the unit's dossier-based metrics.
    direct = c.filter(pl.col("indicator") == meth.no_dossier_metric).select(*KEYS, pl.col("numerator").alias("dc_direct"))
    by_den = (grid.filter(pl.col("dossier_based") & pl.col("available") & pl.col("denominator").is_not_null())
              .group_by(KEYS).agg(pl.col("denominator").max().alias("dc_den")))
    grid = grid.join(direct, on=KEYS, how="left").join(by_den, on=KEYS, how="left").with_columns(
        (pl.coalesce("dc_direct", "dc_den") == 0).fill_null(False).alias("no_dossier")
    )

    kind, mx = pl.col("kind"), pl.col("spec_max")
    has = (pl.col("available") & pl.col("numerator").is_not_null() & pl.col("denominator").is_not_null()
           & (kind != "carried"))
    zero_den = has & (pl.col("denominator") == 0)
    ratio = pl.when(has & (pl.col("denominator") > 0)).then(
        pl.col("numerator") / pl.col("denominator") * pl.col("ratio_scale"))
    grid = grid.with_columns(ratio.alias("ratio"), has.alias("_has"), zero_den.alias("_zero_den"))
    r = pl.col("ratio")
    base = (
        pl.when(kind.is_in(["linear", "weighted_levels"])).then(r * mx)
        .when(kind == "threshold").then(pl.min_horizontal(pl.lit(1.0), r / pl.col("threshold")) * mx)
        .when(kind == "bands").then(_bands_expr(meth, r) / pl.col("band_top") * mx)
    )
    cond_fail = pl.col("cond_value").is_not_null() & (pl.col("cond_value") > pl.col("cond_max"))
    computed = pl.when(cond_fail).then(pl.lit(0.0)).otherwise(base).clip(0.0, mx)
    carry = (~pl.col("_has") & pl.col("source_score").is_not_null()
             & ((kind == "carried") | (pl.col("fallback") == "source")))
    carried_points = pl.when(pl.col("source_max") > 0).then(
        pl.col("source_score") / pl.col("source_max") * mx).otherwise(pl.col("source_score")).clip(0.0, mx)
    status = (
        pl.when(pl.col("_has") & ~pl.col("_zero_den")).then(pl.lit("computed"))
        .when(pl.col("_zero_den")).then(pl.lit("zero_den"))
        .when(carry).then(pl.lit("carried"))
        .otherwise(pl.lit("missing"))
    )
    grid = grid.with_columns(status.alias("_status"), computed.alias("_computed"), carried_points.alias("_carried"))

    st, zd = pl.col("_status"), pl.col("zero_denominator")
    nd_zero = (pl.col("no_dossier") & pl.col("dossier_based") & (st == "zero_den") & (zd == "not_applicable")
               & pl.lit(meth.no_dossier_policy == "zero"))
    zd_points = pl.when(nd_zero).then(pl.lit(0.0)).when(zd == "full").then(mx).when(zd == "zero").then(pl.lit(0.0))
    grid = grid.with_columns(
        pl.when(st == "computed").then(pl.col("_computed"))
        .when(st == "zero_den").then(zd_points)
        .when(st == "carried").then(pl.col("_carried"))
        .alias("points_exact"),
        pl.when(st.is_in(["computed", "carried"])).then(pl.lit(True))
        .when(st == "zero_den").then((zd != "not_applicable") | nd_zero)
        .otherwise(pl.lit(False)).alias("applicable"),
        pl.when(st == "computed").then(kind)
        .when(st == "zero_den").then(pl.when(nd_zero).then(pl.lit("no_dossier:zero"))
                                     .otherwise(pl.lit("zero_denominator:") + zd))
        .when(st == "carried").then(pl.lit("carried"))
        .alias("rule"),
        st.is_in(["computed", "zero_den"]).alias("recomputed"),
        pl.when(st.is_in(["computed", "zero_den"])).then(pl.lit(BASIS_RECOMPUTED))
        .when(st == "carried").then(pl.lit(BASIS_CARRIED))
        .otherwise(pl.lit(BASIS_NOT_AVAILABLE)).alias("basis"),
    )

    # A group whose scored indicators have neither counts nor scores keeps the
    # source's group score as one carried row (a capture with the group's score only).
    groups = (
        grid.group_by([*KEYS, "group"])
        .agg(((pl.col("_status") != "missing") & (pl.col("spec_max") > 0)).any().alias("_scored"),
             pl.col("group_source_metric").first(), pl.col("group_source_score").first(),
             pl.col("group_source_max").first(), pl.col("group_max").first(), pl.col("group_name").first(),
             pl.col("order").min().alias("_order"), pl.col("provisional").any(),
             pl.col("no_dossier").first(), pl.col("dossier_based").any())
        .with_columns((~pl.col("_scored") & pl.col("group_source_score").is_not_null()).alias("group_carried"))
    )
    grid = grid.join(groups.select(*KEYS, "group", "group_carried"), on=[*KEYS, "group"], how="left")
    group_rows = (
        groups.filter(pl.col("group_carried"))
        .join(units, on=KEYS, how="left")
        .select(
            *UNIT_COLUMNS,
            pl.col("group_source_metric").alias("indicator"), "group",
            (pl.lit("Điểm nhóm ") + pl.col("group_name") + pl.lit(" (theo nguồn)")).alias("name"),
            pl.col("group_source_metric").alias("metric"),
            pl.lit(None, dtype=pl.Float64).alias("numerator"), pl.lit(None, dtype=pl.Float64).alias("denominator"),
            pl.lit(None, dtype=pl.Float64).alias("ratio"), pl.lit("group_carried").alias("rule"),
            pl.col("group_max").alias("spec_max"),
            pl.when(pl.col("group_source_max") > 0)
            .then(pl.col("group_source_score") / pl.col("group_source_max") * pl.col("group_max"))
            .otherwise(pl.col("group_source_score")).alias("points_exact"),
            pl.col("group_source_score").alias("source_score"), pl.col("group_source_max").alias("source_max"),
            pl.lit(True).alias("applicable"), pl.lit(False).alias("recomputed"),
            pl.lit(BASIS_CARRIED).alias("basis"), "provisional", "no_dossier",
            pl.lit(True).alias("group_carried"), pl.lit(True).alias("group_row"), "dossier_based",
            pl.lit("Nguồn chỉ có điểm nhóm, không có số liệu từng chỉ tiêu.").alias("note"),
            (pl.col("_order") - 0.5).alias("order"),
        )
    )
    out_cols = [*UNIT_COLUMNS, "indicator", "group", "name", "metric", "numerator", "denominator", "ratio", "rule",
                "spec_max", "points_exact", "source_score", "source_max", "applicable", "recomputed", "basis",
                "provisional", "no_dossier", "group_carried", "group_row", "dossier_based", "note", "order"]
    superseded = pl.col("group_carried")
    rows = grid.with_columns(
        pl.when(superseded).then(pl.lit(None, dtype=pl.Float64)).otherwise(pl.col("points_exact")).alias("points_exact"),
        pl.when(superseded).then(pl.lit(False)).otherwise(pl.col("applicable")).alias("applicable"),
        pl.when(superseded).then(pl.lit(BASIS_NOT_AVAILABLE)).otherwise(pl.col("basis")).alias("basis"),
        pl.when(superseded).then(pl.lit(None, dtype=pl.String)).otherwise(pl.col("rule")).alias("rule"),
        pl.lit(False).alias("group_row"),
    ).select(out_cols)
    excluded = pl.col("no_dossier") & pl.lit(meth.no_dossier_policy == "exclude")
    points = pl.col("points_exact")
    if meth.sum_rounded_points:
        points = round_half_up_expr(points, meth.rounding.get("indicator", 2))
    dup_name = pl.col("unit_code").n_unique().over("period", "unit_group", "unit_name") > 1
    result = (
        pl.concat([rows, group_rows], how="vertical_relaxed")
        .with_columns(
            excluded.alias("excluded"),
            points.alias("points"),
            pl.when((pl.col("group_carried") & ~pl.col("group_row")) | excluded)
            .then(pl.lit(0.0)).otherwise(pl.col("spec_max")).alias("max"),
            pl.when(dup_name).then(pl.col("unit_name") + pl.lit(" (") + pl.col("unit_code") + pl.lit(")"))
            .otherwise(pl.col("unit_name")).alias("unit"),
        )
        .with_columns(pl.when(pl.col("excluded")).then(pl.lit(False)).otherwise(pl.col("applicable")).alias("applicable"))
        .select("period", "unit_code", "unit", "unit_group", "indicator", "group", "name", "metric", "numerator",
                "denominator", "ratio", "rule", "max", "spec_max", "points", "points_exact", "source_score",
                "source_max", "applicable", "recomputed", "basis", "provisional", "no_dossier", "excluded",
                "group_carried", "group_row", "dossier_based", "note", "order")
        .sort("period", "unit_group", "unit", "order")
    )
    return result.collect()


def unit_table(points: pl.DataFrame, meth: Methodology) -> pl.DataFrame:
    """Per-unit totals, converted score, tier and rank (``chiso.scoring.unit_scores``),
    with how many indicators were recomputed, carried or not available and why a unit
    was excluded."""
    keys = ("period", "unit_group", "unit")
    units = scoring.unit_scores(points, meth, keys=keys)
    scored = pl.col("spec_max") > 0
    info = points.group_by(list(keys)).agg(
        pl.col("unit_code").first(),
        pl.col("excluded").any(),
        pl.col("no_dossier").any(),
        (scored & (pl.col("basis") == BASIS_RECOMPUTED) & pl.col("max").gt(0)).sum().alias("n_recomputed"),
        (scored & (pl.col("basis") == BASIS_CARRIED) & pl.col("max").gt(0)).sum().alias("n_carried"),
        (scored & (pl.col("basis") == BASIS_NOT_AVAILABLE) & ~pl.col("group_carried")).sum().alias("n_not_available"),
        pl.col("provisional").any().alias("has_provisional"),
    )
    return (
        units.join(info, on=list(keys), how="left")
        .with_columns(pl.when(pl.col("excluded")).then(pl.lit(NO_DOSSIER_REASON)).alias("reason"))
        .select("period", "unit_group", "unit_code", "unit", *[c for c in units.columns if c not in keys],
                "excluded", "no_dossier", "n_recomputed", "n_carried", "n_not_available", "has_provisional", "reason")
        .sort("period", "unit_group", "rank", "unit", nulls_last=True)
    )


def score_file(path: str | Path, methodology_id: str, overrides: dict[str, Any] | None = None) -> pl.DataFrame:
    """Read a counts source (detected by content) and score it under a methodology."""
    meth = _methodology.load(methodology_id, overrides)
    return indicator_points(read_counts(path), meth)


# ---------------------------------------------------------------------------
# QĐ 1187 quarterly transcription (data/raw/qd1187/<id>/)
# ---------------------------------------------------------------------------
def _qd1187_meta(folder: Path) -> dict[str, Any]:
    meta_path = folder / "metadata.yaml"
    if not meta_path.exists():
        return {}
    return yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}


def read_qd1187(folder: str | Path) -> pl.DataFrame:
    """Counts of the units of a QĐ 1187 transcription (``units.csv`` + ``unit_counts.csv``).

    Metrics: ``dossiers_received``, ``resolved_early``, ``resolved_on_time``,
    ``resolved_late`` (counts), ``online_submission`` (online / received),
    ``online_late`` (late online dossiers: 0 when the unit states no late dossier or
    no online dossier, unknown otherwise) and, for criteria 6–8 whose inputs the
    report does not give, rows with the published criterion score only.
    """
    folder = Path(folder)
    meta = _qd1187_meta(folder)
    group_labels = meta.get("unit_groups") or {}
    uc = pl.read_csv(folder / "unit_counts.csv", infer_schema=False)
    pub = pl.read_csv(folder / "units.csv", infer_schema=False).select("group", "stt", "tc6", "tc7", "tc8")
    num = ["received_total", "received_direct", "received_online", "carried_over", "resolved_early",
           "resolved_on_time", "resolved_late"]
    df = uc.join(pub, on=["group", "stt"], how="left").with_columns(
        *[pl.col(c).cast(pl.Float64, strict=False) for c in num + ["tc6", "tc7", "tc8"]],
        pl.lit(str(meta.get("period", folder.name))).alias("period"),
        (pl.col("group") + pl.lit("-") + pl.col("stt")).alias("unit_code"),
        pl.col("unit").alias("unit_name"),
        pl.col("group").replace_strict(group_labels, default=pl.col("group"), return_dtype=pl.String).alias("unit_group"),
    )
    channels = pl.sum_horizontal("received_direct", "received_online", "carried_over")
    any_channel = pl.any_horizontal(pl.col(c).is_not_null() for c in ("received_direct", "received_online", "carried_over"))
    received = pl.coalesce("received_total", pl.when(any_channel).then(channels))
    any_resolution = pl.any_horizontal(pl.col(c).is_not_null() for c in ("resolved_early", "resolved_on_time", "resolved_late"))
    direct_only = pl.col("received_online").is_null() & pl.col("received_direct").is_not_null() & (
        pl.col("received_total").is_null() | (pl.col("received_total") == pl.col("received_direct")))
    online = pl.coalesce("received_online", pl.when(direct_only).then(pl.lit(0.0)))
    no_late = pl.col("resolved_late").is_null() & any_resolution | (pl.col("resolved_late") == 0)
    online_late = pl.when((online == 0) | no_late).then(pl.lit(0.0))
    df = df.with_columns(received.alias("_received"), online.alias("_online"), online_late.alias("_online_late"))

    def metric(code: str, numerator: pl.Expr, denominator: pl.Expr | None = None,
               score: pl.Expr | None = None, note: str | None = None) -> pl.DataFrame:
        den = denominator if denominator is not None else pl.lit(None, dtype=pl.Float64)
        return df.select(
            *UNIT_COLUMNS, pl.lit(code).alias("indicator"),
            numerator.cast(pl.Float64).alias("numerator"), den.cast(pl.Float64).alias("denominator"),
            pl.lit(False).alias("provisional"),
            (score if score is not None else pl.lit(None)).cast(pl.Float64).alias("source_score"),
            pl.when(score.is_not_null() if score is not None else pl.lit(False)).then(pl.lit(2.0)).alias("source_max"),
            (numerator.is_not_null() & (den.is_not_null() if denominator is not None else pl.lit(True))).alias("available"),
            pl.lit(note, dtype=pl.String).alias("note"),
        )

    no_input = "Báo cáo không cho số liệu đầu vào của tiêu chí này; chỉ có điểm đã công bố."
    frames = [
        metric("dossiers_received", pl.col("_received")),
        metric("resolved_early", pl.col("resolved_early")),
        metric("resolved_on_time", pl.col("resolved_on_time")),
        metric("resolved_late", pl.col("resolved_late")),
        metric("online_submission", pl.col("_online"), pl.col("_received")),
        metric("online_late", pl.col("_online_late")),
        metric("one_stop_share", pl.lit(None, dtype=pl.Float64), pl.lit(None, dtype=pl.Float64), pl.col("tc6"), no_input),
        metric("publicity_channels", pl.lit(None, dtype=pl.Float64), pl.lit(None, dtype=pl.Float64), pl.col("tc7"), no_input),
        metric("petition_on_time", pl.lit(None, dtype=pl.Float64), pl.lit(None, dtype=pl.Float64), pl.col("tc8"), no_input),
    ]
    return normalize_counts(pl.concat(frames, how="vertical_relaxed").filter(
        pl.col("available") | pl.col("source_score").is_not_null()))


def read_qd1187_forms(folder: str | Path) -> pl.DataFrame:
    """Counts of the two aggregate forms (Biểu mẫu số 03: cấp huyện ``tp``, cấp xã ``xa_phuong``).

    Criterion 1's weighted lines give early/on-time/late; the header gives dossiers
    received; the criterion-9 note gives online dossiers. Criteria 6–8 carry the
    printed self score (their level is only declared by an x mark).
    """
    folder = Path(folder)
    meta = _qd1187_meta(folder)
    forms = pl.read_csv(folder / "forms.csv", infer_schema=False).with_columns(
        pl.col("criterion").cast(pl.Int32), pl.col("line").cast(pl.Int32),
        pl.col("count").cast(pl.Float64, strict=False).alias("n"),
        pl.col("self_score").cast(pl.Float64, strict=False).alias("score"),
    )
    summary = pl.read_csv(folder / "forms_summary.csv", infer_schema=False).with_columns(
        pl.col("value").cast(pl.Float64, strict=False))
    levels = meta.get("levels") or {}
    line_metric = {1: "resolved_early", 2: "resolved_on_time", 3: "resolved_late"}
    base = forms.select("form").unique(maintain_order=True).with_columns(
        pl.lit(str(meta.get("period", folder.name))).alias("period"),
        (pl.lit("bieu-mau-03-") + pl.col("form")).alias("unit_code"),
        pl.col("form").replace_strict(levels, default=pl.col("form"), return_dtype=pl.String).alias("unit_name"),
        pl.lit("Biểu mẫu số 03").alias("unit_group"),
    )
    c1 = (forms.filter((pl.col("criterion") == 1) & pl.col("line").is_in(list(line_metric)))
          .with_columns(pl.col("line").replace_strict(line_metric, return_dtype=pl.String).alias("indicator"))
          .select("form", "indicator", pl.col("n").alias("numerator"), pl.lit(None, dtype=pl.Float64).alias("denominator"),
                  pl.lit(None, dtype=pl.Float64).alias("source_score")))
    get = lambda source, measure: summary.filter((pl.col("source") == source) & (pl.col("measure") == measure)).select(  # noqa: E731
        "form", pl.col("value").alias(measure))
    received = get("header", "received_in_period")
    online = get("note_c9", "received_online")
    rec = (received.join(online, on="form", how="full", coalesce=True)
           .select("form", pl.lit("online_submission").alias("indicator"), pl.col("received_online").alias("numerator"),
                   pl.col("received_in_period").alias("denominator"), pl.lit(None, dtype=pl.Float64).alias("source_score")))
    dr = received.select("form", pl.lit("dossiers_received").alias("indicator"),
                         pl.col("received_in_period").alias("numerator"), pl.lit(None, dtype=pl.Float64).alias("denominator"),
                         pl.lit(None, dtype=pl.Float64).alias("source_score"))
    declared = {6: "one_stop_share", 7: "publicity_channels", 8: "petition_on_time"}
    decl = (forms.filter(pl.col("criterion").is_in(list(declared)) & (pl.col("line") == 0))
            .select("form", pl.col("criterion").replace_strict(declared, return_dtype=pl.String).alias("indicator"),
                    pl.lit(None, dtype=pl.Float64).alias("numerator"), pl.lit(None, dtype=pl.Float64).alias("denominator"),
                    pl.col("score").alias("source_score")))
    rows = pl.concat([c1, rec, dr, decl], how="vertical_relaxed").join(base, on="form", how="left")
    return normalize_counts(rows.with_columns(
        pl.lit(False).alias("provisional"),
        pl.when(pl.col("source_score").is_not_null()).then(pl.lit(2.0)).alias("source_max"),
        (pl.col("numerator").is_not_null()
         & (pl.col("denominator").is_not_null() | pl.col("indicator").is_in(list(line_metric.values()) + ["dossiers_received"])))
        .alias("available"),
        pl.lit(None, dtype=pl.String).alias("note"),
    ))


__all__ = [
    "BASIS_CARRIED", "BASIS_NOT_AVAILABLE", "BASIS_RECOMPUTED", "COUNTS_SCHEMA", "empty_counts", "indicator_points",
    "normalize_counts", "read_counts", "read_qd1187", "read_qd1187_forms", "read_template", "score_file", "unit_table",
]
