"""Dossier-level input (one row per hồ sơ) and its aggregation to the counts table.

A one-stop system exports dossiers, one row each; the index is computed from
their aggregate: per period × unit × metric a numerator and a denominator, the
counts table of ``chiso.counts`` (``COUNTS_SCHEMA``). This module holds

* **reading** exports as found: CSV, XLSX or Parquet, Vietnamese headers matched
  through the alias table ``dossier_columns.yaml`` (data, not code; NFC, case and
  tone placement do not matter), cell values parsed (dates ``dd/mm/yyyy``,
  "Trực tuyến"/"Trực tiếp"/"Bưu chính công ích", "Có"/"Không", "Rất hài lòng"…),
  every unreadable cell reported with its row and column (``scan_dossiers``,
  ``read_dossiers``, ``scan_petitions``, ``read_units``, ``validate``); the bytes of
  a CSV go through ``chiso.sniff`` (legacy encodings, BOM, NFD, empty files; repairs
  recorded), and too long cells and broken workbooks get the errors of every reader;
* **ingestion** of a large export into the canonical Parquet (``ingest``): typed
  columns, unit codes as an Enum (small integer codes), row groups of 1 M rows;
* **aggregation** (``aggregate``) in one streaming pass of polars lazy frames.

On-time rules (docs/dossier-input.md, domain.md §3):

* a dossier finished on or before its due date is on time (compared by calendar
  day: finishing on the due date itself is on time); finished before the due day is
  early (trước hạn), on the due day on time (đúng hạn), after it late (trễ hạn);
* where the export gives the supplement waiting days (số ngày chờ bổ sung), the
  due date is extended by them;
* an unfinished dossier is judged at the period end: due before the end of the
  period's last day → overdue (it counts in the denominator of ``on_time`` as a
  dossier not resolved on time), otherwise it is still in time and not counted;
* a dossier is resolved in the period its finished date falls in; the overdue
  dossiers still open at the end of a period are counted in that period (a dossier
  open and overdue for three months counts in each of the three).

How it stays fast: the only per-row work is three look-ups of a day → period
table (integer days, no calendar arithmetic), one packed integer key and a dozen
conditional sums in a single ``group_by``; the grouped table (units × received
period × finished period × due period) is small and everything else (periods,
overdue carry-over, metrics) is computed from it.
"""

from __future__ import annotations

import contextvars
import csv
import datetime as dt
import functools
import itertools
import sys
import warnings
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import polars as pl
import yaml

from . import sniff
from .counts import COUNTS_SCHEMA, DEFAULT_UNIT_GROUP
from .errors import InputError
from .numbers import fmt_count
from .units import TONE_STYLE

ALIASES_PATH = Path(__file__).with_name("dossier_columns.yaml")
CHANNELS = ("online", "direct", "postal")
CHANNEL_DTYPE = pl.Enum(list(CHANNELS))
KIND_DTYPES: dict[str, pl.DataType] = {
    "string": pl.String,
    "date": pl.Date,
    "channel": CHANNEL_DTYPE,
    "flag": pl.Boolean,
    "count": pl.Int32,
    "days": pl.Int32,
    "rating": pl.Int8,
}
UNIT_COLUMNS = ("unit_code", "unit_name", "unit_group")
ROW = "__row"
FREQS = ("month", "quarter", "year")
EXCEL_EPOCH_OFFSET = 25569  # days from 1899-12-30 (Excel day 0) to 1970-01-01
HEAD_BYTES = 1 << 20         # a CSV up to this size is decoded whole; a larger UTF-8 one is streamed from disk
STREAMABLE_REPAIRS = {"bom", "nfc"}  # what polars and ``_typed`` do themselves (BOM skipped, text NFC)

# Metrics computed from dossiers and petitions: code → the columns it needs besides unit
# and received date. What each counts (numerator, denominator) is defined once, for
# analysts, in docs/dossier-input.md §3–4; the expressions are in ``aggregate``.
_TIMED = ("finished_date", "due_date")
DOSSIER_METRICS: dict[str, tuple[str, ...]] = {
    "dossiers_received": (),
    "dossiers_resolved": ("finished_date",),
    "resolved_early": _TIMED,
    "resolved_on_time": _TIMED,
    "resolved_late": _TIMED,
    "overdue_pending": _TIMED,
    "on_time": _TIMED,
    "online_submission": ("channel",),
    "online_late": ("channel", *_TIMED),
    "online_payment": ("has_fee", "paid_online"),
    "digitised": ("digitised",),
    "e_result": ("finished_date", "e_result"),
    "dossier_satisfaction": ("finished_date", "satisfaction"),
    "supplement_none": ("finished_date", "supplement_count"),
    "supplement_once": ("finished_date", "supplement_count"),
    "supplement_repeated": ("finished_date", "supplement_count"),
}
PETITION_METRICS: dict[str, tuple[str, ...]] = {
    "petitions_received": (),
    "petition_on_time": _TIMED,
    "petition_satisfaction": ("finished_date", "satisfaction"),
}


# ---------------------------------------------------------------------------
# The alias table
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Aliases:
    """Header and value spellings of ``dossier_columns.yaml``."""

    tables: dict[str, dict[str, tuple[str, tuple[str, ...]]]]   # table → column → (kind, aliases)
    channel: tuple[tuple[str, tuple[str, ...]], ...]            # (channel, phrases) in matching order
    flag_true: tuple[str, ...]
    flag_false: tuple[str, ...]
    rating: dict[str, int]
    rating_words: tuple[str, ...]        # first spelling of each level, highest level first (messages)
    satisfied_from: int

    @property
    def rating_range(self) -> tuple[int, int]:
        """Lowest and highest satisfaction level; numbers in this range are read as the level."""
        return min(self.rating.values()), max(self.rating.values())

    def columns(self, table: str) -> dict[str, tuple[str, tuple[str, ...]]]:
        if table == "units":
            return {c: self.tables["dossiers"][c] for c in UNIT_COLUMNS}
        return self.tables[table]

    def schema(self, table: str) -> dict[str, pl.DataType]:
        return {col: KIND_DTYPES[kind] for col, (kind, _) in self.columns(table).items()}


def normalize_text(text: Any) -> str:
    """Compare form of a header or value: ``chiso.sniff.norm_header`` (NFC, lower case,
    one space), surrounding ":" "*" removed, tone placement unified."""
    s = sniff.norm_header(text).strip(" :*")
    for old, new in TONE_STYLE.items():  # old and new tone placement: one word
        s = s.replace(old, new)
    return s


def _normalize_expr(expr: pl.Expr) -> pl.Expr:
    """``normalize_text`` as a polars expression."""
    return (
        expr.cast(pl.String).str.normalize("NFC").str.to_lowercase()
        .str.replace_all(r"\s+", " ").str.strip_chars(" :*")
        .str.replace_many(list(TONE_STYLE), list(TONE_STYLE.values()))
    )


@functools.lru_cache(maxsize=4)
def _load_aliases(path: str) -> Aliases:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    tables = {
        table: {
            col: (spec["type"], tuple(normalize_text(a) for a in spec["aliases"]))
            for col, spec in body["columns"].items()
        }
        for table, body in raw["tables"].items()
    }
    for table in tables.values():
        for col, (kind, _) in table.items():
            if kind not in KIND_DTYPES:
                raise ValueError(f"dossier_columns.yaml: kiểu '{kind}' của cột {col} không hợp lệ.")
    values = raw["values"]
    return Aliases(
        tables=tables,
        channel=tuple((ch, tuple(normalize_text(p) for p in phrases)) for ch, phrases in values["channel"].items()),
        flag_true=tuple(normalize_text(v) for v in values["flag"]["true"]),
        flag_false=tuple(normalize_text(v) for v in values["flag"]["false"]),
        rating={normalize_text(v): int(level) for level, words in values["rating"].items() for v in words},
        rating_words=tuple(values["rating"][level][0] for level in sorted(values["rating"], key=int, reverse=True)),
        satisfied_from=int(values["satisfied_from"]),
    )


def load_aliases(path: str | Path | None = None) -> Aliases:
    """The alias table (default: ``src/chiso/dossier_columns.yaml``)."""
    return _load_aliases(str(path or ALIASES_PATH))


def map_headers(headers: Sequence[str], table: str = "dossiers", aliases: Aliases | None = None,
                file: str | None = None) -> dict[str, str]:
    """Canonical column → the export's header, for every header the alias table knows.

    When two headers mean the same column, the one whose alias comes first in the
    table wins; the other is ignored with a warning naming both.
    """
    aliases = aliases or load_aliases()
    cols = aliases.columns(table)
    lookup: dict[str, tuple[str, int]] = {}
    for canon, (_, names) in cols.items():
        for rank, name in enumerate(names):
            lookup.setdefault(name, (canon, rank))
    chosen: dict[str, tuple[str, int]] = {}
    for header in headers:
        hit = lookup.get(normalize_text(header))
        if hit is None:
            continue
        canon, rank = hit
        if canon in chosen:
            keep, drop = (chosen[canon][0], header) if chosen[canon][1] <= rank else (header, chosen[canon][0])
            warnings.warn(
                f"{file or 'Tệp'}: hai cột cùng nghĩa '{canon}': dùng '{keep}', bỏ qua '{drop}'.",
                stacklevel=3,
            )
            if keep == chosen[canon][0]:
                continue
        chosen[canon] = (header, rank)
    return {canon: header for canon, (header, _) in chosen.items()}


DOSSIER_SCHEMA: dict[str, pl.DataType] = load_aliases().schema("dossiers")
PETITION_SCHEMA: dict[str, pl.DataType] = load_aliases().schema("petitions")


# ---------------------------------------------------------------------------
# Reading exports
# ---------------------------------------------------------------------------
@dataclass
class _Source:
    """An export with its headers mapped: ``lf`` has canonical column names (raw
    values) and, for text sources, the row number of each row in ``ROW``."""

    lf: pl.LazyFrame
    table: str
    file: str
    text: bool                      # values are text to parse (CSV, XLSX)
    headers: dict[str, str]         # canonical → header in the export


def _magic(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(4)


def _header_index(rows: Iterable[Sequence[str]], table: str, aliases: Aliases) -> int:
    """0-based index of the header among the first ``chiso.sniff.HEADER_SCAN_ROWS`` rows
    (title rows above it are skipped): the first row with three known column names,
    else the first with the most. Reads no row past the one it stops at."""
    known = {n for _, names in aliases.columns(table).values() for n in names}
    best, best_score = 0, -1
    for i, cells in enumerate(itertools.islice(rows, sniff.HEADER_SCAN_ROWS)):
        score = sum(normalize_text(c) in known for c in cells if c)
        if score > best_score:
            best, best_score = i, score
        if score >= 3:
            break
    return best


def _csv_input(path: Path) -> tuple[Path | bytes, str]:
    """What polars reads for a CSV export (the file, or its text as UTF-8 bytes) and the text of its head.

    The bytes go through ``chiso.sniff.decode`` (legacy Vietnamese encodings, text
    mis-read once, BOM, NFD; empty and binary files refused; repairs recorded). A
    file up to ``HEAD_BYTES`` is decoded whole; a larger one whose head is UTF-8
    needing no other repair than polars and ``_typed`` make is streamed from disk,
    any other is decoded whole.
    """
    file = str(path)
    with path.open("rb") as fh:
        data = fh.read(HEAD_BYTES + 1)
    if len(data) > HEAD_BYTES:
        head = data[: data.rfind(b"\n") + 1] or data
        # decoded without recording (a fresh context has no collector): recorded below if streamed
        text, found = contextvars.Context().run(sniff.decode, head, file)
        if {r.kind for r in found} <= STREAMABLE_REPAIRS:
            for r in found:
                sniff.record(r)
            return path, text
        data = path.read_bytes()
    text, _ = sniff.decode(data, file)
    return text.encode("utf-8"), text


def _sniff_csv(text: str, table: str, aliases: Aliases) -> tuple[str, int]:
    """Separator and 0-based index of the header line (title rows above it are skipped)."""
    sep = sniff.detect_delimiter(text[: 1 << 16])
    lines = text[: 1 << 16].splitlines()
    return sep, _header_index((next(csv.reader([line], delimiter=sep), []) for line in lines), table, aliases)


def _cell_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    text = str(v).strip()
    return text or None


def _xlsx_corrupt(path: Path, exc: Exception) -> NoReturn:
    """Raise the ``xlsx_corrupt`` error every reader gives for a workbook openpyxl cannot
    read: ``chiso.sniff.read_xlsx_rows`` fails on it the same way and words the error
    (should it read the workbook after all, the original exception is raised)."""
    sniff.read_xlsx_rows(path, str(path))
    raise exc


def _read_xlsx(path: Path, table: str, aliases: Aliases, progress: bool) -> tuple[pl.DataFrame, int]:
    """The first sheet as strings (only the known columns) and the header's sheet row."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on broken files
        _xlsx_corrupt(path, exc)
    try:
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        head: list[tuple] = []   # the rows read while looking for the header

        def scanned() -> Iterator[list[str]]:
            for row in rows:
                head.append(row)
                yield [_cell_text(v) or "" for v in row]

        header_idx = _header_index(scanned(), table, aliases)
        header = [_cell_text(v) or f"__col{j}" for j, v in enumerate(head[header_idx])]
        mapping = map_headers(header, table, aliases, file=str(path))
        wanted = {header.index(h): c for c, h in mapping.items()}
        cols: dict[str, list[str | None]] = {c: [] for c in wanted.values()}
        body = iter(head[header_idx + 1:])
        bar = None
        if progress:
            from tqdm import tqdm

            total = (ws.max_row - header_idx - 1) if ws.max_row else None
            bar = tqdm(total=total, unit=" dòng", unit_scale=True, desc=f"Đọc {path.name}", file=sys.stderr)
        for source in (body, rows):
            for row in source:
                for j, c in wanted.items():
                    cols[c].append(_cell_text(row[j]) if j < len(row) else None)
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken part of the workbook shows only while reading it
        _xlsx_corrupt(path, exc)
    finally:
        wb.close()
    frame = pl.DataFrame({mapping[c]: v for c, v in cols.items()}, schema={mapping[c]: pl.String for c in cols})
    return frame, header_idx + 1


def _open(source: Any, table: str, aliases: Aliases, progress: bool = False) -> _Source:
    """Open an export (path, DataFrame or LazyFrame) and map its headers."""
    if isinstance(source, (pl.DataFrame, pl.LazyFrame)):
        lf, file, text, row_offset = source.lazy(), "<bảng>", False, None
    elif Path(source).is_dir() or any(ch in str(source) for ch in "*?["):
        # a partitioned Parquet dataset (e.g. province=H18/month=2024-06/part-0.parquet)
        pattern = str(Path(source) / "**" / "*.parquet") if Path(source).is_dir() else str(source)
        lf, file, text, row_offset = pl.scan_parquet(pattern, hive_partitioning=True), str(source), False, None
    else:
        path = Path(source)
        if not path.exists():
            raise InputError(f"Không tìm thấy tệp {path}.", f"File not found: {path}.", file=str(path), rule="file_exists")
        file = str(path)
        magic = _magic(path)
        if magic == b"PAR1":
            lf, text, row_offset = pl.scan_parquet(path), False, None
        elif magic[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise InputError(
                "Tệp CSV mã hóa UTF-16: lưu lại bằng Excel với kiểu 'CSV UTF-8 (Comma delimited)' hoặc gửi tệp XLSX.",
                "UTF-16 CSV: save as UTF-8 CSV or XLSX.", file=file, rule="encoding")
        elif magic == b"PK\x03\x04":
            frame, header_row = _read_xlsx(path, table, aliases, progress)
            lf, text, row_offset = frame.lazy(), True, header_row + 1
        else:
            data, head = _csv_input(path)
            sep, header_idx = _sniff_csv(head, table, aliases)
            lf = pl.scan_csv(data, separator=sep, skip_rows=header_idx, infer_schema=False,
                             encoding="utf8-lossy", truncate_ragged_lines=True, raise_if_empty=False)
            text, row_offset = True, header_idx + 2
    headers = lf.collect_schema().names()
    mapping = map_headers(headers, table, aliases, file=file)
    if "unit_code" not in mapping and "unit_name" not in mapping and table != "units":
        raise InputError(
            "Thiếu cột đơn vị: cần 'Mã đơn vị' hoặc 'Tên đơn vị' (xem docs/dossier-input.md).",
            "Missing unit column (unit code or unit name).", file=file, column="Mã đơn vị", rule="required_columns")
    if table == "units" and "unit_code" not in mapping:
        raise InputError("Danh sách đơn vị thiếu cột 'Mã đơn vị'.", "Unit list without a unit code column.",
                         file=file, column="Mã đơn vị", rule="required_columns")
    if table != "units" and "received_date" not in mapping:
        raise InputError(
            "Thiếu cột bắt buộc 'Ngày tiếp nhận' (xem docs/dossier-input.md).",
            "Missing required column: received date.", file=file, column="Ngày tiếp nhận", rule="required_columns")
    exprs = [pl.col(h).alias(c) for c, h in mapping.items()]
    if row_offset is not None:
        lf = lf.with_row_index(ROW, offset=row_offset)
        exprs.append(pl.col(ROW))
    lf = lf.select(exprs)
    if text:  # drop blank lines and footer lines without unit and date (e.g. "Tổng cộng")
        keys = [c for c in ("unit_code", "unit_name", "received_date") if c in mapping]
        lf = lf.filter(pl.any_horizontal(_nonempty(c) for c in keys))
    return _Source(lf=lf, table=table, file=file, text=text, headers=mapping)


def _nonempty(col: str) -> pl.Expr:
    """A text cell with something in it besides spaces."""
    return pl.col(col).str.strip_chars().fill_null("") != ""


def _excel_day(serial: pl.Expr) -> pl.Expr:
    """An Excel day serial number (Float64, time of day ignored) as a date."""
    return (serial.floor().cast(pl.Int32) - EXCEL_EPOCH_OFFSET).cast(pl.Date)


def _parse_date(c: pl.Expr) -> pl.Expr:
    s = c.cast(pl.String).str.strip_chars()
    dmy = r"(?:^|\D)(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:\D|$)"
    ymd = r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:\D|$)"

    def build(pattern: str, y: int, m: int, d: int) -> pl.Expr:
        return pl.concat_str(
            s.str.extract(pattern, y), s.str.extract(pattern, m).str.zfill(2), s.str.extract(pattern, d).str.zfill(2),
            separator="-",
        ).str.to_date("%Y-%m-%d", strict=False)

    serial = pl.when(s.str.contains(r"^\d{5}(?:\.\d+)?$")).then(_excel_day(s.cast(pl.Float64, strict=False)))
    return pl.coalesce(build(dmy, 3, 2, 1), build(ymd, 1, 2, 3), serial)


def _parse_flag(c: pl.Expr, aliases: Aliases) -> pl.Expr:
    v = _normalize_expr(c).str.replace(r"^(\d+)\.0+$", "$1")
    return (
        pl.when(v.is_null() | (v == "")).then(pl.lit(False))
        .when(v.is_in(list(aliases.flag_true))).then(pl.lit(True))
        .when(v.is_in(list(aliases.flag_false))).then(pl.lit(False))
    )


def _parse_channel(c: pl.Expr, aliases: Aliases) -> pl.Expr:
    v = _normalize_expr(c)
    expr = pl.when(pl.lit(False)).then(pl.lit(None, dtype=pl.String))
    for channel, phrases in aliases.channel:
        expr = expr.when(v.str.contains_any(list(phrases))).then(pl.lit(channel))
    return expr.otherwise(pl.lit(None, dtype=pl.String)).cast(CHANNEL_DTYPE)


def _parse_number(c: pl.Expr) -> pl.Expr:
    s = c.cast(pl.String).str.strip_chars().str.replace(",", ".", literal=True)
    return s.cast(pl.Float64, strict=False).round(0).cast(pl.Int32)


def _parse_rating(c: pl.Expr, aliases: Aliases) -> pl.Expr:
    v = _normalize_expr(c)
    number = v.str.replace(r"^(\d+)\.0+$", "$1").cast(pl.Int32, strict=False)
    words = v.replace_strict(aliases.rating, default=None, return_dtype=pl.Int32)
    return pl.coalesce(pl.when(number.is_between(*aliases.rating_range)).then(number), words).cast(pl.Int8)


def _typed_expr(col: str, kind: str, dtype: pl.DataType, aliases: Aliases) -> pl.Expr:
    """Expression turning one mapped column into its canonical type (no-op when it already is)."""
    c = pl.col(col)
    if kind == "string":
        if isinstance(dtype, (pl.Categorical, pl.Enum)):
            return c   # compact codes kept as they are
        s = c.cast(pl.String).str.strip_chars().str.normalize("NFC")
        return pl.when(s != "").then(s)
    if kind == "date":
        if dtype == pl.Date:
            return c
        if isinstance(dtype, pl.Datetime):
            return c.dt.date()
        if dtype.is_numeric():
            return _excel_day(c.cast(pl.Float64))
        return _parse_date(c)
    if kind == "channel":
        if dtype == CHANNEL_DTYPE:
            return c
        return _parse_channel(c, aliases)
    if kind == "flag":
        if dtype == pl.Boolean:
            return c
        if dtype.is_numeric():
            return c != 0
        return _parse_flag(c, aliases)
    if kind in ("count", "days"):
        if dtype.is_integer():
            return c        # an empty count (null) counts as 0 in the flags (``supplement_count >= 1``)
        expr = c.round(0).cast(pl.Int32) if dtype.is_numeric() else _parse_number(c)
        return expr.fill_null(0) if kind == "count" else expr
    if kind == "rating":
        if dtype == pl.Int8:
            return c        # canonical (``ingest``, generator): already a level or null
        if dtype.is_integer():
            return pl.when(c.is_between(*aliases.rating_range)).then(c).cast(pl.Int8)
        return _parse_rating(c, aliases)
    raise ValueError(kind)


# Text columns whose distinct values are few: parsed once per distinct value (see _Checked).
MAPPED_KINDS = ("flag", "channel", "rating")
MAPPED_STRINGS = ("unit_code", "unit_name", "unit_group", "procedure_code")


def _fast_date(c: pl.Expr) -> pl.Expr:
    """The common date spellings (``15/06/2024``, ``15/06/2024 16:30``, ``2024-06-15``,
    ``2024-06-15T16:30``) with the native parser; anything else is null here and is
    handled by the value map built while checking (``_parse_date`` on distinct values)."""
    token = c.str.strip_chars().str.replace("T", " ", literal=True).str.split_exact(" ", 1).struct.field("field_0")
    return pl.coalesce(token.str.to_date("%d/%m/%Y", strict=False), token.str.to_date("%Y-%m-%d", strict=False))


@dataclass
class _Checked:
    """What the checking pass learnt about a text source: per column, the parsed value
    of every distinct cell (few: yes/no, channels, ratings, unit codes and names) and,
    for dates, of the distinct cells the fast parser does not read."""

    maps: dict[str, dict[str, Any]]
    rows: int
    unit_codes: list[str]


def _typed(src: _Source, aliases: Aliases, checked: _Checked | None = None, keep_row: bool = False) -> pl.LazyFrame:
    """The source's columns in their canonical types (``ROW`` too with ``keep_row``, for text sources)."""
    schema = src.lf.collect_schema()
    kinds = aliases.columns(src.table)
    maps = checked.maps if checked else {}

    def expr(c: str, kind: str) -> pl.Expr:
        if c in maps and schema[c] == pl.String:
            if kind == "date":
                fast = _fast_date(pl.col(c))
                if not maps[c]:
                    return fast
                return pl.coalesce(fast, pl.col(c).replace_strict(maps[c], default=None, return_dtype=pl.Date))
            mapped = pl.col(c).replace_strict(maps[c], default=None, return_dtype=KIND_DTYPES[kind])
            return mapped.fill_null(False) if kind == "flag" else mapped
        return _typed_expr(c, kind, schema[c], aliases)

    exprs = [expr(c, kinds[c][0]).alias(c) for c in src.headers]
    if "unit_code" not in src.headers and "unit_name" in src.headers:
        exprs.append(expr("unit_name", "string").alias("unit_code"))
    if keep_row and ROW in schema:
        exprs.append(pl.col(ROW))
    return src.lf.select(exprs)


def scan_dossiers(source: Any, *, aliases: Aliases | None = None) -> pl.LazyFrame:
    """A dossier export (CSV, XLSX, Parquet path, or a frame) as a typed lazy frame.

    Columns: those of ``DOSSIER_SCHEMA`` that the export has (``unit_code`` is
    taken from the unit name when the export has no code). Values that cannot be
    read become null: call ``validate`` first to get them reported.
    """
    aliases = aliases or load_aliases()
    return _typed(_open(source, "dossiers", aliases), aliases)


def scan_petitions(source: Any, *, aliases: Aliases | None = None) -> pl.LazyFrame:
    """A petition (PAKN) export as a typed lazy frame (columns of ``PETITION_SCHEMA``)."""
    aliases = aliases or load_aliases()
    return _typed(_open(source, "petitions", aliases), aliases)


def validate(source: Any, table: str = "dossiers", *, aliases: Aliases | None = None,
             progress: bool = False) -> dict[str, Any]:
    """Check every cell of a text export (CSV, XLSX) or of text columns of a Parquet file.

    Raises ``InputError`` on the first unreadable cell in file order (row, column as
    in the export, value, what was expected) or a missing received date. Returns a
    summary: rows read and the distinct unit codes.
    """
    aliases = aliases or load_aliases()
    checked = _check(_open(source, table, aliases, progress=progress), aliases)
    return {"rows": checked.rows, "unit_codes": checked.unit_codes}


_EXPECTED = {
    "date": "một ngày (dd/mm/yyyy)",
    "channel": "'Trực tuyến', 'Trực tiếp' hoặc 'Bưu chính công ích'",
    "flag": "có/không",
    "count": "một số nguyên",
    "days": "một số ngày",
}


def _expected(kind: str, aliases: Aliases) -> str:
    """What a cell of this kind should hold, for error messages."""
    if kind == "rating":
        lo, hi = aliases.rating_range
        words = ", ".join(w[:1].upper() + w[1:] for w in aliases.rating_words)
        return f"một mức hài lòng ({words} hoặc {lo}–{hi})"
    return _EXPECTED[kind]


def _check(src: _Source, aliases: Aliases) -> _Checked:
    """One streaming pass over a source: distinct cells of the few-valued text columns,
    date cells the fast parser misses, unreadable numbers, empty received dates.

    Distinct cells are parsed once (by the same expressions as the unchecked path);
    a cell that cannot be read raises ``InputError`` with its first row in the file."""
    schema = src.lf.collect_schema()
    kinds = aliases.columns(src.table)
    text = [c for c in src.headers if schema[c] == pl.String]
    distinct = [c for c in text if kinds[c][0] in MAPPED_KINDS or c in MAPPED_STRINGS]
    dates = [c for c in text if kinds[c][0] == "date"]
    unreadable_number = {c: _nonempty(c) & _typed_expr(c, kinds[c][0], pl.String, aliases).is_null()
                         for c in text if kinds[c][0] in ("count", "days")}
    aggs = [pl.len().alias("__rows")]
    aggs += [pl.col(c).str.len_bytes().max().alias(f"{c}__bytes") for c in text]   # cheap bound of the length
    aggs += [pl.col(c).unique().implode().alias(c) for c in distinct]
    aggs += [pl.col(c).filter(_fast_date(pl.col(c)).is_null() & _nonempty(c)).unique().implode().alias(c)
             for c in dates]
    aggs += [mask.any().alias(c) for c, mask in unreadable_number.items()]
    missing_received = None
    if src.table != "units":
        missing_received = (~_nonempty("received_date") if schema["received_date"] == pl.String
                            else pl.col("received_date").is_null())
        aggs.append(missing_received.any().alias("__missing_received"))
    if {"received_date", "finished_date"} <= set(src.headers):
        day = lambda c: _fast_date(pl.col(c)) if schema[c] == pl.String else _typed_expr(c, "date", schema[c], aliases)  # noqa: E731
        aggs.append((day("finished_date") < day("received_date")).sum().alias("__finished_before_received"))
    out = src.lf.select(aggs).collect(engine="streaming").row(0, named=True)
    _check_cell_length(src, [c for c in text if (out[f"{c}__bytes"] or 0) > sniff.MAX_CELL_CHARS])

    maps: dict[str, dict[str, Any]] = {}
    bad: dict[str, pl.Expr] = {}
    for c in distinct + dates:
        values = [v for v in out[c] if v is not None]
        kind = kinds[c][0]
        small = pl.DataFrame({c: values}, schema={c: pl.String})
        parsed = small.select(pl.col(c).alias("raw"), (_parse_date(pl.col(c)) if kind == "date"
                                                        else _typed_expr(c, kind, pl.String, aliases)).alias("value"))
        maps[c] = dict(zip(parsed["raw"], parsed["value"]))
        unreadable = [r for r, v in maps[c].items() if v is None and r.strip()]
        if unreadable:
            bad[c] = pl.col(c).is_in(unreadable)
    bad.update((c, mask) for c, mask in unreadable_number.items() if out[c])
    if out.get("__missing_received"):
        bad["__missing_received"] = missing_received
    if bad:
        _raise_first(src, bad, kinds, aliases)
    if out.get("__finished_before_received"):
        warnings.warn(f"{src.file}: {out['__finished_before_received']} hồ sơ có ngày hoàn thành trước ngày tiếp nhận "
                      "(vẫn được tính theo ngày hoàn thành).", stacklevel=3)
    code_col = "unit_code" if "unit_code" in src.headers else ("unit_name" if "unit_name" in src.headers else None)
    codes: list[str] = []
    if code_col in maps:
        codes = sorted({v for v in maps[code_col].values() if v is not None})
    elif code_col:
        codes = src.lf.select(pl.col(code_col).cast(pl.String).drop_nulls().unique().sort()) \
            .collect(engine="streaming").to_series().to_list()
    return _Checked(maps=maps, rows=out["__rows"], unit_codes=codes)


def _first_bad(src: _Source, bad: dict[str, pl.Expr]) -> tuple[int, str, Any] | None:
    """The first cell in file order where a mask of ``bad`` (name → mask of the column
    of that name, or of ``received_date`` for ``__missing_received``) holds: row, name, value."""
    lf = src.lf if ROW in src.lf.collect_schema() else src.lf.with_row_index(ROW, offset=1)
    cols = {n: ("received_date" if n == "__missing_received" else n) for n in bad}
    found = lf.select(
        *[pl.col(ROW).filter(mask).first().alias(f"{n}__row") for n, mask in bad.items()],
        *[pl.col(cols[n]).cast(pl.String).filter(mask).first().alias(f"{n}__value") for n, mask in bad.items()],
    ).collect(engine="streaming").row(0, named=True)
    hits = [(found[f"{n}__row"], n) for n in bad if found[f"{n}__row"] is not None]
    if not hits:
        return None
    row, name = min(hits)
    return row, name, found[f"{name}__value"]


def _check_cell_length(src: _Source, candidates: list[str]) -> None:
    """Refuse a cell longer than ``chiso.sniff.MAX_CELL_CHARS`` (as every reader does)
    among the ``candidates`` columns (those with a cell of more bytes than that)."""
    if not candidates:
        return
    hit = _first_bad(src, {c: pl.col(c).str.len_chars() > sniff.MAX_CELL_CHARS for c in candidates})
    if hit is None:
        return
    row, name, value = hit
    raise sniff.cell_too_long(len(value), file=src.file, row=row if src.text else None, column=src.headers[name])


def _raise_first(src: _Source, bad: dict[str, pl.Expr], kinds: dict[str, tuple[str, tuple[str, ...]]],
                 aliases: Aliases) -> None:
    """Find the first unreadable cell in file order and raise it."""
    hit = _first_bad(src, bad)
    assert hit is not None, "a mask of bad cells matched no row"
    row, name, value = hit
    has_row = src.text
    if name == "__missing_received":
        raise InputError("Ô ngày tiếp nhận để trống.", "Empty received date.", file=src.file,
                         row=row if has_row else None, column=src.headers["received_date"], rule="required_value")
    kind = kinds[name][0]
    raise InputError(
        f"Giá trị '{value}' không đọc được: cần {_expected(kind, aliases)}.", f"Cannot read '{value}' as {kind}.",
        file=src.file, row=row if has_row else None, column=src.headers[name], rule=f"{kind}_format",
    )


def read_dossiers(source: Any, *, aliases: Aliases | None = None, check: bool = True) -> pl.DataFrame:
    """A (small) dossier export, checked and typed, in memory."""
    aliases = aliases or load_aliases()
    src = _open(source, "dossiers", aliases)
    return _typed(src, aliases, _check(src, aliases) if check else None).collect()


def read_units(source: Any, *, aliases: Aliases | None = None) -> pl.DataFrame:
    """A unit list (CSV, XLSX, Parquet or frame): ``unit_code, unit_name, unit_group``."""
    aliases = aliases or load_aliases()
    src = _open(source, "units", aliases)
    df = _typed(src, aliases, keep_row=True).collect()
    for col in UNIT_COLUMNS:
        if col not in df.columns:
            df = df.with_columns((pl.col("unit_code") if col == "unit_name" else pl.lit(DEFAULT_UNIT_GROUP)).alias(col))
    rows = pl.col(ROW) if ROW in df.columns else pl.lit(None, dtype=pl.Int64)   # row in the file (text sources)
    df = df.select(*[pl.col(c).cast(pl.String) for c in UNIT_COLUMNS], rows.alias(ROW))
    again = df.filter(pl.col("unit_code").is_duplicated() & ~pl.col("unit_code").is_first_distinct())
    if again.height:
        code, row = again.row(0)[0], again[ROW][0]
        seen = df.filter(pl.col("unit_code").eq_missing(code))[ROW].drop_nulls().head(5).to_list()
        where = f" (dòng {', '.join(map(str, seen))})" if seen else ""
        raise InputError(f"Mã đơn vị '{code}' xuất hiện nhiều lần trong danh sách đơn vị{where}.",
                         f"Duplicate unit code '{code}' in the unit list.", file=src.file, row=row,
                         column=src.headers["unit_code"], rule="unique_units")
    return df.drop(ROW)


def ingest(source: Any, out: str | Path, *, table: str = "dossiers", aliases: Aliases | None = None,
           row_group_size: int = 1_000_000, progress: bool = True) -> Path:
    """Check an export and write it as canonical Parquet (typed, unit codes as Enum).

    Two streaming passes over the export (check, then write); memory stays at one
    batch. The output is what ``aggregate`` reads fastest. Written atomically.
    """
    import pyarrow.parquet as pq

    from .io import atomic_write

    aliases = aliases or load_aliases()
    src = _open(source, table, aliases, progress=progress)
    checked = _check(src, aliases)
    typed = _typed(src, aliases, checked)
    codes = checked.unit_codes
    typed = typed.with_columns(pl.col("unit_code").cast(pl.String).cast(pl.Enum(codes)))
    if "unit_name" in typed.collect_schema().names():
        typed = typed.with_columns(pl.col("unit_name").cast(pl.Categorical))

    def write(tmp: str) -> None:
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=checked.rows, unit=" hồ sơ", unit_scale=True, desc=f"Ghi {Path(out).name}",
                       file=sys.stderr)
        writer, pending, n_pending = None, [], 0

        def flush() -> None:
            nonlocal writer, pending, n_pending
            table_ = pl.concat(pending).to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(tmp, table_.schema, compression="lz4")
            writer.write_table(table_, row_group_size=row_group_size)
            pending, n_pending = [], 0

        try:
            for batch in typed.collect_batches(engine="streaming"):
                pending.append(batch)
                n_pending += batch.height
                if bar is not None:
                    bar.update(batch.height)
                if n_pending >= row_group_size:
                    flush()
            if pending or writer is None:
                pending = pending or [typed.head(0).collect()]
                flush()
        finally:
            if writer is not None:
                writer.close()
            if bar is not None:
                bar.close()

    return atomic_write(out, write)


# ---------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    label: str          # "2024-06", "2024-Q2", "2024"
    freq: str
    index: int          # months since year 0 (month), quarters (quarter), year
    start: dt.date      # first day
    end: dt.date        # last day (inclusive)


def _period(freq: str, index: int) -> Period:
    if freq == "month":
        y, m = divmod(index, 12)
        start = dt.date(y, m + 1, 1)
        nxt = dt.date(y + (m + 1) // 12, (m + 1) % 12 + 1, 1)
        label = f"{y:04d}-{m + 1:02d}"
    elif freq == "quarter":
        y, q = divmod(index, 4)
        start = dt.date(y, 3 * q + 1, 1)
        nxt = dt.date(y + 1, 1, 1) if q == 3 else dt.date(y, 3 * q + 4, 1)
        label = f"{y:04d}-Q{q + 1}"
    elif freq == "year":
        start, nxt, label = dt.date(index, 1, 1), dt.date(index + 1, 1, 1), f"{index:04d}"
    else:
        raise ValueError(f"Kỳ '{freq}' không hợp lệ: dùng một trong {FREQS}.")
    return Period(label, freq, index, start, nxt - dt.timedelta(days=1))


def parse_period(label: str) -> Period:
    """"2024-06" (month), "2024-Q2" (quarter) or "2024" (year)."""
    text = str(label).strip().upper()
    try:
        if len(text) == 4 and text.isdigit():
            return _period("year", int(text))
        y, rest = text.split("-", 1)
        if rest.startswith("Q") and rest[1:].isdigit() and 1 <= int(rest[1:]) <= 4:
            return _period("quarter", int(y) * 4 + int(rest[1:]) - 1)
        if rest.isdigit() and 1 <= int(rest) <= 12:
            return _period("month", int(y) * 12 + int(rest) - 1)
    except ValueError:
        pass
    raise InputError(f"Kỳ '{label}' không hợp lệ: viết 2024-06 (tháng), 2024-Q2 (quý) hoặc 2024 (năm).",
                     f"Invalid period '{label}'.", column="period", rule="period_format")


def period_of(day: dt.date, freq: str) -> Period:
    index = {"month": day.year * 12 + day.month - 1, "quarter": day.year * 4 + (day.month - 1) // 3,
             "year": day.year}[freq]
    return _period(freq, index)


def _days(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


# ---------------------------------------------------------------------------
# Aggregation
# ---------------------------------------------------------------------------
def _period_lut(periods: list[Period]) -> tuple[pl.Series, int]:
    """Day → bucket table: 0 before the first period, i + 1 in period i, n + 1 after."""
    first, last = _days(periods[0].start), _days(periods[-1].end)
    bucket = [0]
    for i, p in enumerate(periods):
        bucket.extend([i + 1] * ((p.end - p.start).days + 1))
    bucket.append(len(periods) + 1)
    assert len(bucket) == last - first + 3
    return pl.Series("bucket", bucket, dtype=pl.UInt32), first - 1


# Lane packing: up to three 0/1 flags are summed in one UInt64 column, each in its own
# 21-bit lane (flag_0 + flag_1·2²¹ + flag_2·2⁴²). A group's lane sums cannot carry
# into the next lane while the group has fewer than 2²¹ rows (2.097.152), which is
# checked on the result: a larger group (a unit with more than two million dossiers
# received in one period and finished and due in the same periods) makes the
# aggregation run again with one plain sum per flag. Summing four packed columns
# instead of a dozen flags cuts the hash aggregation's work by about half.
LANE_BITS = 21
LANES = 3


def _flag_words(flags: dict[str, pl.Expr]) -> tuple[list[pl.Expr], dict[str, tuple[str, int]]]:
    """Packed word expressions and, per flag, (word column, lane). A null flag counts 0."""
    names = list(flags)
    zero = pl.lit(0, dtype=pl.UInt64)
    words, where = [], {}
    for w in range(0, len(names), LANES):
        expr = None
        for lane, name in enumerate(names[w:w + LANES]):
            term = pl.when(flags[name]).then(pl.lit(1 << (LANE_BITS * lane), dtype=pl.UInt64)).otherwise(zero)
            expr = term if expr is None else expr + term
            where[name] = (f"_w{w // LANES}", lane)
        words.append(expr.alias(f"_w{w // LANES}"))
    return words, where


def _day_number(col: str, cols: Container[str]) -> pl.Expr:
    """A date column as days since 1970-01-01 (Int32); all null when the export lacks it."""
    return pl.col(col).cast(pl.Int32) if col in cols else pl.lit(None, dtype=pl.Int32)


def _grouped(lf: pl.LazyFrame, periods: list[Period], flags: dict[str, pl.Expr], *,
             due: pl.Expr, with_names: bool, engine: str) -> pl.DataFrame:
    """The one pass over the rows: row count and flag sums per unit × received ×
    finished × due period bucket (``rp``, ``fp``, ``dp``: 0 before the periods, 1..n,
    n + 1 after; an unfinished dossier has ``fp`` = n + 1, one without due date
    ``dp`` = its ``fp``)."""
    schema = lf.collect_schema()
    lut, base = _period_lut(periods)
    size = len(lut)
    nb = len(periods) + 2

    def bucket(days: pl.Expr) -> pl.Expr:
        return pl.lit(lut).gather((days - base).clip(0, size - 1))

    rec = pl.col("received_date").cast(pl.Int32)
    fin = _day_number("finished_date", schema)
    after = pl.lit(nb - 1, dtype=pl.UInt32)
    key = (bucket(rec) * nb + bucket(fin).fill_null(after)) * nb + bucket(due).fill_null(after)
    cube = nb ** 3
    unit = schema.get("unit_code")
    names = [pl.col(c).cast(pl.String).first().alias(c) for c in ("unit_name", "unit_group")
             if with_names and c in schema]
    is_enum = isinstance(unit, pl.Enum)
    one_key = is_enum and len(unit.categories) * cube < 2 ** 32
    if one_key:       # unit codes as small integers: one UInt32 key
        keys = [(pl.col("unit_code").to_physical().cast(pl.UInt32) * cube + key).alias("_k")]
    elif is_enum:     # many units or many periods: unit index and period key
        keys = [pl.col("unit_code").to_physical().cast(pl.UInt32).alias("_u"), key.cast(pl.UInt64).alias("_k")]
    else:             # text or categorical codes (not ingested): grouped as they are
        keys = [pl.col("unit_code"), key.cast(pl.UInt64).alias("_k")]
    key_names = [k.meta.output_name() for k in keys]

    def run(lanes: bool) -> pl.DataFrame:
        if lanes:
            words, where = _flag_words(flags)
            pre = lf.select(*keys, *words, *[pl.col(c) for c in ("unit_name", "unit_group") if names and c in schema])
            g = pre.group_by(key_names).agg(pl.len().alias("n"), *[pl.col(w.meta.output_name()).sum() for w in words],
                                            *names).collect(engine=engine)
            return g.with_columns(
                ((pl.col(w) // (1 << (LANE_BITS * lane))) % (1 << LANE_BITS)).cast(pl.UInt32).alias(name)
                for name, (w, lane) in where.items()
            ).drop(w.meta.output_name() for w in words)
        return lf.group_by(keys).agg(pl.len().alias("n"), *[f.sum().alias(k) for k, f in flags.items()],
                                     *names).collect(engine=engine)

    g = run(lanes=bool(flags))
    if flags and g.height and g["n"].max() >= (1 << LANE_BITS):
        g = run(lanes=False)
    if is_enum:       # unit codes stay small integers (Enum) until the final table
        codes = pl.Series("unit_code", unit.categories, dtype=unit)
        if one_key:
            g = g.with_columns(codes.gather(g["_k"] // cube).alias("unit_code"), (pl.col("_k") % cube).alias("_k"))
        else:
            g = g.with_columns(codes.gather(g["_u"]).alias("unit_code")).drop("_u")
    return g.with_columns(
        (pl.col("_k") // (nb * nb)).cast(pl.Int32).alias("rp"),
        (pl.col("_k") // nb % nb).cast(pl.Int32).alias("fp"),
        (pl.col("_k") % nb).cast(pl.Int32).alias("dp"),
    ).drop("_k")


def _dossier_flags(cols: set[str], satisfied_from: int, fin: pl.Expr, due: pl.Expr) -> dict[str, pl.Expr]:
    """0/1 flags summed per group (only those the export's columns allow)."""
    online = pl.col("channel") == "online"
    timed = {"finished_date", "due_date"} <= cols
    delay = (fin - due).sign()
    flags = {
        "online": online if "channel" in cols else None,
        "fee": pl.col("has_fee") if "has_fee" in cols else None,
        "paid": pl.col("has_fee") & pl.col("paid_online") if {"has_fee", "paid_online"} <= cols else None,
        "digitised": pl.col("digitised") if "digitised" in cols else None,
        "e_result": pl.col("e_result") if {"e_result", "finished_date"} <= cols else None,
        "rated": pl.col("satisfaction").is_not_null() if "satisfaction" in cols else None,
        "satisfied": pl.col("satisfaction") >= satisfied_from if "satisfaction" in cols else None,
        "early": delay == -1 if timed else None,
        "exact": delay == 0 if timed else None,
        "online_late": (delay == 1) & online if timed and "channel" in cols else None,
        "supp1": pl.col("supplement_count") >= 1 if "supplement_count" in cols else None,
        "supp2": pl.col("supplement_count") >= 2 if "supplement_count" in cols else None,
    }
    return {k: v for k, v in flags.items() if v is not None}


def _dossier_inputs(cols: set[str], aliases: Aliases) -> tuple[pl.Expr, dict[str, pl.Expr]]:
    """The day a dossier is judged against (due date extended by the supplement waiting
    days; the finished date when there is no due date, so on time when finished and
    never overdue) and its 0/1 flags."""
    fin = _day_number("finished_date", cols)
    due = _day_number("due_date", cols)
    if "supplement_wait_days" in cols:
        due = due + pl.col("supplement_wait_days").fill_null(0).cast(pl.Int32)
    due = due.fill_null(fin)
    return due, _dossier_flags(cols, aliases.satisfied_from, fin, due)


def _by_period(g: pl.DataFrame, n: int, received: list[str], resolved: list[str], pending: list[str],
               prefix: str = "") -> pl.DataFrame:
    """Per unit × period bucket (1..n): sums by received period (``rec_``), by finished
    period (``res_``) and over the dossiers open and overdue at the period end (``pend_``).

    One lazy plan over the small grouped table, so that polars runs the three
    aggregations in parallel."""
    gl = g.lazy()
    in_range = lambda c: pl.col(c).is_between(1, n)  # noqa: E731
    rec = (gl.filter(in_range("rp")).group_by("unit_code", pl.col("rp").alias("p"))
           .agg(pl.col(c).sum().alias(f"{prefix}rec_{c}") for c in ["n", *received]))
    res = (gl.filter(in_range("fp")).group_by("unit_code", pl.col("fp").alias("p"))
           .agg(pl.col(c).sum().alias(f"{prefix}res_{c}") for c in ["n", *resolved]))
    # open and overdue at the end of P for P in [max(due bucket, received bucket), finished bucket)
    start = pl.max_horizontal("dp", "rp", pl.lit(1))
    stop = pl.min_horizontal("fp", pl.lit(n + 1))
    pend = (gl.filter(start < stop).with_columns(pl.int_ranges(start, stop, dtype=pl.Int32).alias("p"))
            .explode("p").group_by("unit_code", "p")
            .agg(pl.col(c).sum().alias(f"{prefix}pend_{c}") for c in ["n", *pending]))
    out = rec.join(res, on=["unit_code", "p"], how="full", coalesce=True) \
        .join(pend, on=["unit_code", "p"], how="full", coalesce=True)
    return out.with_columns(pl.col("unit_code").cast(pl.String)).collect()


def _resolve_periods(lf: pl.LazyFrame, periods: Any, freq: str, engine: str) -> tuple[list[Period], set[str]]:
    """Contiguous periods to compute and the labels to output."""
    if periods is None:
        if freq not in FREQS:
            raise InputError(f"Kỳ '{freq}' không hợp lệ: dùng một trong {', '.join(FREQS)}.",
                             f"Invalid frequency '{freq}'.", column="freq", rule="period_format")
        span = lf.select(pl.col("received_date").min().alias("lo"), pl.col("received_date").max().alias("hi")) \
            .collect(engine=engine).row(0)
        if span[0] is None:
            raise InputError("Tệp không có hồ sơ nào có ngày tiếp nhận: cần chỉ rõ kỳ (ví dụ --period 2024-06).",
                             "No received date in the data: give the period.", rule="empty_file")
        first, last = period_of(span[0], freq), period_of(span[1], freq)
        wanted = None
    else:
        labels = [periods] if isinstance(periods, str) else list(periods)
        parsed = [parse_period(p) for p in labels]
        if len({p.freq for p in parsed}) > 1:
            raise InputError("Các kỳ phải cùng loại (cùng là tháng, quý hoặc năm).",
                             "Periods of different kinds.", column="period", rule="period_format")
        first, last = min(parsed, key=lambda p: p.index), max(parsed, key=lambda p: p.index)
        wanted = {p.label for p in parsed}
    seq = [_period(first.freq, i) for i in range(first.index, last.index + 1)]
    return seq, wanted or {p.label for p in seq}


def _source_frame(source: Any, table: str, aliases: Aliases, check: bool) -> pl.LazyFrame:
    """The typed rows of a source; text cells are checked first unless ``check`` is false."""
    src = _open(source, table, aliases)
    schema = src.lf.collect_schema()
    has_text = any(schema[c] == pl.String for c in src.headers if aliases.columns(table)[c][0] != "string")
    return _typed(src, aliases, _check(src, aliases) if check and has_text else None)


def aggregate(
    dossiers: Any,
    periods: str | Sequence[str] | None = None,
    *,
    freq: str = "month",
    units: Any = None,
    petitions: Any = None,
    as_of: dt.date | None = None,
    engine: str = "streaming",
    check: bool = True,
    aliases: Aliases | None = None,
) -> pl.DataFrame:
    """Counts table (``chiso.counts.COUNTS_SCHEMA``) from dossiers, one row per
    period × unit × metric.

    ``dossiers``: an export path (CSV, XLSX, Parquet), a canonical Parquet written by
    ``ingest`` or ``chiso.synth_dossiers``, or a frame. ``periods``: a label
    ("2024-06", "2024-Q2", "2024"), a list of labels of one kind, or None for every
    period of ``freq`` between the first and last received date. ``units``: the unit
    list (path or frame with ``unit_code``, ``unit_name``, ``unit_group``): every
    listed unit gets rows, with 0 counts when it has no dossier (so the
    methodology's no-dossier policy applies); units found in the dossiers but not
    in the list are kept, named by their code. ``petitions``: a PAKN export for
    ``petition_*`` metrics (none without it). ``as_of``: export date; periods not
    over by then are marked ``provisional``. ``engine``: polars engine
    ("streaming" keeps memory flat at any size). ``check``: validate text cells
    first (reports the first unreadable cell).

    Metrics and their definitions: ``DOSSIER_METRICS``, ``PETITION_METRICS`` and
    docs/dossier-input.md. A metric whose columns the export lacks gets a row with
    ``available`` false and a note naming the columns.
    """
    aliases = aliases or load_aliases()
    lf = _source_frame(dossiers, "dossiers", aliases, check)
    cols = set(lf.collect_schema().names())
    seq, wanted = _resolve_periods(lf, periods, freq, engine)
    n = len(seq)
    unit_list = read_units(units, aliases=aliases) if units is not None else None
    with_names = unit_list is None and "unit_name" in cols

    due, sums = _dossier_inputs(cols, aliases)
    g = _grouped(lf, seq, sums, due=due, with_names=with_names, engine=engine)
    skipped = g.filter(pl.col("rp").is_null())["n"].sum() if g.height else 0
    if skipped:
        warnings.warn(f"{skipped} hồ sơ không có ngày tiếp nhận đọc được, không được tính.", stacklevel=2)
    g = g.filter(pl.col("rp").is_not_null())
    received = [c for c in ("online", "fee", "paid", "digitised") if c in sums]
    resolved = [c for c in ("early", "exact", "e_result", "rated", "satisfied", "online_late", "supp1", "supp2")
                if c in sums]
    wides = [_by_period(g, n, received, resolved, ["online"] if "online" in sums else [])]
    c = _zero_if_absent(wides[0])
    late = c("res_n") - c("res_early") - c("res_exact")
    metrics = _specs(DOSSIER_METRICS, cols, "Tệp hồ sơ", {
        "dossiers_received": (c("rec_n"), None),
        "dossiers_resolved": (c("res_n"), None),
        "resolved_early": (c("res_early"), None),
        "resolved_on_time": (c("res_exact"), None),
        "resolved_late": (late, None),
        "overdue_pending": (c("pend_n"), None),
        "on_time": (c("res_early") + c("res_exact"), c("res_n") + c("pend_n")),
        "online_submission": (c("rec_online"), c("rec_n")),
        "online_late": (c("res_online_late") + c("pend_online"), None),
        "online_payment": (c("rec_paid"), c("rec_fee")),
        "digitised": (c("rec_digitised"), c("rec_n")),
        "e_result": (c("res_e_result"), c("res_n")),
        "dossier_satisfaction": (c("res_satisfied"), c("res_rated")),
        "supplement_none": (c("res_n") - c("res_supp1"), None),
        "supplement_once": (c("res_supp1") - c("res_supp2"), None),
        "supplement_repeated": (c("res_supp2"), None),
    })
    names = g.select(pl.col("unit_code").cast(pl.String), *[x for x in ("unit_name", "unit_group") if x in g.columns]) \
        .unique("unit_code", keep="first") if with_names else None
    data_units = g.select(pl.col("unit_code").unique().cast(pl.String))

    if petitions is not None:
        plf = _source_frame(petitions, "petitions", aliases, check)
        pcols = set(plf.collect_schema().names())
        pdue, pflags = _dossier_inputs(pcols, aliases)     # the dossiers' timing and rating rules
        psums = {k: v for k, v in pflags.items() if k in ("early", "exact", "rated", "satisfied")}
        pg = _grouped(plf, seq, psums, due=pdue, with_names=False, engine=engine)
        pg = pg.filter(pl.col("rp").is_not_null())
        wides.append(_by_period(pg, n, [], list(psums), [], prefix="pakn_"))
        pc = _zero_if_absent(wides[1])
        metrics += _specs(PETITION_METRICS, pcols, "Tệp PAKN", {
            "petitions_received": (pc("pakn_rec_n"), None),
            "petition_on_time": (pc("pakn_res_early") + pc("pakn_res_exact"), pc("pakn_res_n") + pc("pakn_pend_n")),
            "petition_satisfaction": (pc("pakn_res_satisfied"), pc("pakn_res_rated")),
        })
        data_units = pl.concat([data_units, pg.select(pl.col("unit_code").unique().cast(pl.String))]).unique()

    return _assemble(wides, metrics, seq, wanted, unit_list, names, data_units, as_of)


def _zero_if_absent(wide: pl.DataFrame):
    def col(name: str) -> pl.Expr:
        return pl.col(name) if name in wide.columns else pl.lit(0, dtype=pl.UInt32)
    return col


@dataclass(frozen=True)
class _Metric:
    code: str
    numerator: pl.Expr | None       # None: not available
    denominator: pl.Expr | None     # None: a plain count, or not available
    note: str | None


def _specs(spec: dict[str, tuple[str, ...]], cols: set[str], what: str,
           exprs: dict[str, tuple[pl.Expr, pl.Expr | None]]) -> list[_Metric]:
    """The metrics' numerator and denominator expressions over the wide table.

    A metric whose columns the export lacks is not available (null counts, a note
    naming the columns); a plain count (no denominator in ``spec``) has a null
    denominator.
    """
    out = []
    for code, (num, den) in exprs.items():
        missing = [c for c in spec[code] if c not in cols]
        if missing:
            out.append(_Metric(code, None, None, f"{what} không có cột: {', '.join(missing)}."))
        else:
            out.append(_Metric(code, num, den, None))
    return out


def _assemble(wides: list[pl.DataFrame], metrics: list[_Metric], seq: list[Period], wanted: set[str],
              unit_list: pl.DataFrame | None, names: pl.DataFrame | None, data_units: pl.DataFrame,
              as_of: dt.date | None) -> pl.DataFrame:
    """Every unit × wanted period × metric, zeros where a unit had nothing; sorted by
    period, unit code and metric order (built row-major from the unit × period grid:
    no sort of the long table)."""
    note = pl.lit(None, dtype=pl.String).alias("_unit_note")
    if unit_list is not None:
        extra = data_units.join(unit_list, on="unit_code", how="anti").with_columns(
            pl.col("unit_code").alias("unit_name"), pl.lit(DEFAULT_UNIT_GROUP).alias("unit_group"),
            pl.lit("Đơn vị có hồ sơ nhưng không có trong danh sách đơn vị.").alias("_unit_note"))
        units = pl.concat([unit_list.with_columns(note), extra], how="diagonal_relaxed")
    else:
        units = data_units.join(names, on="unit_code", how="left") if names is not None else data_units
        for col in ("unit_name", "unit_group"):
            if col not in units.columns:
                units = units.with_columns(pl.lit(None, dtype=pl.String).alias(col))
        units = units.with_columns(pl.col("unit_name").fill_null(pl.col("unit_code")),
                                   pl.col("unit_group").fill_null(DEFAULT_UNIT_GROUP), note)
    units = units.select("unit_code", "unit_name", "unit_group", "_unit_note").sort("unit_code")
    per = pl.DataFrame({
        "p": list(range(1, len(seq) + 1)),
        "period": [p.label for p in seq],
        "provisional": [as_of is not None and p.end > as_of for p in seq],
    }, schema={"p": pl.Int32, "period": pl.String, "provisional": pl.Boolean}).filter(pl.col("period").is_in(wanted))
    grid = per.join(units, how="cross")
    for wide in wides:
        grid = grid.join(wide, on=["unit_code", "p"], how="left", maintain_order="left")
    grid = grid.with_columns(pl.exclude("p", "period", "provisional", "unit_code", "unit_name", "unit_group",
                                        "_unit_note").fill_null(0))
    # wide (unit-period rows × metric columns) → long, row-major: a reshape, no sort
    none = pl.lit(None, dtype=pl.Float64)
    n_rows, n_metrics = grid.height, len(metrics)

    def flat(exprs: list[pl.Expr]) -> pl.Series:
        values = grid.select(e.cast(pl.Float64).alias(str(i)) for i, e in enumerate(exprs)).to_numpy()
        return pl.Series(values.reshape(-1), nan_to_null=True)

    spec = pl.DataFrame({
        "indicator": [m.code for m in metrics],
        "available": [m.numerator is not None for m in metrics],
        "_metric_note": [m.note for m in metrics],
    }, schema={"indicator": pl.String, "available": pl.Boolean, "_metric_note": pl.String})
    # A note column is repeated only when some row has a note: a repeated String column
    # costs 16 bytes a row even when it is all null (about 10 MB at national scale). A
    # metric's note (why its counts are missing) comes before the unit's.
    notes = [c for c, table in (("_metric_note", spec), ("_unit_note", grid)) if table[c].null_count() < table.height]
    index = np.uint32 if pl.get_index_type() == pl.UInt32 else np.uint64     # gather's own index type
    rows = pl.Series(np.repeat(np.arange(n_rows, dtype=index), n_metrics))
    cycle = pl.Series(np.tile(np.arange(n_metrics, dtype=index), n_rows))
    unit_part = grid.select("period", "unit_code", "unit_name", "unit_group", "provisional",
                            *(c for c in notes if c in grid.columns))
    metric_part = spec.select("indicator", "available", *(c for c in notes if c in spec.columns))
    out = pl.concat([unit_part[rows], metric_part[cycle]], how="horizontal").with_columns(
        flat([none if m.numerator is None else m.numerator for m in metrics]).alias("numerator"),
        flat([none if m.denominator is None else m.denominator for m in metrics]).alias("denominator"),
        none.alias("source_score"), none.alias("source_max"),
        (pl.coalesce(notes) if notes else pl.lit(None, dtype=pl.String)).alias("note"),
    )
    return out.select(pl.col(c).cast(t) for c, t in COUNTS_SCHEMA.items())


# ---------------------------------------------------------------------------
# Command line: python -m chiso.dossiers
# ---------------------------------------------------------------------------
def _write(df: pl.DataFrame, out: Path) -> None:
    from .io import atomic_write_text, write_parquet

    if out.suffix.lower() == ".csv":
        atomic_write_text(out, df.write_csv())
    else:
        write_parquet(df, out)


def main(argv: list[str] | None = None) -> int:
    from .cliparse import ArgumentParser

    p = ArgumentParser(prog="python -m chiso.dossiers",
                       description="Đọc tệp hồ sơ (một dòng một hồ sơ) và tổng hợp thành bảng số liệu chỉ số.")
    sub = p.add_subparsers(dest="cmd", required=True)
    pi = sub.add_parser("ingest", help="kiểm tra tệp xuất (CSV, XLSX, Parquet) và ghi thành Parquet chuẩn")
    pi.add_argument("file", help="tệp hồ sơ xuất từ hệ thống một cửa")
    pi.add_argument("--out", required=True, help="tệp Parquet chuẩn cần ghi")
    pi.add_argument("--petitions", action="store_true", help="tệp là danh sách PAKN, không phải hồ sơ")
    pc = sub.add_parser("counts", help="tổng hợp hồ sơ thành bảng số liệu (tử số, mẫu số) theo kỳ và đơn vị")
    pc.add_argument("file", help="tệp hồ sơ (CSV, XLSX, Parquet)")
    pc.add_argument("--period", action="append", help="kỳ: 2024-06 (tháng), 2024-Q2 (quý), 2024 (năm); lặp lại được")
    pc.add_argument("--freq", default="month", choices=FREQS, help="loại kỳ khi không nêu --period (mặc định: month)")
    pc.add_argument("--units", help="danh sách đơn vị (Mã đơn vị, Tên đơn vị, Nhóm đơn vị)")
    pc.add_argument("--petitions", help="tệp PAKN (tùy chọn)")
    pc.add_argument("--as-of", help="ngày xuất dữ liệu (dd/mm/yyyy hoặc yyyy-mm-dd): kỳ chưa kết thúc được đánh dấu số liệu tạm")
    pc.add_argument("--out", required=True, help="tệp kết quả (.parquet hoặc .csv)")
    return p.run_command(argv, _command)


def _command(args) -> int:
    if args.cmd == "ingest":
        out = ingest(args.file, args.out, table="petitions" if args.petitions else "dossiers")
        print(f"Đã ghi {out}.")
        return 0
    as_of = None
    if args.as_of:
        as_of = pl.select(_parse_date(pl.lit(args.as_of))).item()
        if as_of is None:
            raise InputError(f"Ngày '{args.as_of}' không hợp lệ.", "Invalid date.", column="--as-of", rule="date_format")
    df = aggregate(args.file, args.period, freq=args.freq, units=args.units, petitions=args.petitions, as_of=as_of)
    _write(df, Path(args.out))
    print(f"Đã ghi {args.out}: {fmt_count(df.height)} dòng ({df['period'].n_unique()} kỳ, "
          f"{fmt_count(df['unit_code'].n_unique())} đơn vị).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
