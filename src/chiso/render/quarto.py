"""Optional Quarto path: blocks → one .qmd (Pandoc markdown) → HTML and Typst PDF.

Used only when the ``quarto`` binary is on PATH. The markdown comes from
:mod:`chiso.render.markdown`, which escapes all user text; figures are written as SVG
files beside the .qmd; the only raw Typst is a constant watermark for synthetic data.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from chiso.doc import Block, DocumentMeta, Figure
from chiso.io import atomic_write_bytes
from chiso.render.markdown import SYNTHETIC_LABEL, block_markdown, escape_md
from chiso.render.pdf import fonts_dir

_WATERMARK = (
    "```{=typst}\n#set page(background: place(center + horizon, rotate(-35deg, "
    f'text(size: 58pt, weight: "bold", fill: rgb(179, 38, 30, 26), "{SYNTHETIC_LABEL}"))))\n'
    "```\n"
)


def qmd_text(meta: DocumentMeta, blocks: list[Block], figure_names: dict[int, str]) -> str:
    """The .qmd source; ``figure_names`` maps ``id(figure)`` to its file name."""
    header = {
        "title": escape_md(meta.title),
        "lang": meta.lang or "vi",
        "format": {
            "html": {"embed-resources": True, "toc": False},
            "typst": {
                "papersize": "a4",
                "mainfont": "DejaVu Serif",
                "font-paths": [str(fonts_dir())],
                "page-numbering": "1/1",
                "margin": {"x": "2cm", "y": "2cm"},
            },
        },
    }
    parts = ["---", json.dumps(header, ensure_ascii=False, indent=1), "---", ""]
    if meta.synthetic:
        parts.append(_WATERMARK)
        parts.append(block_markdown(meta))
    ref = lambda fig: figure_names[id(fig)]  # noqa: E731
    parts.extend(block_markdown(b, ref) for b in blocks if not isinstance(b, DocumentMeta))
    return "\n".join(parts)


def _figures(blocks: list[Block]) -> list[Figure]:
    out: list[Figure] = []
    for b in blocks:
        if isinstance(b, Figure):
            out.append(b)
        out.extend(_figures(getattr(b, "blocks", [])))
    return out


def render_with_quarto(meta: DocumentMeta, blocks: list[Block], html_path: Path, pdf_path: Path) -> None:
    quarto = shutil.which("quarto")
    if quarto is None:
        raise RuntimeError("engine='quarto' needs the quarto binary on PATH")
    with tempfile.TemporaryDirectory(prefix="chiso-quarto-") as tmp:
        root = Path(tmp)
        names: dict[int, str] = {}
        for i, fig in enumerate(_figures(blocks), 1):
            names[id(fig)] = f"fig-{i:03d}.svg"
            (root / names[id(fig)]).write_text(fig.svg, encoding="utf-8")
        (root / "report.qmd").write_text(qmd_text(meta, blocks, names), encoding="utf-8")
        for fmt in ("html", "typst"):
            subprocess.run(
                [quarto, "render", "report.qmd", "--to", fmt],
                cwd=root,
                check=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        atomic_write_bytes(html_path, (root / "report.html").read_bytes())
        atomic_write_bytes(pdf_path, (root / "report.pdf").read_bytes())
