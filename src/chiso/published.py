"""Published monthly tables (the appendix of a QĐ 459 report) as transcribed CSV.

Layout: one row per unit with ``unit``, ``unit_group``, one column per indicator
code of the methodology (a number with "," or "." decimal, or "-" for not
applicable), then ``published_total``, ``published_max``, ``published_converted``,
``published_tier``. A sidecar ``<name>.meta.yaml`` holds the issuing body, period,
report number, methodology and what the report's text claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from .errors import InputError
from .methodology import Methodology
from .numbers import parse_cell_exprs

PUBLISHED_COLUMNS = ("published_total", "published_max", "published_converted")


@dataclass
class PublishedTable:
    path: Path
    meta: dict[str, Any]
    raw: pl.DataFrame  # as read, all strings
    wide: pl.DataFrame  # parsed: value, __raw, __decimals, __sep, __ok columns per cell

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
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def required_columns(meth: Methodology) -> list[str]:
    return ["unit", "unit_group", *meth.indicator_codes, *PUBLISHED_COLUMNS, "published_tier"]


def read_published(path: str | Path, meth: Methodology) -> PublishedTable:
    """Read a transcribed published table; structure errors raise InputError."""
    path = Path(path)
    meta = read_meta(path)
    raw = pl.read_csv(path, infer_schema=False, encoding="utf8")
    missing = [c for c in required_columns(meth) if c not in raw.columns]
    if missing:
        raise InputError(
            f"Thiếu cột bắt buộc: {', '.join(missing)}.",
            f"Missing required columns: {', '.join(missing)}.",
            file=str(path), column=missing[0], rule="required_columns",
        )
    numeric = [*meth.indicator_codes, *PUBLISHED_COLUMNS]
    exprs = [e for c in numeric for e in parse_cell_exprs(c)]
    wide = raw.with_row_index("row", offset=1).with_columns(
        pl.col("unit").str.strip_chars(),
        pl.col("unit_group").str.strip_chars(),
        *exprs,
        pl.col("published_tier").str.strip_chars(),
    )
    return PublishedTable(path=path, meta=meta, raw=raw, wide=wide)


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
    return (
        pl.concat(frames)
        .join(spec, on="indicator", how="left")
        .with_columns(
            pl.lit(period).alias("period"),
            (pl.col("printed") != "-").alias("applicable"),
            pl.lit(False).alias("recomputed"),
            pl.lit("published").alias("basis"),
        )
        .sort("row", "order")
    )
