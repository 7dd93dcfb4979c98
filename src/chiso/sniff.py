"""Sniffing and repairing raw input files before they are parsed.

Exports from government systems arrive with legacy encodings, byte-order marks,
decomposed (NFD) Vietnamese, semicolons instead of commas, title rows and merged
two-row headers from Excel, trailing empty rows and columns, formulas instead of
values. This module turns such a file into a clean table of strings, or refuses
it with an ``InputError`` (Vietnamese and English, naming file, row, column and
rule). Every repair it accepts is recorded as a :class:`Repair` so that it is
shown to the analyst (``validation.json`` and ``validation.html``, section "Dữ liệu
đã được tự động sửa"); nothing is repaired silently.

* :func:`decode` bytes → text: UTF-8 (with or without BOM), UTF-16, Windows-1258,
  Latin-1 and the two legacy Vietnamese font encodings TCVN3 (ABC) and VNI, also
  when such text was already mis-read once and saved again as UTF-8 ("Ph\u00adêng"
  for "Phường"). The legacy encodings are converted with the mapping tables
  below (data, not code); the encoding that gives the most valid Vietnamese
  syllables wins, and the choice is reported with an example.
* :func:`detect_delimiter`, :func:`parse_csv`, :func:`read_xlsx_rows`: rows of strings.
* :func:`find_header`: the header row among title rows, and two-row headers where
  the upper row holds group labels (merged cells) and the lower one the names.
* :func:`read_table`: all of the above for a CSV or XLSX file.
* :func:`normalize_period`: "6/2024", "T6/2024", "tháng 6 năm 2024" → "2024-06".

Repairs are collected by :func:`collect_repairs` (a context manager): readers call
:func:`record`, callers that show repairs wrap the read in ``collect_repairs()``.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import io
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from .errors import InputError
from .numbers import NUMBER_PROBLEMS, NUMBER_REPAIRS, fmt_count, number_exprs

MAX_CELL_CHARS = 10_000          # a longer cell is refused (pasted documents, broken quoting)
HEADER_SCAN_ROWS = 30            # the header row is looked for in the first rows only
EXAMPLES = 5                     # rows listed per repair

# ---------------------------------------------------------------------------
# Repairs
# ---------------------------------------------------------------------------
REPAIR_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String, "kind": pl.String, "column": pl.String, "rows": pl.List(pl.Int64), "n": pl.Int64,
    "before": pl.String, "after": pl.String, "message_vi": pl.String, "message_en": pl.String,
}


def cell_too_long(length: int, *, file: str | None, row: int | None, column: str) -> InputError:
    """The error every reader gives for a cell longer than ``MAX_CELL_CHARS``."""
    return InputError(f"Ô quá dài ({fmt_count(length)} ký tự, tối đa {fmt_count(MAX_CELL_CHARS)}): thường do dán "
                      "nhầm văn bản hoặc dấu ngoặc kép không đóng.",
                      f"Cell too long ({length} characters, at most {MAX_CELL_CHARS}).",
                      file=file, row=row, column=column, rule="cell_too_long")


@dataclass(frozen=True)
class Repair:
    """One kind of automatic repair applied to one column (or the whole file)."""

    file: str
    kind: str                       # code, e.g. "bom", "legacy_encoding", "percent" (see README table)
    message_vi: str
    message_en: str
    column: str | None = None
    rows: tuple[int, ...] = ()      # first rows (as a spreadsheet numbers them) where it was applied
    n: int = 1                      # how many cells / rows / lines
    before: str = ""                # an example, as found
    after: str = ""                 # the same example, as used

    def as_dict(self) -> dict:
        return {"file": self.file, "kind": self.kind, "column": self.column, "rows": list(self.rows), "n": self.n,
                "before": self.before, "after": self.after, "message_vi": self.message_vi,
                "message_en": self.message_en}


def repairs_frame(repairs: Iterable[Repair | dict]) -> pl.DataFrame:
    rows = [r.as_dict() if isinstance(r, Repair) else dict(r) for r in repairs]
    return pl.DataFrame(rows, schema=REPAIR_SCHEMA) if rows else pl.DataFrame(schema=REPAIR_SCHEMA)


_ACTIVE: contextvars.ContextVar[list[Repair] | None] = contextvars.ContextVar("chiso_repairs", default=None)


@contextlib.contextmanager
def collect_repairs() -> Iterator[list[Repair]]:
    """Collect every repair recorded by the readers called inside the block."""
    bucket: list[Repair] = []
    token = _ACTIVE.set(bucket)
    try:
        yield bucket
    finally:
        _ACTIVE.reset(token)
        parent = _ACTIVE.get()
        if parent is not None:  # nested collectors: the outer one sees everything too
            parent.extend(bucket)


def record(repair: Repair) -> Repair:
    bucket = _ACTIVE.get()
    if bucket is not None:
        bucket.append(repair)
    return repair


def short(text: Any, n: int = 60) -> str:
    """A cell or line cut to ``n`` characters for a message ("…" at the cut, "⏎" for line breaks)."""
    text = ("" if text is None else str(text)).replace("\r", "").replace("\n", "⏎")
    return text if len(text) <= n else text[: n - 1] + "…"


# ---------------------------------------------------------------------------
# Numbers written as text (every reader of transcribed or exported tables)
# ---------------------------------------------------------------------------
def vi_number(x: float) -> str:
    """A value as the analyst reads it in a repair: 82.96 → "82,96", 1234.0 → "1234"."""
    return f"{x:.10g}".replace(".", ",")


NUMBER_HELPERS = ("raw", "repair", "problem", "sep")   # what ``parse_numbers`` adds beside a column


def parse_numbers(df: pl.DataFrame, columns: Iterable[str], counts: Collection[str] = ()) -> pl.DataFrame:
    """Text columns of numbers → Float64 values (``chiso.numbers.number_exprs``), with,
    beside each column ``c`` (``NUMBER_HELPERS``): ``c__raw`` (the cell as written),
    ``c__repair``, ``c__problem`` and ``c__sep``. ``counts``: the columns that hold
    counts (there "1.234" has a thousands dot)."""
    exprs = []
    for c in columns:
        value, repair, problem, sep = number_exprs(c, counts=c in counts)
        exprs += [value.alias(c), *(e.alias(f"{c}__{k}") for e, k in
                                    zip((pl.col(c), repair, problem, sep), NUMBER_HELPERS, strict=True))]
    return df.with_columns(exprs)


def drop_number_helpers(df: pl.DataFrame, columns: Iterable[str]) -> pl.DataFrame:
    """``df`` without the helper columns ``parse_numbers`` added beside ``columns``."""
    return df.drop(f"{c}__{k}" for c in columns for k in NUMBER_HELPERS)


def raise_number_problem(df: pl.DataFrame, columns: Iterable[str], file: str, *, row: str = "row",
                         where: Callable[[str], str] = lambda c: "") -> None:
    """Refuse the first cell of ``columns`` (in file order) that ``parse_numbers`` could
    not read, naming its row, column and why. ``where``: more location text for a column."""
    cols = list(columns)
    bad = pl.concat([df.filter(pl.col(f"{c}__problem").is_not_null()).select(
        pl.col(row).cast(pl.Int64).alias("row"), pl.lit(i).alias("i"), pl.lit(c).alias("column"),
        pl.col(f"{c}__raw").cast(pl.String).alias("raw"), pl.col(f"{c}__problem").alias("problem"))
        for i, c in enumerate(cols)]) if cols else pl.DataFrame()
    if bad.height:
        r = bad.sort("row", "i").row(0, named=True)
        vi, en = NUMBER_PROBLEMS[r["problem"]]
        raw = short(r["raw"])
        raise InputError(f"Giá trị '{raw}' {vi}{where(r['column'])}.", f"'{raw}' {en}.", file=file, row=r["row"],
                         column=r["column"], rule="number_format" if r["problem"] == "not_number" else r["problem"])


def record_number_repairs(df: pl.DataFrame, columns: Iterable[str], file: str, *, row: str = "row",
                          header: dict[str, str] | None = None) -> None:
    """One repair record per column and kind of number repair made by ``parse_numbers``:
    the first rows, how many, the first cell as written and as read. ``header``: the
    file's name of a column (default: its own)."""
    header = header or {}
    for c in columns:
        done = df.filter(pl.col(f"{c}__repair").is_not_null())
        for code in sorted(set(done[f"{c}__repair"].to_list())):
            hit = done.filter(pl.col(f"{c}__repair") == code)
            vi, en = NUMBER_REPAIRS[code]
            after = hit[c][0]
            record(Repair(file, code, vi, en, column=header.get(c, c), rows=tuple(hit[row].head(EXAMPLES).to_list()),
                          n=hit.height, before=str(hit[f"{c}__raw"][0]),
                          after="" if after is None else vi_number(after)))


# ---------------------------------------------------------------------------
# Vietnamese text: which decoding reads best
# ---------------------------------------------------------------------------
_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
_VI_LOWER = ("àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ")
VI_LETTERS = frozenset(_VI_LOWER + _VI_LOWER.upper())
_SYLLABLE = re.compile(
    r"^(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnpqrstvx])?"
    r"(?P<n>uyê|uya|uyu|iêu|yêu|oai|oay|oao|oeo|uây|uôi|ươi|ươu|ia|iê|ya|yê|ua|uô|ưa|ươ|oa|oă|oe|uâ|uê|uy"
    r"|ai|ao|au|ay|âu|ây|eo|êu|iu|oi|ôi|ơi|ui|ưi|ưu|[aăâeêioôơuưy])"
    r"(?P<c>ch|ng|nh|[cmnpt])?$")
# nuclei that never end a syllable: "tiê", "ngă" are not words ("tiên", "ngăn" are)
_NEEDS_CODA = {"ă", "â", "oă", "uâ", "iê", "yê", "uô", "ươ", "uyê"}
# nuclei ending in a glide take no final consonant: "tơic" is not a word
_NO_CODA = {"ai", "ao", "au", "ay", "âu", "ây", "eo", "êu", "iu", "oi", "ôi", "ơi", "ui", "ưi", "ưu", "iêu", "yêu",
            "oai", "oay", "oao", "oeo", "uây", "uôi", "ươi", "ươu", "uyu", "ia", "ua", "ưa", "uya", "ya"}
# "nh", "ch" follow a front vowel ("anh", "ếch", "inh", "huỳnh"); "ng", "c" never follow i, y ("ing" is not a word)
_PALATAL_OK = {"a", "ê", "i", "y", "uy", "oa", "uê"}
_WORD = re.compile(r"[^\W\d_]+")
_HARMLESS = set("–—“”‘’…•°№€×÷")  # punctuation that also occurs in real text


def _syllable_ok(word: str) -> bool:
    decomposed = unicodedata.normalize("NFD", word.lower())
    tones = sum(ch in _TONES for ch in decomposed)
    base = unicodedata.normalize("NFC", "".join(ch for ch in decomposed if ch not in _TONES))
    m = _SYLLABLE.match(base)
    if tones > 1 or m is None:
        return False
    nucleus, coda = m.group("n"), m.group("c")
    if coda is None:
        return nucleus not in _NEEDS_CODA
    if nucleus in _NO_CODA:
        return False
    if coda in ("nh", "ch"):
        return nucleus in _PALATAL_OK
    if coda in ("ng", "c"):
        return nucleus not in ("i", "y", "uy")
    return True


def vietnamese_score(text: str) -> int:
    """+2 per valid Vietnamese syllable with diacritics, −2 per word with non-ASCII
    letters that is not one, −1 per stray symbol or combining mark. Higher is better."""
    text = unicodedata.normalize("NFC", text)
    score = 0
    for word in _WORD.findall(text):
        if word.isascii():
            continue
        score += 2 if _syllable_ok(word) else -2
    for ch in text:
        if ch.isascii() or ch.isalpha() or ch.isspace():
            continue
        if ch == "\ufffd":  # a byte the encoding does not use: strong sign of a wrong guess
            score -= 4
        elif unicodedata.combining(ch):
            score -= 2
        elif ch not in _HARMLESS:
            score -= 1
    return score


# ---------------------------------------------------------------------------
# Legacy Vietnamese encodings (data)
# ---------------------------------------------------------------------------
# TCVN3 (TCVN 5712:1993 VN3, the ".Vn" fonts, "ABC"): one byte per letter. Upper-case
# letters with tone marks do not exist in this encoding (a separate upper-case font
# prints the lower-case codes), so they are read as lower case.
TCVN3_TABLE: dict[int, str] = {
    0xB8: "á", 0xB5: "à", 0xB6: "ả", 0xB7: "ã", 0xB9: "ạ",
    0xA8: "ă", 0xBE: "ắ", 0xBB: "ằ", 0xBC: "ẳ", 0xBD: "ẵ", 0xC6: "ặ",
    0xA9: "â", 0xCA: "ấ", 0xC7: "ầ", 0xC8: "ẩ", 0xC9: "ẫ", 0xCB: "ậ",
    0xD0: "é", 0xCC: "è", 0xCE: "ẻ", 0xCF: "ẽ", 0xD1: "ẹ",
    0xAA: "ê", 0xD5: "ế", 0xD2: "ề", 0xD3: "ể", 0xD4: "ễ", 0xD6: "ệ",
    0xDD: "í", 0xD7: "ì", 0xD8: "ỉ", 0xDC: "ĩ", 0xDE: "ị",
    0xE3: "ó", 0xDF: "ò", 0xE1: "ỏ", 0xE2: "õ", 0xE4: "ọ",
    0xAB: "ô", 0xE8: "ố", 0xE5: "ồ", 0xE6: "ổ", 0xE7: "ỗ", 0xE9: "ộ",
    0xAC: "ơ", 0xED: "ớ", 0xEA: "ờ", 0xEB: "ở", 0xEC: "ỡ", 0xEE: "ợ",
    0xF3: "ú", 0xEF: "ù", 0xF1: "ủ", 0xF2: "ũ", 0xF4: "ụ",
    0xAD: "ư", 0xF8: "ứ", 0xF5: "ừ", 0xF6: "ử", 0xF7: "ữ", 0xF9: "ự",
    0xFD: "ý", 0xFA: "ỳ", 0xFB: "ỷ", 0xFC: "ỹ", 0xFE: "ỵ",
    0xAE: "đ",
    0xA1: "Ă", 0xA2: "Â", 0xA7: "Đ", 0xA3: "Ê", 0xA4: "Ô", 0xA5: "Ơ", 0xA6: "Ư",
}
# VNI (VNI-Windows fonts): a base letter followed by one byte for its marks; a few
# letters are single bytes. Bytes are shown as their Latin-1 characters.
VNI_MARKS: dict[str, str] = {
    # tone only
    "ù": "\u0301", "ø": "\u0300", "û": "\u0309", "õ": "\u0303", "ï": "\u0323",
    # circumflex (â ê ô) and circumflex + tone
    "â": "\u0302", "á": "\u0302\u0301", "à": "\u0302\u0300", "å": "\u0302\u0309", "ã": "\u0302\u0303",
    "ä": "\u0302\u0323",
    # breve (ă) and breve + tone
    "ê": "\u0306", "é": "\u0306\u0301", "è": "\u0306\u0300", "ú": "\u0306\u0309", "ü": "\u0306\u0303",
    "ë": "\u0306\u0323",
}
VNI_LETTERS: dict[str, str] = {
    "ô": "ơ", "ö": "ư", "ñ": "đ", "Ñ": "Đ", "Ô": "Ơ", "Ö": "Ư",
    "í": "í", "ì": "ì", "æ": "ỉ", "ó": "ĩ", "ò": "ị", "î": "ỵ",
    "Í": "Í", "Ì": "Ì", "Æ": "Ỉ", "Ó": "Ĩ", "Ò": "Ị", "Î": "Ỵ",
}
_VNI_MARKS_ALL = {**VNI_MARKS, **{k.upper(): v for k, v in VNI_MARKS.items()}}
_VNI_BASES = set("aeiouyAEIOUYơưƠƯ")
_TCVN3_INVERSE = {ch: bytes([b]) for b, ch in TCVN3_TABLE.items()}
LEGACY_NAMES = {"tcvn3": "TCVN3 (ABC, phông .Vn)", "vni": "VNI (phông VNI-Windows)",
                "cp1258": "Windows-1258", "latin-1": "Latin-1 (ISO 8859-1)", "cp1252": "Windows-1252"}


def decode_tcvn3(data: bytes) -> str:
    """TCVN3 bytes as text; a byte ≥ 0x80 that TCVN3 does not use becomes U+FFFD."""
    return "".join(TCVN3_TABLE.get(b) or (chr(b) if b < 0x80 else "\ufffd") for b in data)


def decode_vni(data: bytes) -> str:
    out: list[str] = []
    for ch in data.decode("latin-1"):
        marks = _VNI_MARKS_ALL.get(ch)
        if marks is not None:
            # a mark byte only follows a vowel in VNI; elsewhere the text is not VNI
            if out and out[-1] in _VNI_BASES:
                out[-1] = unicodedata.normalize("NFC", out[-1] + marks)
            else:
                out.append("\ufffd")
            continue
        out.append(VNI_LETTERS.get(ch, ch))
    return unicodedata.normalize("NFC", "".join(out))


_VNI_TONE_OF = {"\u0301": "ù", "\u0300": "ø", "\u0309": "û", "\u0303": "õ", "\u0323": "ï"}
_VNI_INVERSE_MARKS = {v: k for k, v in VNI_MARKS.items()}
_VNI_INVERSE_LETTERS = {v: k for k, v in VNI_LETTERS.items()}


def encode_legacy(text: str, encoding: str) -> bytes:
    """Text in TCVN3 or VNI (used to build test files; letters the encoding cannot hold raise ValueError)."""
    text = unicodedata.normalize("NFC", text)
    if encoding == "tcvn3":
        out = bytearray()
        for ch in text:
            if ch.isascii():
                out += ch.encode("ascii")
            elif ch in _TCVN3_INVERSE:
                out += _TCVN3_INVERSE[ch]
            elif ch.lower() in _TCVN3_INVERSE:
                out += _TCVN3_INVERSE[ch.lower()]
            else:
                raise ValueError(f"TCVN3 cannot encode {ch!r}")
        return bytes(out)
    if encoding == "vni":
        parts: list[str] = []
        for ch in text:
            if ch.isascii():
                parts.append(ch)
                continue
            if ch in _VNI_INVERSE_LETTERS:
                parts.append(_VNI_INVERSE_LETTERS[ch])
                continue
            nfd = unicodedata.normalize("NFD", ch)
            base, marks = nfd[0], nfd[1:]
            upper = base.isupper()
            horn = "\u031b" in marks
            marks = marks.replace("\u031b", "")
            tone = "".join(m for m in marks if m in _VNI_TONE_OF)
            shape = "".join(m for m in marks if m not in _VNI_TONE_OF)
            if horn:
                letter = {"o": "ô", "u": "ö", "O": "Ô", "U": "Ö"}[base]
                parts.append(letter + ((_VNI_TONE_OF[tone].upper() if upper else _VNI_TONE_OF[tone]) if tone else ""))
                continue
            if base.lower() == "i" or (base.lower() == "y" and tone == "\u0323"):
                parts.append(_VNI_INVERSE_LETTERS[unicodedata.normalize("NFC", base + tone)])
                continue
            mark = _VNI_INVERSE_MARKS.get(shape + tone)
            if mark is None or not base.isascii():
                raise ValueError(f"VNI cannot encode {ch!r}")
            parts.append(base + (mark.upper() if upper else mark))
        return "".join(parts).encode("latin-1")
    raise ValueError(encoding)


# ---------------------------------------------------------------------------
# Bytes → text
# ---------------------------------------------------------------------------
UTF8_BOM = b"\xef\xbb\xbf"


def _empty(file: str, zero: bool) -> InputError:
    if zero:
        return InputError("Tệp rỗng (0 byte): tệp chưa được lưu hoặc tải về không hết, hãy xuất lại từ hệ thống.",
                          "The file is empty (0 bytes).", file=file, rule="empty_file")
    return InputError("Tệp không có dữ liệu (chỉ có khoảng trắng hoặc dòng trống).",
                      "The file holds no data.", file=file, rule="empty_file")


SCORE_SAMPLE_BYTES = 200_000  # the encoding is chosen on the start of the file


def _candidates(data: bytes, only: str | None = None) -> dict[str, str]:
    """The file decoded by each candidate encoding (or by ``only``), NFC."""
    decoders = {
        "cp1258": lambda d: d.decode("cp1258"),
        "tcvn3": decode_tcvn3,
        "vni": decode_vni,
        "latin-1": lambda d: d.decode("latin-1"),
    }
    out = {}
    for name, fn in decoders.items():
        if only and name != only:
            continue
        try:
            out[name] = unicodedata.normalize("NFC", fn(data))
        except UnicodeDecodeError:
            if only:  # the sample decoded, the rest of the file does not: read it as Latin-1 bytes there
                out[name] = unicodedata.normalize("NFC", data.decode(name, errors="replace"))
    return out


def _example(before: str, after: str) -> tuple[str, str]:
    """The first line that differs, as found and as read."""
    for a, b in zip(before.splitlines(), after.splitlines(), strict=False):
        if a != b:
            for wa, wb in zip(a.split(), b.split(), strict=False):
                if wa != wb:
                    return short(wa, 40), short(wb, 40)
            return short(a), short(b)
    return "", ""


def decode(data: bytes, file: str) -> tuple[str, list[Repair]]:
    """Text of a CSV/JSON/YAML file and the repairs needed to read it (see module doc)."""
    if not data:
        raise _empty(file, zero=True)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError("Tệp Excel 97-2003 (.xls) chưa được hỗ trợ: mở tệp trong Excel và lưu thành .xlsx "
                         "(Excel Workbook) hoặc CSV UTF-8.",
                         "Legacy .xls workbooks are not supported: save as .xlsx or UTF-8 CSV.",
                         file=file, rule="xls_format")
    repairs: list[Repair] = []
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
        repairs.append(Repair(file, "bom", "Bỏ dấu BOM (EF BB BF) ở đầu tệp UTF-8.",
                              "UTF-8 byte-order mark removed.", before="EF BB BF", after=""))
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError("Tệp UTF-16 bị hỏng (không đọc được).", "Broken UTF-16 file.",
                             file=file, rule="encoding") from exc
        repairs.append(Repair(file, "encoding", "Tệp mã UTF-16 (Unicode của Excel) đã được đọc và chuyển sang UTF-8.",
                              "UTF-16 file decoded.", before="UTF-16", after="UTF-8"))
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            sample = _candidates(data[:SCORE_SAMPLE_BYTES])
            scores = {k: vietnamese_score(v) for k, v in sample.items()}
            best = max(sample, key=lambda k: scores[k])  # dict order breaks ties: cp1258 first
            text = sample[best] if len(data) <= SCORE_SAMPLE_BYTES else _candidates(data, only=best)[best]
            before, after = _example(data.decode("latin-1"), text)
            legacy = best in ("tcvn3", "vni")
            repairs.append(Repair(
                file, "legacy_encoding" if legacy else "encoding",
                f"Tệp không phải UTF-8; đã đọc theo bảng mã {LEGACY_NAMES[best]}"
                + (" và chuyển sang Unicode theo bảng chuyển đổi của chiso" if legacy else "")
                + ". Kiểm tra lại tên đơn vị; nên lưu tệp dạng \"CSV UTF-8\".",
                f"Not UTF-8: decoded as {best}.", before=before, after=after))
        else:
            text = _fix_mojibake(text, file, repairs)
    if "\x00" in text:
        raise InputError("Tệp chứa ký tự NUL: đây là tệp nhị phân hoặc bị hỏng, không phải CSV/JSON văn bản.",
                         "Binary content (NUL characters).", file=file, rule="binary_content")
    nfc = unicodedata.normalize("NFC", text)
    if nfc != text:
        before, after = _example(text, nfc)
        n = sum(1 for a, b in zip(text.split(), nfc.split(), strict=False) if a != b)
        repairs.append(Repair(file, "nfc", "Chữ tiếng Việt dạng tổ hợp (NFD, dấu tách rời) đã được chuẩn hóa sang "
                                           "dạng dựng sẵn (NFC) để so khớp tên đơn vị.",
                              "Decomposed (NFD) Vietnamese normalised to NFC.", n=max(n, 1),
                              before=before.encode("unicode_escape").decode("ascii")[:60], after=after))
        text = nfc
    if not text.strip():
        raise _empty(file, zero=False)
    for r in repairs:
        record(r)
    return text, repairs


def _fix_mojibake(text: str, file: str, repairs: list[Repair]) -> str:
    """UTF-8 text that is TCVN3/VNI/Windows-1258 bytes read once as Latin-1 or Windows-1252."""
    if text.isascii():
        return text
    for codec in ("latin-1", "cp1252"):
        try:
            raw = text.encode(codec)
            break
        except UnicodeEncodeError:
            continue
    else:
        return text
    current = vietnamese_score(text[:SCORE_SAMPLE_BYTES])
    cands = {k: v for k, v in _candidates(raw[:SCORE_SAMPLE_BYTES]).items() if k != "latin-1"}
    best = max(cands, key=lambda k: vietnamese_score(cands[k]))
    if vietnamese_score(cands[best]) <= current + 2:
        return text
    if len(raw) > SCORE_SAMPLE_BYTES:
        cands = _candidates(raw, only=best)
    before, after = _example(text, cands[best])
    repairs.append(Repair(
        file, "legacy_encoding",
        f"Văn bản mã {LEGACY_NAMES[best]} đã bị đọc nhầm thành ký tự Latin rồi lưu lại dạng UTF-8; "
        "đã chuyển lại sang Unicode. Kiểm tra lại tên đơn vị.",
        f"{best} text previously mis-read as {codec} and saved as UTF-8: converted back.",
        before=before, after=after))
    return cands[best]


def read_text(path: str | Path) -> tuple[str, list[Repair]]:
    path = Path(path)
    return decode(path.read_bytes(), str(path))


# ---------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "dấu phẩy", ";": "dấu chấm phẩy", "\t": "dấu tab", "|": "dấu gạch đứng"}


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most, most regular columns."""
    lines = [ln for ln in text.splitlines()[:60] if ln.strip()][:40]
    if not lines:
        return ","
    best, best_score = ",", -1.0
    for d in DELIMITERS:
        try:
            widths = [len(r) for r in csv.reader(lines, delimiter=d)]
        except csv.Error:
            continue
        common = max(set(widths), key=widths.count)
        if common < 2:
            continue
        score = common * widths.count(common) / len(widths)
        if score > best_score + 1e-9:
            best, best_score = d, score
    return best


@dataclass
class Rows:
    """Records of a file: cells as strings, and the row number each starts on."""

    cells: list[list[str]]
    numbers: list[int]          # 1-based row number as a spreadsheet shows it
    complete: bool = True       # the file ends with a line break (not cut off)


def parse_csv(text: str, delimiter: str, file: str) -> Rows:
    csv.field_size_limit(1 << 28)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    cells, numbers = [], []
    try:
        for i, rec in enumerate(reader, start=1):
            cells.append(rec)
            numbers.append(i)
    except csv.Error as exc:
        raise InputError(f"Tệp CSV sai định dạng gần dòng {reader.line_num}: {exc} (thường do dấu ngoặc kép "
                         "không đóng hoặc tệp bị cắt cụt).",
                         f"Malformed CSV near line {reader.line_num}: {exc}.",
                         file=file, row=len(cells) + 1, rule="csv_format") from exc
    return Rows(cells, numbers, complete=text.endswith(("\n", "\r")))


# ---------------------------------------------------------------------------
# XLSX
# ---------------------------------------------------------------------------
def _xlsx_cell_text(value, number_format: str | None) -> str:
    import datetime as dt

    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.datetime, dt.date)):
        return value.date().isoformat() if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, (int, float)):
        percent = bool(number_format) and "%" in number_format
        x = float(value) * (100 if percent else 1)
        if x.is_integer() and abs(x) < 1e15:
            text = str(int(x))
        else:
            # a decimal comma, so that 1.234 (a float) is never read as 1234 (a thousands dot)
            text = format(x, ".12g").replace(".", ",")
        return text + ("%" if percent else "")
    return str(value)


def read_xlsx_rows(path: Path, file: str) -> Rows:
    """The first sheet's rows as strings; formulas without a stored value are refused."""
    import openpyxl
    from openpyxl.utils import get_column_letter

    def corrupt(exc: BaseException) -> InputError:
        return InputError("Tệp Excel hỏng hoặc không đầy đủ (tải về bị cắt, hoặc không phải tệp .xlsx): "
                          f"{type(exc).__name__}. Mở lại trong Excel và lưu lại, hoặc xuất lại từ hệ thống.",
                          f"Corrupt or truncated XLSX file ({type(exc).__name__}: {exc}).",
                          file=file, rule="xlsx_corrupt")

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on broken files
        raise corrupt(exc) from exc
    try:
        if not wb.worksheets:
            raise InputError("Tệp Excel không có trang tính nào.", "Workbook without worksheets.",
                             file=file, rule="empty_file")
        ws = wb.worksheets[0]
        cells: list[list[str]] = []
        raw_none: set[tuple[int, int]] = set()
        for r, row in enumerate(ws.iter_rows(), start=1):
            out = []
            for c, cell in enumerate(row, start=1):
                value = getattr(cell, "value", None)
                if value is None:
                    raw_none.add((r, c))
                out.append(_xlsx_cell_text(value, getattr(cell, "number_format", None)))
            cells.append(out)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise corrupt(exc) from exc
    finally:
        wb.close()
    # formulas: openpyxl gives None for a formula whose value Excel did not store
    uncached, cached = [], []
    try:
        wbf = openpyxl.load_workbook(path, read_only=True, data_only=False)
        try:
            for r, row in enumerate(wbf.worksheets[0].iter_rows(), start=1):
                for c, cell in enumerate(row, start=1):
                    v = getattr(cell, "value", None)
                    if getattr(cell, "data_type", None) == "f":
                        (uncached if (r, c) in raw_none else cached).append((r, c, str(v)))
        finally:
            wbf.close()
    except Exception as exc:  # noqa: BLE001
        raise corrupt(exc) from exc
    if uncached:
        where = ", ".join(f"{get_column_letter(c)}{r}" for r, c, _ in uncached[:10])
        more = f" và {len(uncached) - 10} ô khác" if len(uncached) > 10 else ""
        r0, c0, f0 = uncached[0]
        raise InputError(
            f"Ô chứa công thức chưa có giá trị tính sẵn: {where}{more} (ví dụ {f0}). Mở tệp trong Excel, để Excel "
            "tính lại rồi lưu, hoặc sao chép và dán dạng giá trị (Paste Values).",
            f"Formulas without a cached value in {where}{more}: open in Excel and save, or paste as values.",
            file=file, row=r0, column=get_column_letter(c0), rule="formula_without_value")
    if cached:
        r0, c0, f0 = cached[0]
        record(Repair(file, "formula_value",
                      f"{len(cached)} ô chứa công thức: dùng giá trị Excel đã tính và lưu trong tệp.",
                      f"{len(cached)} formula cells: the values Excel stored are used.",
                      column=get_column_letter(c0), rows=tuple(sorted({r for r, _, _ in cached}))[:EXAMPLES],
                      n=len(cached), before=short(f0, 40), after=cells[r0 - 1][c0 - 1]))
    return Rows(cells, list(range(1, len(cells) + 1)))


# ---------------------------------------------------------------------------
# Header rows
# ---------------------------------------------------------------------------
def norm_header(text: str) -> str:
    """Compare form of a header: NFC, lower case, single spaces."""
    return " ".join(unicodedata.normalize("NFC", str(text)).replace("\u00a0", " ").strip().lower().split())


@dataclass
class Header:
    index: int            # index (in Rows) of the first header row
    n_rows: int           # 1, or 2 for a merged two-row header
    names: list[str]
    score: int


def find_header(cells: list[list[str]], known: Collection[str]) -> Header | None:
    """The header among the first rows: the row with the most known column names,
    merged with the row above or below it when that row completes it (two-row Excel
    headers: group labels above, names below)."""

    def score(row: list[str]) -> int:
        return sum(1 for c in row if c and norm_header(c) in known)

    def merge(upper: list[str], lower: list[str]) -> list[str]:
        width = max(len(upper), len(lower))
        upper, lower = upper + [""] * (width - len(upper)), lower + [""] * (width - len(lower))
        out = []
        for a, b in zip(upper, lower, strict=True):
            if b and norm_header(b) in known:
                out.append(b)
            elif a and norm_header(a) in known:
                out.append(a)
            else:
                out.append(b.strip() or a.strip())
        return out

    scan = cells[:HEADER_SCAN_ROWS]
    scores = [score(r) for r in scan]
    if not scores or max(scores) == 0:
        return None
    h = scores.index(max(scores))
    best = Header(h, 1, list(scan[h]), scores[h])
    if h + 1 < len(cells):
        merged = merge(scan[h], cells[h + 1])
        if score(merged) > best.score:
            best = Header(h, 2, merged, score(merged))
    if h > 0 and best.n_rows == 1:
        merged = merge(scan[h - 1], scan[h])
        above = [c.strip() for c in scan[h - 1][: len(scan[h])]]
        filled = [bool(c) for c in above]
        # group labels over merged cells: several labels, each followed by empty cells
        group_row = sum(filled) >= 2 and not all(filled) and any(
            a and not b for a, b in zip(filled, filled[1:], strict=False))
        if score(merged) > best.score or group_row:
            best = Header(h - 1, 2, merged, score(merged))
    return best


# ---------------------------------------------------------------------------
# A whole table
# ---------------------------------------------------------------------------
@dataclass
class SniffedTable:
    file: str
    header: list[str]
    rows: list[list[str]]
    lines: list[int]                  # row number (as in a spreadsheet) of each data row
    header_line: int                  # row number of the (last) header row

    def frame(self, line_column: str = "__line") -> pl.DataFrame:
        """Strings, empty cells as null (as ``pl.read_csv`` gives them), plus the row number."""
        data = {name: [r[j] or None for r in self.rows] for j, name in enumerate(self.header)}
        df = pl.DataFrame(data, schema={n: pl.String for n in self.header})
        return df.with_columns(pl.Series(line_column, self.lines, dtype=pl.Int64))


def is_xlsx(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"


def read_table(path: str | Path, known: Collection[str], text: str | None = None) -> SniffedTable:
    """A CSV or XLSX table as strings, with its header found and its repairs recorded.

    ``known``: normalised column names (or aliases) the caller understands; they
    locate the header row. A table with none of them keeps its first row as header
    (the caller reports the missing columns).
    """
    path = Path(path)
    file = str(path)
    fmt = "csv"         # given text was decoded, and its repairs recorded, by the caller
    if text is None:
        with path.open("rb") as fh:
            magic = fh.read(4)
        if not magic:
            raise _empty(file, zero=True)
        if is_xlsx(magic):
            fmt = "xlsx"
        else:
            text, _ = decode(path.read_bytes(), file)
    if fmt == "xlsx":   # openpyxl reads the workbook itself
        rows = read_xlsx_rows(path, file)
    else:
        delim = detect_delimiter(text)
        if delim != ",":
            record(Repair(file, "delimiter",
                          f"Các cột được phân cách bằng {DELIMITER_NAMES[delim]} (không phải dấu phẩy): "
                          "đã đọc theo dấu phân cách này.",
                          f"Columns separated by {delim!r}, not ','.", before=delim, after=","))
        rows = parse_csv(text, delim, file)
    # drop empty rows (blank lines, rows of empty cells)
    keep = [i for i, r in enumerate(rows.cells) if any(c.strip() for c in r)]
    if not keep:
        raise _empty(file, zero=False)
    kept = set(keep)
    dropped = [rows.numbers[i] for i in range(keep[-1]) if i not in kept]
    trailing = len(rows.cells) - 1 - keep[-1]
    cells = [rows.cells[i] for i in keep]
    numbers = [rows.numbers[i] for i in keep]
    header = find_header(cells, known)
    if header is None:
        header = Header(0, 1, list(cells[0]), 0)
    for r, row in zip(numbers, cells, strict=True):
        for j, c in enumerate(row):
            if len(c) > MAX_CELL_CHARS:
                raise cell_too_long(len(c), file=file, row=r,
                                    column=header.names[j] if j < len(header.names) and header.names[j] else f"#{j + 1}")
    if header.index > 0:
        skipped = numbers[: header.index]
        record(Repair(file, "title_rows",
                      f"Bỏ qua {len(skipped)} dòng tiêu đề phía trên dòng tên cột.",
                      f"{len(skipped)} title rows above the header skipped.",
                      rows=tuple(skipped[:EXAMPLES]), n=len(skipped),
                      before=short(" ".join(c for c in cells[0] if c), 40)))
    if header.n_rows == 2:
        r1, r2 = numbers[header.index], numbers[header.index + 1]
        record(Repair(file, "merged_header",
                      f"Tiêu đề gộp hai dòng ({r1} và {r2}, ô gộp của Excel): ghép thành một dòng tên cột.",
                      "Two-row (merged) header combined into one.", rows=(r1, r2), n=2,
                      before=short(" | ".join(cells[header.index]), 60),
                      after=short(" | ".join(header.names), 60)))
    start = header.index + header.n_rows
    names = [n.strip() for n in header.names]
    body, lines = cells[start:], numbers[start:]
    width = len(names)
    # trailing empty columns (cells beyond the named ones, or empty unnamed columns)
    used = [any(j < len(r) and r[j].strip() for r in body) for j in range(width)]
    extra_used = [r for r in body if any(c.strip() for c in r[width:])]
    if extra_used:
        bad = extra_used[0]
        j = next(k for k in range(width, len(bad)) if bad[k].strip())
        raise InputError(f"Dòng có nhiều ô hơn số cột tiêu đề (ô thứ {j + 1} có giá trị '{short(bad[j], 30)}' "
                         "nhưng không có tên cột).",
                         f"Row has more cells than the header (cell {j + 1}).",
                         file=file, row=lines[body.index(bad)], column=f"#{j + 1}", rule="ragged_row")
    empty_cols = [j for j in range(width) if not names[j] and not used[j]]
    n_extra = max((len(r) for r in body), default=0) - width
    if (empty_cols or n_extra > 0) and fmt == "csv":  # invisible in Excel: not worth a line
        record(Repair(file, "empty_columns",
                      f"Bỏ {len(empty_cols) + max(n_extra, 0)} cột trống không có tên ở cuối/giữa bảng.",
                      "Empty unnamed columns dropped.", n=len(empty_cols) + max(n_extra, 0)))
    keep_cols = [j for j in range(width) if j not in set(empty_cols)]
    names = [names[j] or f"cột {j + 1}" for j in keep_cols]
    seen: dict[str, int] = {}
    for k, n in enumerate(names):
        if n in seen:
            raise InputError(f"Tên cột '{n}' xuất hiện hai lần trong dòng tiêu đề.", f"Duplicate column name '{n}'.",
                             file=file, row=numbers[header.index + header.n_rows - 1], column=n, rule="duplicate_column")
        seen[n] = k
    cut_rows = [(ln, r) for ln, r in zip(lines, body, strict=True) if len(r) < width]
    if cut_rows and not rows.complete and len(body[-1]) < width and fmt == "csv":
        raise InputError("Tệp bị cắt cụt: dòng cuối thiếu ô và không có ký tự xuống dòng (tải về chưa xong?).",
                         "Truncated file: the last row is incomplete.",
                         file=file, row=lines[-1], column=header.names[len(body[-1])].strip() or None,
                         rule="truncated_file")
    if cut_rows and fmt == "csv":
        record(Repair(file, "short_rows",
                      f"{len(cut_rows)} dòng thiếu ô ở cuối dòng: các ô thiếu được coi là ô trống.",
                      f"{len(cut_rows)} rows with missing trailing cells read as empty.",
                      rows=tuple(ln for ln, _ in cut_rows[:EXAMPLES]), n=len(cut_rows)))
    rows_out = [[(r[j] if j < len(r) else "") for j in keep_cols] for r in body]
    if (dropped or trailing) and fmt == "csv":
        n = len(dropped) + trailing
        record(Repair(file, "empty_rows", f"Bỏ {n} dòng trống.", f"{n} empty rows dropped.",
                      rows=tuple(dropped[:EXAMPLES]), n=n))
    return SniffedTable(file=file, header=names, rows=rows_out, lines=lines,
                        header_line=numbers[header.index + header.n_rows - 1])


# ---------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}


def normalize_period(text: str | None) -> str | None:
    """"2024-06" / "2024" / "2024-Q1" as they are; "6/2024", "06-2024", "T6/2024",
    "Tháng 6/2024", "tháng 6 năm 2024", "2024/6", a date in the month ("2024-06-30",
    "30/06/2024") → "2024-06"; "Q1/2024", "quý I năm 2024" → "2024-Q1"; "năm 2024" →
    "2024". Anything else → None."""
    if text is None:
        return None
    s = " ".join(unicodedata.normalize("NFC", str(text)).strip().lower().split())
    if re.fullmatch(r"\d{4}", s):
        return s
    if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", s):
        return s
    m = re.fullmatch(r"(\d{4})-q([1-4])", s)
    if m:
        return f"{m.group(1)}-Q{m.group(2)}"

    def month(y: str, mo: str) -> str | None:
        return f"{int(y):04d}-{int(mo):02d}" if 1 <= int(mo) <= 12 and 1900 <= int(y) <= 2200 else None

    m = re.fullmatch(r"(?:t|th|tháng)?\s*\.?\s*(\d{1,2})\s*(?:[/\-.]|năm)\s*(\d{4})", s)
    if m:
        return month(m.group(2), m.group(1))
    m = re.fullmatch(r"(\d{4})\s*[/\-.]\s*(\d{1,2})", s)
    if m:
        return month(m.group(1), m.group(2))
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ t]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?", s)
    if m and 1 <= int(m.group(3)) <= 31:
        return month(m.group(1), m.group(2))
    m = re.fullmatch(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})", s)
    if m and 1 <= int(m.group(1)) <= 31:
        return month(m.group(3), m.group(2))
    m = re.fullmatch(r"(?:q|quý)\s*([1-4]|iv|i{1,3})\s*(?:[/\-.]|năm)\s*(\d{4})", s)
    if m:
        q = _ROMAN.get(m.group(1)) or int(m.group(1))
        return f"{m.group(2)}-Q{q}"
    m = re.fullmatch(r"năm\s*(\d{4})", s)
    if m:
        return m.group(1)
    return None


__all__ = [
    "MAX_CELL_CHARS", "NUMBER_HELPERS", "REPAIR_SCHEMA", "Repair", "SniffedTable", "cell_too_long", "collect_repairs",
    "decode", "decode_tcvn3", "decode_vni", "detect_delimiter", "drop_number_helpers", "encode_legacy", "find_header",
    "norm_header", "normalize_period", "parse_csv", "parse_numbers", "raise_number_problem", "read_table", "read_text",
    "read_xlsx_rows", "record", "record_number_repairs", "repairs_frame", "short", "vi_number", "vietnamese_score",
]
