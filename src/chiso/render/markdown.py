"""Pandoc markdown for chiso blocks (the ``text/markdown`` output and the Quarto path).

Every literal character that Pandoc could read as markup is backslash-escaped, so user
text stays text; only ``**bold**`` / ``*italic*`` from :func:`parse_inline` become
emphasis.
"""

from __future__ import annotations

import base64
import re
from typing import Callable

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
from chiso.render.common import column_alignments, parse_inline

SYNTHETIC_LABEL = "DỮ LIỆU MÔ PHỎNG"
MOTTO_1 = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO_2 = "Độc lập - Tự do - Hạnh phúc"

_PUNCT = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~^$&@:;\"'=%/])")

FigureRef = Callable[[Figure], str]


def escape_md(text: str) -> str:
    """Backslash-escape ASCII punctuation and flatten newlines to spaces."""
    return _PUNCT.sub(r"\\\1", re.sub(r"\s+", " ", text))


def inline_md(text: str) -> str:
    out = []
    for run in parse_inline(text):
        s = escape_md(run.text)
        if run.italic:
            s = f"*{s}*"
        if run.bold:
            s = f"**{s}**"
        out.append(s)
    return "".join(out)


def _data_uri(fig: Figure) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(fig.svg.encode("utf-8")).decode()


def block_markdown(block: Block, figure_ref: FigureRef = _data_uri) -> str:
    """Markdown for one block; ``figure_ref`` maps a figure to its image path/URI."""
    b = block
    if isinstance(b, DocumentMeta):
        return f"::: {{.callout-warning}}\n**{SYNTHETIC_LABEL}**\n:::\n" if b.synthetic else ""
    if isinstance(b, FrontMatter):
        left = [escape_md(b.issuer_parent), f"**{escape_md(b.issuer)}**", escape_md(b.number)]
        right = [f"**{MOTTO_1}**", f"**{escape_md(MOTTO_2)}**", f"*{escape_md(b.place_date)}*"]
        lines = [
            ":::: {.columns}",
            '::: {.column width="40%"}',
            "\\\n".join(x for x in left if x),
            ":::",
            '::: {.column width="60%"}',
            "\\\n".join(right),
            ":::",
            "::::",
            "",
            f"::: {{.center}}\n**{escape_md(b.title)}**\n\n**{escape_md(b.subtitle)}**\n:::",
        ]
        return "\n".join(lines) + "\n"
    if isinstance(b, Heading):
        return "#" * b.level + " " + escape_md(b.text) + " {.unnumbered}\n"
    if isinstance(b, Paragraph):
        text = inline_md(b.text)
        return f"::: {{.{b.align}}}\n{text}\n:::\n" if b.align in ("center", "right") else text + "\n"
    if isinstance(b, Bullets):
        lines = []
        for it in b.items:
            lines.append("- " + inline_md(it.text))
            lines.extend("    + " + inline_md(s) for s in it.sub)
        return "\n".join(lines) + "\n"
    if isinstance(b, PageBreak):
        return "{{< pagebreak >}}\n"
    if isinstance(b, Table):
        return _table_md(b)
    if isinstance(b, Figure):
        return f"![{escape_md(b.caption)}]({figure_ref(b)}){{width={b.width * 100:g}%}}\n"
    if isinstance(b, Callout):
        inner = "\n".join(block_markdown(c, figure_ref) for c in b.blocks)
        kind = {"info": "note", "warning": "warning", "audit": "important"}[b.kind]
        return f"::: {{.callout-{kind}}}\n## {escape_md(b.title)}\n\n{inner}:::\n"
    if isinstance(b, Section):
        inner = "\n".join(block_markdown(c, figure_ref) for c in b.blocks)
        return f"::: {{.landscape}}\n{inner}:::\n" if b.landscape else inner
    if isinstance(b, Closing):
        rec = "\\\n".join("\\- " + escape_md(r) for r in b.recipients)
        sig = "\\\n".join(f"**{escape_md(t)}**" for t in b.signer_title)
        name = f"\n\n\n\n**{escape_md(b.signer_name)}**" if b.signer_name else ""
        return (
            ":::: {.columns}\n::: {.column width=\"50%\"}\n***Nơi nhận:***\\\n"
            f"{rec}\n:::\n::: {{.column width=\"50%\"}}\n{sig}{name}\n:::\n::::\n"
        )
    if isinstance(b, Lineage):
        rows = "\n".join(f"| {_cell(k)} | {_cell(v)} |" for k, v in b.items)
        return f"**{escape_md(b.title)}**\n\n|   |   |\n|---|---|\n{rows}\n"
    raise TypeError(f"no markdown renderer for {type(b).__name__}")


def _cell(text: str) -> str:
    return escape_md(text) or " "


def _table_md(b: Table) -> str:
    """Pipe table; a two-level header is flattened to "Group: column"."""
    cols = list(b.columns)
    if b.header_groups:
        j = 0
        for label, span in b.header_groups:
            if label.strip() and not (span == 1 and label == cols[j]):
                for k in range(j, j + span):
                    cols[k] = f"{label}: {cols[k]}"
            j += span
    marks = {"left": ":---", "center": ":---:", "right": "---:"}
    lines = []
    if b.caption:
        lines += [f"**{escape_md(b.caption)}**", ""]
    lines.append("| " + " | ".join(_cell(c) for c in cols) + " |")
    lines.append("|" + "|".join(marks[a] for a in column_alignments(b)) + "|")
    for row in b.rows:
        if isinstance(row, SectionRow):
            cells = [f"**{escape_md(row.text)}**"] + [" "] * (len(cols) - 1)
        else:
            cells = [_cell(c) for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += [inline_md(n) + "\\" for n in b.notes]
    if b.notes:
        lines[-1] = lines[-1][:-1]
    return "\n".join(lines) + "\n"
