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


# ---------------------------------------------------------------------------
# Number cells of inputs (counts, scores): what is accepted, what is repaired
# ---------------------------------------------------------------------------
# Repairs (reported, never silent) and problems (refused) of ``number_exprs``.
NUMBER_REPAIRS: dict[str, tuple[str, str]] = {
    "percent": ("Bỏ dấu % sau số (\"82,96%\" đọc là 82,96).", "Percent sign removed (\"82,96%\" read as 82.96)."),
    "thousands": ("Bỏ dấu phân cách hàng nghìn (\"1.234\" đọc là 1234).", "Thousands separators removed."),
    "spaces": ("Bỏ khoảng trắng trong số (\"1 234\" đọc là 1234).", "Spaces inside a number removed."),
    "dash": ("Ô \"-\" được coi là không có số liệu.", "A \"-\" cell read as no data."),
}
NUMBER_PROBLEMS: dict[str, tuple[str, str]] = {
    "not_number": ("không phải là số", "is not a number"),
    "ambiguous": ("không rõ là số nguyên có dấu phẩy phân cách hàng nghìn hay số thập phân: số hồ sơ ghi không "
                  "có dấu phân cách (ví dụ 1234)", "is ambiguous (thousands comma or decimal comma)"),
    "percent_in_count": ("là tỷ lệ phần trăm, nhưng cột này cần số lượng (tử số, mẫu số là số hồ sơ)",
                         "is a percentage where a count is expected"),
    "excel_error": ("là lỗi công thức của Excel", "is an Excel formula error"),
}
_DASHES = ["-", "–", "—", "−"]


def number_exprs(col: str, counts: bool) -> tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr]:
    """Parse a text column of numbers as Vietnamese and other exports print them.

    Returns ``(value, repair, problem, sep)``: the Float64 value (null for an empty
    cell, "-", or a refused cell), the repair applied (a key of ``NUMBER_REPAIRS`` or
    null), why the cell is refused (a key of ``NUMBER_PROBLEMS`` or null) and the
    decimal separator of a plain decimal ("," "." or null; to find mixed separators).

    Accepted: "12", "82,96", "82.96", "1.234,5", "1,234.5", "1.234.567", "1 234",
    "82,96%" (scores only), "-" (no data). In count columns (``counts``) "1.234" is
    1234 (thousands dot) and "1,234" is refused as ambiguous; in score columns both
    are 1.234 (decimal).
    """
    raw = pl.col(col).cast(pl.String).str.strip_chars()
    spaced = raw.str.contains(r"\d[\s\u00a0\u202f]+\d")
    s0 = raw.str.replace_all(r"[\s\u00a0\u202f]", "")
    empty = s0.is_null() | (s0 == "")
    dash = s0.is_in(_DASHES)
    pct = s0.str.ends_with("%")
    s = s0.str.strip_suffix("%").str.strip_prefix("+")
    excel = s.str.contains(r"^#(?:DIV/0!|N/A|VALUE!|REF!|NAME\?|NUM!|NULL!|SPILL!|CALC!)$")
    integer = s.str.contains(r"^-?\d+$")
    dot_k1 = s.str.contains(r"^-?\d{1,3}\.\d{3}$")
    dot_kn = s.str.contains(r"^-?\d{1,3}(?:\.\d{3}){2,}$")
    comma_k1 = s.str.contains(r"^-?\d{1,3},\d{3}$")
    comma_kn = s.str.contains(r"^-?\d{1,3}(?:,\d{3}){2,}$")
    vn_full = s.str.contains(r"^-?\d{1,3}(?:\.\d{3})+,\d+$")
    en_full = s.str.contains(r"^-?\d{1,3}(?:,\d{3})+\.\d+$")
    plain = s.str.contains(r"^-?\d+[.,]\d+$")
    no_dots = s.str.replace_all(".", "", literal=True)
    no_commas = s.str.replace_all(",", "", literal=True)
    thousands = (
        (pl.lit(counts) & dot_k1) | dot_kn | comma_kn | vn_full | en_full
    )
    text = (
        pl.when(empty | dash | excel).then(None)
        .when(integer).then(s)
        .when(pl.lit(counts) & dot_k1).then(no_dots)
        .when(dot_kn).then(no_dots)
        .when(comma_kn).then(no_commas)
        .when(pl.lit(counts) & comma_k1).then(None)
        .when(vn_full).then(no_dots.str.replace(",", ".", literal=True))
        .when(en_full).then(no_commas)
        .when(plain).then(s.str.replace(",", ".", literal=True))
    )
    parsed = text.cast(pl.Float64, strict=False)
    problem = (
        pl.when(empty | dash).then(None)
        .when(excel).then(pl.lit("excel_error"))
        .when(pl.lit(counts) & comma_k1).then(pl.lit("ambiguous"))
        .when(parsed.is_null()).then(pl.lit("not_number"))
        .when(pct & pl.lit(counts)).then(pl.lit("percent_in_count"))
    )
    value = pl.when(problem.is_null()).then(parsed)
    repair = (
        pl.when(problem.is_not_null() | empty).then(None)
        .when(dash).then(pl.lit("dash"))
        .when(pct).then(pl.lit("percent"))
        .when(thousands).then(pl.lit("thousands"))
        .when(spaced).then(pl.lit("spaces"))
    )
    sep = pl.when(problem.is_null() & plain & ~(pl.lit(counts) & (dot_k1 | comma_k1))).then(
        s.str.extract(r"([.,])", 1))
    return value, repair, problem, sep


def parse_number(text: str | None, counts: bool = False) -> float | None:
    """One cell through ``number_exprs``; a refused cell raises ValueError (with the reason)."""
    value, _, problem, _ = number_exprs("x", counts)
    row = pl.DataFrame({"x": [text]}, schema={"x": pl.String}).select(value.alias("v"), problem.alias("p")).row(0)
    if row[1] is not None:
        raise ValueError(f"{text!r} {NUMBER_PROBLEMS[row[1]][1]}")
    return row[0]


def _missing(x: float | None) -> bool:
    """None or NaN: a value that is not there (printed "-")."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def round_half_up(x: float, decimals: int) -> float:
    """Round like a person (and Excel) does: 23,305 → 23,31."""
    if _missing(x):
        return x
    factor = 10**decimals
    return math.floor(abs(x) * factor + 0.5 + 1e-9) / factor * (1 if x >= 0 else -1)


def round_half_up_expr(expr: pl.Expr, decimals: int) -> pl.Expr:
    """``round_half_up`` as an expression, giving the double nearest the decimal (3,78).

    polars evaluates ``x / 100`` as ``x × 0,01`` on some chunks and as a true division
    on others (378 × 0,01 = 3,7800000000000002), so the bare division gave the same input
    outputs that differed in the last bit from run to run; ``.round`` snaps the quotient.
    """
    factor = 10**decimals
    return ((expr.abs() * factor + 0.5 + 1e-9).floor() / factor).round(decimals) * expr.sign().replace(0, 1)


def fmt_num(x: float | None, decimals: int = 2, strip: bool = False) -> str:
    """82.96 → "82,96"; 262675 → "262.675"; None → "-"."""
    if _missing(x):
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


def fmt_signed(x: float | None, decimals: int = 2) -> str:
    """+2,86 / -0,30 / 0,00 for changes; None → "-" (as ``fmt_num``)."""
    if _missing(x):
        return "-"
    rounded = round_half_up(x, decimals)
    return ("+" if rounded > 0 else "-" if rounded < 0 else "") + fmt_num(abs(x), decimals)
