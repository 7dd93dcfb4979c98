"""Render executed report notebooks to one self-contained HTML file and an A4 PDF.

A report notebook displays :mod:`chiso.doc` blocks; each display output carries the
block as ``application/vnd.chiso.block+json``. :func:`blocks_from_notebook` reads them
back in cell order, and :func:`render_notebook` writes the HTML and PDF with the
built-in renderer (HTML + Typst) or, when the ``quarto`` binary is on PATH and
``engine="auto"`` or ``"quarto"``, with Quarto.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from chiso.doc import MIME_TYPE, Block, DocumentMeta, block_from_dict
from chiso.errors import RenderError
from chiso.render.html import to_html, write_html
from chiso.render.pdf import pdf_bytes, to_pdf

ENGINES = ("auto", "builtin", "quarto")

__all__ = [
    "blocks_from_notebook",
    "to_html",
    "write_html",
    "to_pdf",
    "pdf_bytes",
    "render_notebook",
    "render_documents",
    "documents_from_notebook",
    "ENGINES",
]


def _block_data(output: dict[str, Any]) -> Any | None:
    if output.get("output_type") not in ("display_data", "execute_result"):
        return None
    data = output.get("data", {}).get(MIME_TYPE)
    if isinstance(data, (str, list)):  # stored as text by some writers
        data = json.loads("".join(data) if isinstance(data, list) else data)
    return data


def blocks_from_notebook(path: str | os.PathLike[str]) -> tuple[DocumentMeta, list[Block]]:
    """The :class:`DocumentMeta` and the other blocks displayed in an executed notebook,
    in cell and output order. Raises ``ValueError`` if there is no meta or more than one."""
    with open(path, encoding="utf-8") as fh:
        nb = json.load(fh)
    meta: DocumentMeta | None = None
    blocks: list[Block] = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            data = _block_data(output)
            if data is None:
                continue
            block = block_from_dict(data)
            if isinstance(block, DocumentMeta):
                if meta is not None:
                    raise ValueError(f"{path}: more than one DocumentMeta displayed")
                meta = block
            else:
                blocks.append(block)
    if meta is None:
        raise ValueError(f"{path}: no DocumentMeta displayed (display it first)")
    return meta, blocks


def documents_from_notebook(path: str | os.PathLike[str]) -> list[tuple[DocumentMeta, list[Block]]]:
    """Every document of an executed notebook: each :class:`DocumentMeta` starts a new one."""
    with open(path, encoding="utf-8") as fh:
        nb = json.load(fh)
    docs: list[tuple[DocumentMeta, list[Block]]] = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            data = _block_data(output)
            if data is None:
                continue
            block = block_from_dict(data)
            if isinstance(block, DocumentMeta):
                docs.append((block, []))
            elif not docs:
                raise ValueError(f"{path}: a block was displayed before any DocumentMeta")
            else:
                docs[-1][1].append(block)
    if not docs:
        raise ValueError(f"{path}: no DocumentMeta displayed (display it first)")
    return docs


def render_documents(nb_path: str | os.PathLike[str], html_path: str | os.PathLike[str],
                     pdf_path: str | os.PathLike[str], others_dir: str | os.PathLike[str] | None = None,
                     engine: str = "auto") -> list[Path]:
    """Render the first document to ``html_path``/``pdf_path`` and every further one to
    ``others_dir/<meta.name>.html`` and ``.pdf`` (built-in renderer). Returns the paths written."""
    docs = documents_from_notebook(nb_path)
    written = []
    meta, blocks = docs[0]
    _render(meta, blocks, html_path, pdf_path, engine, quarto_allowed=len(docs) == 1)
    written += [Path(html_path), Path(pdf_path)]
    if len(docs) > 1 and others_dir is None:
        raise ValueError(f"{nb_path}: {len(docs)} documents but no folder for the others")
    if others_dir is not None:
        from chiso.doc import Bullets, Heading, Paragraph

        out = Path(others_dir)
        out.mkdir(parents=True, exist_ok=True)
        names = [f"{m.name}.html, {m.name}.pdf: {m.title}" for m, _ in docs[1:]]
        index_meta = DocumentMeta(title=f"Các báo cáo kèm theo: {meta.title}", generated_at=meta.generated_at,
                                  synthetic=meta.synthetic)
        write_html(index_meta, [Heading(index_meta.title, 1),
                                Bullets(names) if names else Paragraph("Kỳ này không có báo cáo kèm theo.")],
                   out / "index.html")
        for meta, blocks in docs[1:]:
            if not meta.name or "/" in meta.name or meta.name.startswith("."):
                raise ValueError(f"document {meta.title!r} needs a plain file name in DocumentMeta.name")
            write_html(meta, blocks, out / f"{meta.name}.html")
            to_pdf(meta, blocks, out / f"{meta.name}.pdf")
            written += [out / f"{meta.name}.html", out / f"{meta.name}.pdf"]
    return written


def render_notebook(
    nb_path: str | os.PathLike[str],
    html_path: str | os.PathLike[str],
    pdf_path: str | os.PathLike[str],
    engine: str = "auto",
) -> str:
    """Render an executed notebook to ``html_path`` and ``pdf_path``.

    ``engine``: "builtin" (HTML + Typst here), "quarto" (requires the ``quarto`` binary;
    ``chiso.errors.RenderError`` when it is missing or fails) or "auto" (Quarto when on
    PATH, else built-in; built-in with a warning when Quarto fails). Returns the engine used.
    """
    meta, blocks = blocks_from_notebook(nb_path)
    return _render(meta, blocks, html_path, pdf_path, engine)


def _render(meta: DocumentMeta, blocks: list[Block], html_path: str | os.PathLike[str],
            pdf_path: str | os.PathLike[str], engine: str, quarto_allowed: bool = True) -> str:
    """One document with ``engine``; returns the engine used. "auto" uses Quarto when it
    is on PATH and falls back to the built-in renderer, with a warning, when Quarto fails.
    ``quarto_allowed`` false: built-in whatever the engine (a set of documents is
    rendered alike)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if quarto_allowed and (engine == "quarto" or (engine == "auto" and shutil.which("quarto"))):
        from chiso.render.quarto import render_with_quarto

        try:
            render_with_quarto(meta, blocks, Path(html_path), Path(pdf_path))
            return "quarto"
        except RenderError as exc:
            if engine == "quarto":
                raise
            warnings.warn(f"{exc.message_vi}\nDùng bộ kết xuất có sẵn thay cho Quarto.", stacklevel=3)
    write_html(meta, blocks, html_path)
    to_pdf(meta, blocks, pdf_path)
    return "builtin"
