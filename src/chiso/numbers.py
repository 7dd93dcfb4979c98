"""Parsing and formatting numbers the way Vietnamese tables print them."""

from __future__ import annotations

import math

import polars as pl

# A published indicator cell: "-" (not applicable), "4,81", "8.32", "30".
CELL_PATTERN = r"^\d+(?:[.,]\d+)?$"
NOT_APPLICABLE = "-"


def parse_cell_exprs(col: str) -> list[pl.Expr]:
    """Expressions that parse a printed cell column into value, decimals and separator.

    Produces ``{col}`` (Float64, null for "-" or unparseable), ``{col}__raw`` (the
    cell as printed), ``{col}__decimals`` (digits after the separator) and
    ``{col}__sep`` ("," "." or null) and ``{col}__ok`` (the cell is a number or "-").
    """
    raw = pl.col(col).cast(pl.String).str.strip_chars()
    is_num = raw.str.contains(CELL_PATTERN)
    sep = raw.str.extract(r"^\d+([.,])\d+$", 1)
    decimals = raw.str.extract(r"^\d+[.,](\d+)$", 1).str.len_chars().fill_null(0)
    value = pl.when(is_num).then(raw.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False))
    return [
        value.alias(col),
        raw.alias(f"{col}__raw"),
        pl.when(is_num).then(decimals).alias(f"{col}__decimals"),
        sep.alias(f"{col}__sep"),
        (is_num | (raw == NOT_APPLICABLE) | raw.is_null()).alias(f"{col}__ok"),
    ]


def round_half_up(x: float, decimals: int) -> float:
    """Round like a person (and Excel) does: 23,305 → 23,31."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return x
    factor = 10**decimals
    return math.floor(abs(x) * factor + 0.5 + 1e-9) / factor * (1 if x >= 0 else -1)


def round_half_up_expr(expr: pl.Expr, decimals: int) -> pl.Expr:
    factor = 10**decimals
    return ((expr.abs() * factor + 0.5 + 1e-9).floor() / factor) * expr.sign().replace(0, 1)


def fmt_num(x: float | None, decimals: int = 2, strip: bool = False) -> str:
    """82.96 → "82,96"; 262675 → "262.675"; None → "-"."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    value = round_half_up(float(x), decimals)
    text = f"{abs(value):,.{decimals}f}"
    text = text.replace(",", "\u0000").replace(".", ",").replace("\u0000", ".")
    if strip and "," in text:
        text = text.rstrip("0").rstrip(",")
    return ("-" if value < 0 else "") + text


def fmt_count(n: int | float | None) -> str:
    """Thousands separated by dots: 262675 → "262.675"."""
    if n is None:
        return "-"
    return fmt_num(float(n), 0)


def fmt_units(n: int) -> str:
    """Counts of units in running text are zero-padded to two digits: 6 → "06"."""
    return f"{int(n):02d}"


def fmt_signed(x: float, decimals: int = 2) -> str:
    """+2,86 / -0,30 / 0,00 for changes."""
    text = fmt_num(abs(x), decimals)
    if round_half_up(x, decimals) > 0:
        return "+" + text
    if round_half_up(x, decimals) < 0:
        return "-" + text
    return text
