"""Helpers shared by the HTML, PDF and markdown renderers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from chiso.doc import Table

# ----------------------------------------------------------------------------------
# Inline markup: only **bold** and *italic*; everything else is literal.
# A marker must hug its text (no space right inside it), as in Pandoc, so that
# "5 * 3 * 2" stays literal.
# ----------------------------------------------------------------------------------
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", re.S)
_ITALIC = re.compile(r"(?<!\*)\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?!\*)", re.S)


@dataclass(frozen=True)
class Run:
    text: str
    bold: bool = False
    italic: bool = False


def _italic_runs(text: str, bold: bool) -> list[Run]:
    runs: list[Run] = []
    pos = 0
    for m in _ITALIC.finditer(text):
        if m.start() > pos:
            runs.append(Run(text[pos : m.start()], bold, False))
        runs.append(Run(m.group(1), bold, True))
        pos = m.end()
    if pos < len(text):
        runs.append(Run(text[pos:], bold, False))
    return runs


def parse_inline(text: str) -> list[Run]:
    """Split text into runs of plain / bold / italic text."""
    runs: list[Run] = []
    pos = 0
    for m in _BOLD.finditer(text):
        if m.start() > pos:
            runs.extend(_italic_runs(text[pos : m.start()], False))
        runs.extend(_italic_runs(m.group(1), True))
        pos = m.end()
    if pos < len(text):
        runs.extend(_italic_runs(text[pos:], False))
    return [r for r in runs if r.text]


# ----------------------------------------------------------------------------------
# Vietnamese numbers in table cells
# ----------------------------------------------------------------------------------
MISSING_CELLS = frozenset({"", "-", "–", "—", "…", "x", "X", "N/A"})
_VI_NUMBER = re.compile(r"^[+\-\u2212]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?$")
_DECORATION = re.compile(r"^[\u25b2\u25bc\u25b3\u25bd\u2191\u2193\u2197\u2198]+|%$")


def parse_vi_number(cell: str) -> float | None:
    """ "1.234,5" → 1234.5, "94,1" → 94.1, "+2,86" → 2.86, "▲ 3" → 3, "12%" → 12;
    anything else → None. The same rule is implemented in ``templates/table.js``."""
    s = re.sub(r"[\s\u00a0]", "", cell)
    s = _DECORATION.sub("", s)
    if not _VI_NUMBER.match(s):
        return None
    s = s.replace("\u2212", "-").replace(".", "").replace(",", ".")
    return float(s)


def column_alignments(table: Table) -> list[str]:
    """``table.align`` or: right for all-number columns, left otherwise."""
    if table.align is not None:
        return list(table.align)
    out = []
    for j in range(len(table.columns)):
        values = [
            r[j].strip()
            for r in table.rows
            if isinstance(r, list) and r[j].strip() not in MISSING_CELLS
        ]
        numeric = bool(values) and all(parse_vi_number(v) is not None for v in values)
        out.append("right" if numeric else "left")
    return out


@dataclass(frozen=True)
class HeaderCell:
    label: str
    colspan: int = 1
    rowspan: int = 1
    column: int | None = None  # index of the leaf column, None for a group label


def header_rows(table: Table) -> list[list[HeaderCell]]:
    """One or two header rows, with col/row spans, for ``table``."""
    cols = table.columns
    if not table.header_groups:
        return [[HeaderCell(c, column=j) for j, c in enumerate(cols)]]
    top: list[HeaderCell] = []
    bottom: list[HeaderCell] = []
    j = 0
    for label, span in table.header_groups:
        if span == 1 and (not label.strip() or label == cols[j]):
            top.append(HeaderCell(cols[j], rowspan=2, column=j))
        else:
            top.append(HeaderCell(label, colspan=span))
            bottom.extend(HeaderCell(cols[k], column=k) for k in range(j, j + span))
        j += span
    return [top, bottom] if bottom else [top]

