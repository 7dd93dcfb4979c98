"""A4 PDF rendering of chiso blocks with Typst.

Nothing from a block is ever pasted into Typst markup: the blocks are written as JSON
(``doc.json``) next to a fixed template (``templates/report.typ``) that reads them with
``json(...)``, so every string renders literally. Figures are written as SVG files
beside it. Compilation happens in a fresh temporary directory used as the Typst root,
with only the DejaVu fonts shipped in ``render/fonts`` (no system or embedded fonts), so
the output is the same on every machine. The PDF creation date is taken from
``DocumentMeta.generated_at`` (ISO 8601), or a fixed date when it is empty: the same
blocks give byte-identical PDFs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from chiso.doc import (
    Block,
    Bullets,
    Callout,
    DocumentMeta,
    Figure,
    Paragraph,
    Section,
    SectionRow,
    Table,
)
from chiso.io import atomic_write_bytes
from chiso.render.common import column_alignments, header_rows, parse_inline
from chiso.render.html import MOTTO_1, MOTTO_2, SYNTHETIC_LABEL

#: Used as PDF creation date when ``generated_at`` is empty or not ISO 8601.
FIXED_TIMESTAMP = datetime(2000, 1, 1, tzinfo=timezone.utc)

LABELS = {
    "synthetic": SYNTHETIC_LABEL,
    "page": "Trang",
    "recipients": "Nơi nhận:",
    "motto1": MOTTO_1,
    "motto2": MOTTO_2,
}


def fonts_dir() -> Path:
    """Folder with the DejaVu TTF files (and their licence) shipped with chiso."""
    return Path(str(resources.files("chiso.render").joinpath("fonts")))


def _template_path() -> Path:
    return Path(str(resources.files("chiso.render").joinpath("templates", "report.typ")))


def _runs(text: str) -> list[dict[str, Any]]:
    return [{"t": r.text, "b": r.bold, "i": r.italic} for r in parse_inline(text)]


def _table_font_size(ncols: int, landscape: bool) -> float:
    if landscape:
        return 9.0 if ncols <= 12 else 8.0 if ncols <= 18 else 7.0
    return 10.0 if ncols <= 5 else 9.0 if ncols <= 9 else 8.0 if ncols <= 12 else 7.0


class _Prep:
    """Turns blocks into the JSON the Typst template reads; collects figure files."""

    def __init__(self) -> None:
        self.figures: dict[str, str] = {}

    def block(self, b: Block, top: bool = False, landscape: bool = False) -> dict[str, Any] | None:
        """``top``: a top-level block (may get its own landscape pages);
        ``landscape``: the block is inside a landscape section."""
        if isinstance(b, DocumentMeta):
            return None
        if isinstance(b, Paragraph):
            return {"type": b.type, "runs": _runs(b.text), "align": b.align}
        if isinstance(b, Bullets):
            items = [{"runs": _runs(i.text), "sub": [_runs(s) for s in i.sub]} for i in b.items]
            return {"type": b.type, "items": items}
        if isinstance(b, Table):
            return self.table(b, landscape or (b.landscape and top))
        if isinstance(b, Figure):
            name = f"fig-{len(self.figures) + 1:03d}.svg"
            self.figures[name] = b.svg
            return {"type": b.type, "file": name, "caption": b.caption, "width": b.width}
        if isinstance(b, Callout):
            inner = self.blocks(b.blocks, landscape)
            return {"type": b.type, "title": b.title, "kind": b.kind, "blocks": inner}
        if isinstance(b, Section):
            inner = self.blocks(b.blocks, landscape or (b.landscape and top))
            return {"type": b.type, "landscape": b.landscape, "blocks": inner}
        return b.to_dict()

    def blocks(self, blocks: list[Block], landscape: bool) -> list[dict[str, Any]]:
        out = [self.block(b, top=False, landscape=landscape) for b in blocks]
        return [d for d in out if d is not None]

    def table(self, b: Table, landscape: bool) -> dict[str, Any]:
        header = [
            [{"label": h.label, "colspan": h.colspan, "rowspan": h.rowspan} for h in row]
            for row in header_rows(b)
        ]
        body = [
            {"section": r.text} if isinstance(r, SectionRow) else {"cells": r} for r in b.rows
        ]
        return {
            "type": b.type,
            "columns": b.columns,
            "header": header,
            "body": body,
            "align": column_alignments(b),
            "widths": b.widths,
            "caption": b.caption,
            "notes": [_runs(n) for n in b.notes],
            "landscape": b.landscape,
            "font_size": _table_font_size(len(b.columns), landscape),
        }


def document_json(meta: DocumentMeta, blocks: list[Block]) -> tuple[dict[str, Any], dict[str, str]]:
    """The data the Typst template reads, and the figure files {name: svg}."""
    prep = _Prep()
    top = [d for d in (prep.block(b, top=True) for b in blocks) if d is not None]
    data = {"meta": meta.to_dict(), "labels": LABELS, "blocks": top}
    return data, prep.figures


def _timestamp(meta: DocumentMeta) -> datetime:
    try:
        ts = datetime.fromisoformat(meta.generated_at.strip())
    except ValueError:
        return FIXED_TIMESTAMP
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return ts


def pdf_bytes(meta: DocumentMeta, blocks: list[Block]) -> bytes:
    """Compile the report and return the PDF bytes."""
    import typst

    data, figures = document_json(meta, blocks)
    with tempfile.TemporaryDirectory(prefix="chiso-typst-") as tmp:
        root = Path(tmp)
        shutil.copyfile(_template_path(), root / "main.typ")
        (root / "doc.json").write_text(
            json.dumps(data, ensure_ascii=False, sort_keys=True), encoding="utf-8"
        )
        for name, svg in figures.items():
            (root / name).write_text(svg, encoding="utf-8")
        fonts = typst.Fonts(
            include_system_fonts=False,
            include_embedded_fonts=False,
            font_paths=[str(fonts_dir())],
        )
        out, diagnostics = typst.compile_with_warnings(
            str(root / "main.typ"),
            root=str(root),
            font_paths=fonts,
            ignore_system_fonts=True,
            format="pdf",
            timestamp=_timestamp(meta),
        )
    for diagnostic in diagnostics:
        warnings.warn(diagnostic, stacklevel=2)
    assert isinstance(out, bytes)
    return out


def to_pdf(meta: DocumentMeta, blocks: list[Block], path: str | os.PathLike[str]) -> None:
    """Write the A4 PDF report to ``path`` atomically."""
    atomic_write_bytes(path, pdf_bytes(meta, blocks))
