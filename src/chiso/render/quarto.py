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
from chiso.errors import RenderError
from chiso.io import atomic_write_bytes
from chiso.render.markdown import SYNTHETIC_LABEL, block_markdown, escape_md
from chiso.render.pdf import fonts_dir

# Lines of Quarto's own output quoted when it fails.
OUTPUT_TAIL_LINES = 20
# Quarto's output format → the file it writes beside report.qmd.
OUTPUTS = {"html": "report.html", "typst": "report.pdf"}

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
    """Render with the ``quarto`` on PATH, in a temporary folder; ``html_path`` and
    ``pdf_path`` are written only when both formats succeeded. Raises ``RenderError``
    (with the end of Quarto's output) when Quarto is missing, fails or writes nothing."""
    quarto = shutil.which("quarto")
    if quarto is None:
        raise RenderError("Không tìm thấy chương trình quarto trên PATH: cài Quarto hoặc dùng --engine builtin.",
                          "engine='quarto' needs the quarto binary on PATH")
    with tempfile.TemporaryDirectory(prefix="chiso-quarto-") as tmp:
        root = Path(tmp)
        names: dict[int, str] = {}
        for i, fig in enumerate(_figures(blocks), 1):
            names[id(fig)] = f"fig-{i:03d}.svg"
            (root / names[id(fig)]).write_text(fig.svg, encoding="utf-8")
        (root / "report.qmd").write_text(qmd_text(meta, blocks, names), encoding="utf-8")
        for fmt, name in OUTPUTS.items():
            done = subprocess.run([quarto, "render", "report.qmd", "--to", fmt], cwd=root,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            tail = "\n".join(done.stdout.decode("utf-8", "replace").rstrip().splitlines()[-OUTPUT_TAIL_LINES:])
            if done.returncode != 0:
                raise RenderError(f"Quarto không kết xuất được báo cáo dạng {fmt} (mã lỗi {done.returncode}). "
                                  f"Phần cuối thông báo của Quarto:\n{tail}",
                                  f"quarto render --to {fmt} exited with {done.returncode}")
            if not (root / name).is_file():
                raise RenderError(f"Quarto chạy xong nhưng không tạo ra tệp {name}. Phần cuối thông báo của "
                                  f"Quarto:\n{tail}", f"quarto render --to {fmt} wrote no {name}")
        atomic_write_bytes(html_path, (root / OUTPUTS["html"]).read_bytes())
        atomic_write_bytes(pdf_path, (root / OUTPUTS["typst"]).read_bytes())
