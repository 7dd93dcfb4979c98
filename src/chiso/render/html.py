"""Self-contained HTML rendering of chiso blocks.

Every string coming from a block goes through :func:`html.escape`. Figures are embedded
as ``<img src="data:image/svg+xml;base64,…">`` so that an SVG can neither run script nor
clash with the ids of another figure. The page carries a Content-Security-Policy that
forbids any network access and allows only the inline script shipped here (by hash).
"""

from __future__ import annotations

import base64
import hashlib
import os
from html import escape
from importlib import resources
from string import Template

from chiso.doc import (
    Block,
    Bullets,
    Callout,
    Closing,
    DocumentMeta,
    Figure,
    FrontMatter,
    Heading,
    Lineage,
    PageBreak,
    Paragraph,
    Section,
    SectionRow,
    Table,
)
from chiso.io import atomic_write_text
from chiso.render.common import column_alignments, header_rows, parse_inline

SYNTHETIC_LABEL = "DỮ LIỆU MÔ PHỎNG"
SYNTHETIC_NOTE = "Số liệu trong báo cáo này là dữ liệu mô phỏng, không phải số liệu thật."
SEARCH_PLACEHOLDER = "Tìm kiếm trong bảng…"
MOTTO_1 = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO_2 = "Độc lập - Tự do - Hạnh phúc"
#: Tables with more columns than this may use the full window width on desktops.
WIDE_TABLE_COLUMNS = 7


def _template(name: str) -> str:
    return resources.files("chiso.render").joinpath("templates", name).read_text("utf-8")


def _e(text: str) -> str:
    return escape(text, quote=True)


def inline_html(text: str) -> str:
    """Escape ``text`` and apply the two inline markups (**bold**, *italic*)."""
    out = []
    for run in parse_inline(text):
        s = _e(run.text)
        if run.italic:
            s = f"<em>{s}</em>"
        if run.bold:
            s = f"<strong>{s}</strong>"
        out.append(s)
    return "".join(out)


class _Ids:
    """Deterministic element ids within one document."""

    def __init__(self) -> None:
        self.n: dict[str, int] = {}

    def next(self, prefix: str) -> str:
        self.n[prefix] = self.n.get(prefix, 0) + 1
        return f"{prefix}{self.n[prefix]}"


# ----------------------------------------------------------------------------------
# Blocks
# ----------------------------------------------------------------------------------
def block_html(block: Block, ids: _Ids | None = None) -> str:
    """HTML fragment for one block (no page shell)."""
    ids = ids or _Ids()
    fn = _RENDERERS.get(type(block))
    if fn is None:
        raise TypeError(f"no HTML renderer for {type(block).__name__}")
    return fn(block, ids)


def _meta(b: DocumentMeta, ids: _Ids) -> str:
    if not b.synthetic:
        return ""
    return (
        f'<div class="synthetic-banner" role="note"><strong>{SYNTHETIC_LABEL}</strong>'
        f" <span>{_e(SYNTHETIC_NOTE)}</span></div>"
    )


def _front_matter(b: FrontMatter, ids: _Ids) -> str:
    parent = f'<p class="fm-parent">{_e(b.issuer_parent)}</p>' if b.issuer_parent else ""
    subtitle = f'<p class="fm-subtitle">{_e(b.subtitle)}</p>' if b.subtitle else ""
    return (
        '<header class="front-matter">'
        '<div class="fm-grid">'
        '<div class="fm-issuer">'
        f'{parent}<p class="fm-org">{_e(b.issuer)}</p><span class="fm-rule"></span>'
        f'<p class="fm-number">{_e(b.number)}</p>'
        "</div>"
        '<div class="fm-motto">'
        f'<p class="fm-motto1">{MOTTO_1}</p>'
        f'<p class="fm-motto2"><span>{MOTTO_2}</span></p>'
        f'<p class="fm-date">{_e(b.place_date)}</p>'
        "</div>"
        "</div>"
        f'<h1 class="fm-title">{_e(b.title)}</h1>{subtitle}'
        "</header>"
    )


def _heading(b: Heading, ids: _Ids) -> str:
    tag = f"h{b.level + 1}"
    return f'<{tag} id="{ids.next("s")}">{_e(b.text)}</{tag}>'


def _paragraph(b: Paragraph, ids: _Ids) -> str:
    cls = "" if b.align == "justify" else f' class="align-{b.align}"'
    return f"<p{cls}>{inline_html(b.text)}</p>"


def _bullets(b: Bullets, ids: _Ids) -> str:
    items = []
    for it in b.items:
        sub = ""
        if it.sub:
            sub = '<ul class="sub">' + "".join(f"<li>{inline_html(s)}</li>" for s in it.sub)
            sub += "</ul>"
        items.append(f"<li>{inline_html(it.text)}{sub}</li>")
    return '<ul class="dash">' + "".join(items) + "</ul>"


def _page_break(b: PageBreak, ids: _Ids) -> str:
    return '<div class="page-break" aria-hidden="true"></div>'


def _table(b: Table, ids: _Ids) -> str:
    tid = ids.next("t")
    aligns = column_alignments(b)
    ncols = len(b.columns)
    classes = [_cell_class(b, j, a) for j, a in enumerate(aligns)]
    parts: list[str] = []
    if b.caption:
        parts.append(f'<p class="table-caption" id="{tid}-cap">{_e(b.caption)}</p>')
    if b.searchable:
        parts.append(
            f'<div class="table-tools" hidden><input type="search" class="table-search" '
            f'data-table="{tid}" placeholder="{SEARCH_PLACEHOLDER}" '
            f'aria-label="{SEARCH_PLACEHOLDER}"><span class="table-count" aria-live="polite">'
            "</span></div>"
        )
    label = f' aria-labelledby="{tid}-cap"' if b.caption else ""
    attrs = ' class="data"'
    if b.sortable:
        attrs += " data-sortable"
    if b.searchable:
        attrs += " data-searchable"
    parts.append(f'<div class="table-wrap" role="region" tabindex="0"{label}>')
    parts.append(f'<table id="{tid}"{attrs}>')
    if b.widths:
        total = sum(b.widths)
        parts.append(
            "<colgroup>"
            + "".join(f'<col style="width:{100 * w / total:.2f}%">' for w in b.widths)
            + "</colgroup>"
        )
    parts.append("<thead>")
    for hrow in header_rows(b):
        cells = []
        for h in hrow:
            span = ""
            if h.colspan > 1:
                span += f' colspan="{h.colspan}"'
            if h.rowspan > 1:
                span += f' rowspan="{h.rowspan}"'
            if h.column is None:
                cells.append(f'<th scope="colgroup"{span}>{_e(h.label)}</th>')
            elif b.sortable:
                cells.append(
                    f'<th scope="col"{span} aria-sort="none"><button type="button" '
                    f'class="sort" data-col="{h.column}">{_e(h.label)}'
                    '<span class="sort-mark" aria-hidden="true"></span></button></th>'
                )
            else:
                cells.append(f'<th scope="col"{span}>{_e(h.label)}</th>')
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</thead>")
    # One <tbody> per section so that sorting and searching stay within sections.
    bodies: list[list[str]] = [[]]
    for row in b.rows:
        if isinstance(row, SectionRow):
            if bodies[-1]:
                bodies.append([])
            bodies[-1].append(
                f'<tr class="section-row"><th colspan="{ncols}" scope="rowgroup">'
                f"{_e(row.text)}</th></tr>"
            )
        else:
            tds = "".join(f"<td{classes[j]}>{_e(cell)}</td>" for j, cell in enumerate(row))
            bodies[-1].append(f"<tr>{tds}</tr>")
    for body in bodies:
        if body:
            parts.append("<tbody>" + "".join(body) + "</tbody>")
    parts.append("</table></div>")
    if b.notes:
        parts.append(
            '<div class="table-notes">'
            + "".join(f"<p>{inline_html(n)}</p>" for n in b.notes)
            + "</div>"
        )
    wide = " wide" if ncols > WIDE_TABLE_COLUMNS else ""
    return f'<div class="table-block{wide}">' + "".join(parts) + "</div>"


NOWRAP_MAX_CHARS = 28


def _cell_class(b: Table, j: int, align: str) -> str:
    """Alignment class (r/c) plus "nw" (no wrapping) for columns of short cells, so that
    narrow screens scroll the table instead of breaking unit names over lines."""
    names = [] if align == "left" else [align[0]]
    if all(len(r[j]) <= NOWRAP_MAX_CHARS for r in b.rows if isinstance(r, list)):
        names.append("nw")
    return f' class="{" ".join(names)}"' if names else ""


def _figure(b: Figure, ids: _Ids) -> str:
    data = base64.b64encode(b.svg.encode("utf-8")).decode("ascii")
    width = f"{b.width * 100:g}%"
    cap = f"<figcaption>{_e(b.caption)}</figcaption>" if b.caption else ""
    return (
        f'<figure class="chart"><img style="width:{width}" alt="{_e(b.caption)}" '
        f'src="data:image/svg+xml;base64,{data}">{cap}</figure>'
    )


def _callout(b: Callout, ids: _Ids) -> str:
    inner = "".join(block_html(c, ids) for c in b.blocks)
    title = f'<p class="callout-title">{_e(b.title)}</p>' if b.title else ""
    return f'<aside class="callout callout-{b.kind}" role="note">{title}{inner}</aside>'


def _section(b: Section, ids: _Ids) -> str:
    cls = "landscape" if b.landscape else "plain"
    return f'<section class="{cls}">' + "".join(block_html(c, ids) for c in b.blocks) + "</section>"


def _closing(b: Closing, ids: _Ids) -> str:
    recipients = "".join(f"<li>{_e(r)}</li>" for r in b.recipients)
    titles = "".join(f"<p>{_e(t)}</p>" for t in b.signer_title)
    name = f'<p class="signer-name">{_e(b.signer_name)}</p>' if b.signer_name else ""
    return (
        '<div class="closing">'
        f'<div class="recipients"><p class="recipients-title">Nơi nhận:</p><ul>{recipients}</ul>'
        "</div>"
        f'<div class="signer"><div class="signer-title">{titles}</div>'
        f'<div class="signature-space"></div>{name}</div>'
        "</div>"
    )


def _lineage(b: Lineage, ids: _Ids) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in b.items)
    return (
        f'<footer class="lineage"><p class="lineage-title">{_e(b.title)}</p>'
        f"<table>{rows}</table></footer>"
    )


_RENDERERS = {
    DocumentMeta: _meta,
    FrontMatter: _front_matter,
    Heading: _heading,
    Paragraph: _paragraph,
    Bullets: _bullets,
    PageBreak: _page_break,
    Table: _table,
    Figure: _figure,
    Callout: _callout,
    Section: _section,
    Closing: _closing,
    Lineage: _lineage,
}


# ----------------------------------------------------------------------------------
# Document
# ----------------------------------------------------------------------------------
def _csp_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


# Printed pages: the synthetic mark in the top margin of every page (CSS margin boxes).
_SYNTHETIC_PRINT_CSS = (
    "@media print { @page { @top-right { content: \"%s\"; color: #b3261e; "
    "font: bold 9pt sans-serif; } } }\n" % SYNTHETIC_LABEL
)


def to_html(meta: DocumentMeta, blocks: list[Block]) -> str:
    """The whole report as one self-contained HTML page (deterministic)."""
    ids = _Ids()
    body = "\n".join(block_html(b, ids) for b in blocks if not isinstance(b, DocumentMeta))
    script = _template("table.js")
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src {_csp_hash(script)}; form-action 'none'; base-uri 'none'"
    )
    page = Template(_template("page.html"))
    return page.substitute(
        lang=_e(meta.lang or "vi"),
        csp=csp,
        title=_e(meta.title),
        generated_at=_e(meta.generated_at),
        body_class="synthetic" if meta.synthetic else "",
        css=_template("style.css") + (_SYNTHETIC_PRINT_CSS if meta.synthetic else ""),
        banner=_meta(meta, ids),
        body=body,
        script=script,
    )


def write_html(meta: DocumentMeta, blocks: list[Block], path: str | os.PathLike[str]) -> None:
    """Write :func:`to_html` output to ``path`` atomically."""
    atomic_write_text(path, to_html(meta, blocks))
