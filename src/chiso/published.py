"""Published monthly tables (the appendix of a QĐ 459 report) as transcribed CSV.

Layout: one row per unit with ``unit``, ``unit_group``, one column per indicator
code of the methodology (a number with "," or "." decimal, or "-" for not
applicable), then ``published_total``, ``published_max``, ``published_converted``,
``published_tier``. A sidecar ``<name>.meta.yaml`` holds the issuing body, period,
report number, methodology and what the report's text claims.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from . import sniff
from .errors import InputError
from .methodology import Methodology
from .numbers import parse_cell_exprs

PUBLISHED_COLUMNS = ("published_total", "published_max", "published_converted")


@dataclass
class PublishedTable:
    path: Path
    meta: dict[str, Any]
    raw: pl.DataFrame  # as read, all strings (header found and cleaned by chiso.sniff)
    wide: pl.DataFrame  # parsed: value, __raw, __decimals, __sep, __ok columns per cell; __line = row in the file
    repairs: pl.DataFrame = field(default_factory=lambda: sniff.repairs_frame([]))  # accepted, reported repairs

    @property
    def id(self) -> str:
        return self.meta.get("id", self.path.stem)


def meta_path(csv_path: Path) -> Path:
    return csv_path.with_name(csv_path.stem + ".meta.yaml")


def read_meta(csv_path: str | Path) -> dict[str, Any]:
    path = meta_path(Path(csv_path))
    if not path.exists():
        raise InputError(
            f"Thiếu tệp mô tả {path.name} đi kèm bảng số liệu.",
            f"Missing metadata file {path.name} next to the table.",
            file=str(csv_path), rule="metadata_missing",
        )
    text, _ = sniff.read_text(path)
    try:
        meta = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"Tệp mô tả {path.name} không đúng cú pháp YAML: {getattr(exc, 'problem', exc)}.",
                         f"Invalid YAML in {path.name}: {getattr(exc, 'problem', None) or type(exc).__name__}.", file=str(path),
                         row=mark.line + 1 if mark else None, rule="meta_format") from exc
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise InputError(f"Tệp mô tả {path.name} phải là các cặp khóa: giá trị (id, period, methodology …).",
                         f"{path.name} is not a mapping.", file=str(path), rule="meta_format")
    if meta.get("period") is not None:
        printed = str(meta["period"])
        period = sniff.normalize_period(printed)
        if period is None or not re.fullmatch(r"\d{4}-\d{2}", period):
            raise InputError(f"Kỳ \"{printed}\" trong {path.name} không hợp lệ: ghi dạng NNNN-TT, ví dụ \"2024-06\".",
                             f"Invalid period {printed!r} in {path.name} (expected YYYY-MM).",
                             file=str(path), column="period", rule="period_format")
        if period != printed:
            sniff.record(sniff.Repair(str(path), "period_format", f"Kỳ ghi \"{printed}\" được đọc là {period}.",
                                      f"Period {printed!r} read as {period}.", column="period",
                                      before=printed, after=period))
            meta = {**meta, "period": period}
    return meta


def required_columns(meth: Methodology) -> list[str]:
    return ["unit", "unit_group", *meth.indicator_codes, *PUBLISHED_COLUMNS, "published_tier"]


_DASHES = ("–", "—", "−", "‐")


def read_published(path: str | Path, meth: Methodology) -> PublishedTable:
    """Read a transcribed published table; structure errors raise InputError.

    The file goes through ``chiso.sniff`` (encoding, BOM, NFC, delimiter, title rows,
    merged two-row headers, empty rows and columns, huge cells). Accepted repairs of
    cells ("94,1%" → 94,1; "–" → "-"; "8.32" among "4,81") are listed in ``repairs``.
    """
    path = Path(path)
    with sniff.collect_repairs() as repairs:
        meta = read_meta(path)
        if not path.exists():
            raise InputError(f"Không tìm thấy tệp {path.name}.", f"File not found: {path}.", file=str(path),
                             rule="file_missing")
        required = required_columns(meth)
        table = sniff.read_table(path, {c.lower() for c in required})
        canon = {sniff.norm_header(c): c for c in required}
        raw = table.frame("__line")
        raw = raw.rename({c: canon[sniff.norm_header(c)] for c in table.header
                          if sniff.norm_header(c) in canon and c != canon[sniff.norm_header(c)]
                          and canon[sniff.norm_header(c)] not in table.header})
        missing = [c for c in required if c not in raw.columns]
        if missing:
            raise InputError(
                f"Thiếu cột bắt buộc: {', '.join(missing)} (tiêu đề đọc được ở dòng {table.header_line}: "
                f"{', '.join(h for h in table.header[:8] if h) or 'không có'}…).",
                f"Missing required columns: {', '.join(missing)}.",
                file=str(path), row=table.header_line, column=missing[0], rule="required_columns",
            )
        numeric = [*meth.indicator_codes, *PUBLISHED_COLUMNS]
        raw = _clean_cells(raw, numeric, str(path))
        exprs = [e for c in numeric for e in parse_cell_exprs(c)]
        wide = raw.with_row_index("row", offset=1).with_columns(
            pl.col("unit").str.strip_chars(),
            pl.col("unit_group").str.strip_chars(),
            *exprs,
            pl.col("published_tier").str.strip_chars(),
        )
        _report_mixed_separators(wide, meth.indicator_codes, str(path))
    return PublishedTable(path=path, meta=meta, raw=raw.drop("__line"), wide=wide,
                          repairs=sniff.repairs_frame(repairs))


def _clean_cells(raw: pl.DataFrame, numeric: list[str], file: str) -> pl.DataFrame:
    """Score cells: spaces trimmed, "–" → "-" (not applicable), "94,1%" → "94,1"; each repair recorded."""
    out = []
    for c in numeric:
        s = pl.col(c).str.strip_chars(" \t\u00a0\u202f")
        dash = s.is_in(list(_DASHES))
        pct = s.str.contains(r"^\d+(?:[.,]\d+)?\s*%$")
        for kind, mask, vi, en in (
            ("dash", dash, "Dấu gạch dài \"–\" được đọc là \"-\" (không áp dụng).", "Long dash read as '-'."),
            ("percent", pct, "Bỏ dấu % sau số điểm (\"94,1%\" đọc là 94,1).", "Percent sign removed."),
        ):
            hit = raw.filter(mask)
            if hit.height:
                sniff.record(sniff.Repair(file, kind, vi, en, column=c,
                                          rows=tuple(hit["__line"].head(sniff.EXAMPLES).to_list()), n=hit.height,
                                          before=str(hit[c][0]),
                                          after="-" if kind == "dash" else str(hit[c][0]).rstrip(" %")))
        out.append(pl.when(dash).then(pl.lit("-")).when(pct).then(s.str.replace(r"\s*%$", "")).otherwise(s).alias(c))
    return raw.with_columns(out)


def _report_mixed_separators(wide: pl.DataFrame, codes: list[str], file: str) -> None:
    """"8.32" among "4,81": read as a decimal, and said so (the audit lists it too)."""
    seps = pl.concat([wide.select(pl.col(f"{c}__sep").alias("sep")) for c in codes]).drop_nulls()
    if seps["sep"].n_unique() < 2:
        return
    majority = seps["sep"].value_counts(sort=True)["sep"][0]
    for c in codes:
        hit = wide.filter(pl.col(f"{c}__sep").is_not_null() & (pl.col(f"{c}__sep") != majority))
        if hit.height:
            before = hit[f"{c}__raw"][0]
            sniff.record(sniff.Repair(
                file, "mixed_decimal",
                f"Bảng dùng dấu thập phân \"{majority}\" nhưng {hit.height} ô cột {c} dùng \"{before[-3:-2] or '.'}\" "
                f"(ví dụ \"{before}\" của {hit['unit'][0]}): được đọc là số thập phân "
                f"{before.replace('.', ',') if majority == ',' else before.replace(',', '.')}.",
                "Mixed decimal separators: read as a decimal.", column=c,
                rows=tuple(hit["__line"].head(sniff.EXAMPLES).to_list()), n=hit.height, before=before,
                after=before.replace(".", ",") if majority == "," else before.replace(",", ".")))


def points_long(table: PublishedTable, meth: Methodology) -> pl.DataFrame:
    """Tidy table of printed indicator points: one row per unit and indicator."""
    spec = meth.indicator_frame().select("indicator", "group", "max", "dossier_based", "zero_denominator", "order")
    frames = [
        table.wide.select(
            pl.col("row"),
            pl.col("unit"),
            pl.col("unit_group"),
            pl.lit(code).alias("indicator"),
            pl.col(code).alias("points"),
            pl.col(f"{code}__raw").alias("printed"),
            pl.col(f"{code}__decimals").alias("decimals"),
            pl.col(f"{code}__sep").alias("sep"),
        )
        for code in meth.indicator_codes
    ]
    period = str(table.meta.get("period", ""))
    # A researcher's `max` override rescales the printed points (30/30 under max 35
    # reads 35/35): the printed points are ratio × the decision's max.
    from .methodology import load as load_decision

    decision = {i.code: i.max for i in load_decision(meth.id).indicators}
    spec = spec.with_columns(pl.col("indicator").replace_strict(decision, return_dtype=pl.Float64).alias("decision_max"))
    return (
        pl.concat(frames)
        .join(spec, on="indicator", how="left")
        .with_columns(pl.when(pl.col("decision_max") > 0)
                      .then(pl.col("points") * pl.col("max") / pl.col("decision_max"))
                      .otherwise(pl.col("points")).alias("points"))
        .drop("decision_max")
        .with_columns(
            pl.lit(period).alias("period"),
            (pl.col("printed") != "-").alias("applicable"),
            pl.lit(False).alias("recomputed"),
            pl.lit("published").alias("basis"),
        )
        .sort("row", "order")
    )
