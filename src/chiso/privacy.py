"""Officers' personal names stay out of public reports unless allowed.

Sources flag what holds personal names: the QĐ 1187 transcription's
``officers.csv`` (``is_personal_name``: the officers of the city's one-stop desk,
and ``metadata.yaml``'s ``signer_name``), the annual PAR INDEX table
``par_criteria_<year>.csv`` (``contains_personal_names``: the reason of criterion 5.4
names disciplined officials). A report builder passes every such table or text
through this module before it reaches a document; names are shown only when
``params.yaml`` says ``report.show_personal_names: true``.

* :func:`mask_name`: a whole cell that is a name: "Nguyễn Thị Kim Thành" → "N. T. K. T."
  (``style="initials"``, the default) or "[ẩn tên]" (``style="placeholder"``);
* :func:`mask_text`: free text that contains names: given the names (exact), or found
  by a rule (a Vietnamese surname followed by capitalised words, stopping at titles
  such as "Phó", "Trưởng", "Giám đốc");
* :func:`mask_table`: a polars column, masked where a flag column (or a constant) says
  it holds personal names;
* :func:`show_personal_names`: the flag from params.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

PLACEHOLDER = "[ẩn tên]"
STYLES = ("initials", "placeholder")

# Surnames (họ) common in Vietnam and in Điện Biên (Thái, Hmông, Khơ Mú … families).
SURNAMES = frozenset("""
Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Đinh Trương Đào Đoàn Vương Trịnh Mai Tô Hà
Lưu Lương Cao Tạ Thái Quách Lâm Kiều Chu Triệu Tăng Mạc Khổng Âu Lục Nông Lò Lường Quàng Tòng Cầm Cà Vì Lầu Giàng
Sùng Vàng Thào Mùa Hờ Chá Lừ Tẩn Phùng Khúc Kha Hầu Mè Điêu Bạc Vi Thèn Sầm Hạng Tráng Sồng Khoàng Ly Nguyên
Văn Hứa Diệp Lã Giáp Ông Phí Thân Tôn Kim Doãn Quan Mẫn Nghiêm Tống Ninh Đàm Đồng Bế Ma Mông Nịnh
""".split())
# Words that end a name in running text (titles, functions, bodies).
STOP_WORDS = frozenset("""
Phó Trưởng Giám Chủ Chánh Bí Tổng Thư Cán Chuyên Ủy Uỷ Phòng Sở Ban Cục Bộ Đảng Nguyên
""".split())  # (all-capitals words such as UBND, TP, GĐ end a name too)
AMBIGUOUS = frozenset({"Đoàn", "Đồng", "Văn", "Nguyên", "Hà", "Mai", "Kim", "Quan", "Ninh", "Cao", "Thái", "Hồ", "Ông"})
_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


def show_personal_names(params: Mapping[str, Any] | None) -> bool:
    """``report.show_personal_names`` of params.yaml (default: false, names hidden)."""
    return bool(((params or {}).get("report") or {}).get("show_personal_names", False))


def initials(name: str) -> str:
    """"Nguyễn Thị Kim Thành" → "N. T. K. T."; "Đỗ Trung Kiên" → "Đ. T. K."."""
    words = _TOKEN.findall(unicodedata.normalize("NFC", str(name)))
    return " ".join(f"{w[0].upper()}." for w in words) if words else PLACEHOLDER


def mask_name(name: str | None, style: str = "initials") -> str | None:
    """A cell that is a person's name, masked."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    if name is None or not str(name).strip():
        return name
    return initials(name) if style == "initials" else PLACEHOLDER


def _is_cap(word: str) -> bool:
    return word[:1].isupper() and not word.isupper() or (len(word) == 1 and word.isupper())


def find_names(text: str) -> list[str]:
    """Personal names in running Vietnamese text, by rule: a surname, then one to four
    capitalised words (middle and given names), stopping at a title word, a lower-case
    word or punctuation. "Đặng Thị Hương Phó Trưởng phòng …" → "Đặng Thị Hương"."""
    text = unicodedata.normalize("NFC", text or "")
    names = []
    tokens = [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    i = 0
    while i < len(tokens):
        word, start, end = tokens[i]
        nxt = tokens[i + 1][0] if i + 1 < len(tokens) else ""
        # a surname that is also a common word ("Đoàn", "Văn", "Đồng") starts a name only before "Thị"/"Văn"
        if word in SURNAMES and _is_cap(word) and (word not in AMBIGUOUS or nxt in {"Thị", "Văn"}):
            j = i + 1
            last = end
            while j < len(tokens) and j - i <= 4:
                w, s, e = tokens[j]
                gap = text[last:s]
                if gap.strip() or not _is_cap(w) or w.isupper() or (w in STOP_WORDS):
                    break
                last = e
                j += 1
            if j - i >= 2:
                names.append(text[start:last])
                i = j
                continue
        i += 1
    return names


def mask_text(text: str | None, contains_names: bool = True, *, show: bool = False,
              names: Iterable[str] | None = None, style: str = "initials") -> str | None:
    """``text`` with personal names masked, unless ``show`` or the source says it holds
    none (``contains_names`` false). ``names``: the exact names to mask (else found by
    :func:`find_names`)."""
    if text is None or show or not contains_names:
        return text
    text = unicodedata.normalize("NFC", str(text))
    found = [unicodedata.normalize("NFC", n) for n in (names if names is not None else find_names(text)) if n]
    for name in sorted(set(found), key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", mask_name(name, style) or "", text)
    return text


def mask_table(df: pl.DataFrame, column: str, flag: str | bool = True, *, show: bool = False,
               style: str = "initials", free_text: bool = False) -> pl.DataFrame:
    """``df`` with ``column`` masked on the rows that hold personal names.

    ``flag``: the name of a column saying so (bool, or "true"/"false" text, as
    ``is_personal_name`` of officers.csv or ``contains_personal_names`` of the PAR
    criteria), or a constant. ``free_text``: the cell is text containing names
    (masked with :func:`mask_text`) rather than a name (:func:`mask_name`).
    """
    if show:
        return df
    if isinstance(flag, str):
        f = pl.col(flag)
        is_flagged = (f.cast(pl.String).str.strip_chars().str.to_lowercase().is_in(["true", "1", "x", "có", "yes"])
                      if df.schema[flag] != pl.Boolean else f.fill_null(False))
    else:
        is_flagged = pl.lit(bool(flag))

    def one(value: str | None) -> str | None:
        return mask_text(value, style=style) if free_text else mask_name(value, style)

    masked = pl.col(column).cast(pl.String).map_elements(one, return_dtype=pl.String, skip_nulls=True)
    return df.with_columns(pl.when(is_flagged).then(masked).otherwise(pl.col(column).cast(pl.String)).alias(column))


__all__ = ["PLACEHOLDER", "find_names", "initials", "mask_name", "mask_table", "mask_text", "show_personal_names"]
