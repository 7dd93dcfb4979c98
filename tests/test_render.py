"""Tests of the document model (chiso.doc) and the built-in HTML/PDF renderer."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import stat
import sys

import nbformat
import pytest

from chiso.doc import (
    MIME_TYPE,
    BulletItem,
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
    block_from_dict,
)
from chiso.render import blocks_from_notebook, pdf_bytes, render_notebook, to_html, write_html
from chiso.render.common import Run, parse_inline, parse_vi_number
from chiso.render.markdown import block_markdown
from chiso.render.pdf import fonts_dir

EVIL = "<script>alert(1)</script>"
TYPST_EVIL = '#set page(width: 1cm) $x$ #read("/etc/passwd") ]['
SYNTHETIC = "DỮ LIỆU MÔ PHỎNG"
COMMUNES = [
    "UBND Luân Giới", "UBND Na Son", "UBND Keo Lôm", "UBND Chiềng Sơ", "UBND Mường Luân",
    "UBND Pu Nhi", "UBND Thị trấn", "UBND Xa Dung", "UBND Phình Giàng", "UBND Háng Lìa",
    "UBND Phì Nhừ", "UBND xã Nong U", "UBND xã Pú Hồng", "UBND Tìa Đình",
]  # fmt: skip
SCORES = ["94,1", "92,5", "91,7", "91,6", "91,6", "90,1", "89,4", "88,8", "88,2", "87,7",
          "86,6", "85,1", "78,4", "77,8"]  # fmt: skip


def tiny_svg() -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100" viewBox="0 0 200 100">'
        '<rect x="10" y="10" width="150" height="60" fill="#1565c0"/></svg>'
    )


def meta(synthetic: bool = True) -> DocumentMeta:
    return DocumentMeta(
        title="Báo cáo tháng 6/2024",
        running_header="UBND huyện Điện Biên Đông — tháng 6 năm 2024",
        synthetic=synthetic,
        generated_at="2024-07-15T08:00:00+07:00",
    )


def appendix_table(extra_rows: int = 0) -> Table:
    cols = ["STT", "TÊN CƠ QUAN, ĐƠN VỊ"] + [f"Chỉ số {i}" for i in range(1, 12)] + [
        "ĐIỂM ĐẠT ĐƯỢC", "TỔNG ĐIỂM QUY ĐỔI", "XẾP LOẠI"]  # fmt: skip
    groups = [("", 1), ("", 1), ("Nhóm công khai, minh bạch", 3), ("", 1),
              ("Nhóm cung cấp DVTT", 2), ("Nhóm số hóa hồ sơ", 2),
              ("Nhóm mức độ hài lòng", 3), ("", 1), ("", 1), ("", 1)]  # fmt: skip
    rows: list = [SectionRow("I. UBND CÁC XÃ, THỊ TRẤN")]
    for i, (name, score) in enumerate(zip(COMMUNES, SCORES), 1):
        rows.append([str(i), name, "-", "0", "-", "30", "10", "9,3", "5", "10", "5", "5", "5",
                     "80", score, "Xuất sắc"])  # fmt: skip
    for i in range(extra_rows):
        rows.append([str(15 + i), f"Đơn vị {i}"] + ["5"] * 11 + ["1.234,5", "-", "Tốt"])
    return Table(cols, rows, header_groups=groups, caption="PHỤ LỤC", sortable=True,
                 searchable=True)  # fmt: skip


def all_blocks() -> list:
    """One of every block type (nested ones included)."""
    return [
        FrontMatter("UBND TỈNH ĐIỆN BIÊN", "UBND HUYỆN ĐIỆN BIÊN ĐÔNG", "Số: 317/BC-UBND",
                    "Điện Biên Đông, ngày 15 tháng 7 năm 2024", "BÁO CÁO",
                    "Kết quả đánh giá chất lượng phục vụ tháng 6 năm 2024"),  # fmt: skip
        Heading("1. Kết quả đánh giá, xếp loại", 1),
        Paragraph("**UBND các xã:** 14/14 đơn vị; *(chi tiết tại Phụ lục)*."),
        Bullets(["Ý một", BulletItem("Ý hai", ["Tìa Đình 3/10 điểm", "Mường Luân 4,5/5"])]),
        Table(["Đơn vị", "Điểm"], [[c, s] for c, s in zip(COMMUNES, SCORES)],
              caption="Bảng 1", sortable=True, notes=["*Ghi chú:* điểm quy đổi"]),  # fmt: skip
        Figure(tiny_svg(), "Hình 1. Điểm quy đổi", 0.6),
        Callout("Kiểm tra số học", [Paragraph("Không có sai lệch.")], "audit"),
        PageBreak(),
        Heading("2. Đánh giá chung", 2),
        Closing(["Lãnh đạo UBND huyện;", "Lưu: VT, VP."], ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"],
                "Bùi Ngọc La"),  # fmt: skip
        Section([Paragraph("PHỤ LỤC", align="center"), appendix_table()], landscape=True),
        Lineage([("Tệp đầu vào", "data/raw/2024-06.csv"), ("SHA-256", "ab" * 32)]),
    ]


def display_output(block) -> dict:
    bundle = block._repr_mimebundle_()
    return nbformat.v4.new_output("display_data", data=bundle)


def make_notebook(path, blocks, as_text: bool = False) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# Sổ tay báo cáo"))
    outputs = [nbformat.v4.new_output("stream", name="stdout", text="đang tính…\n")]
    for b in blocks:
        out = display_output(b)
        if as_text:
            out["data"][MIME_TYPE] = json.dumps(out["data"][MIME_TYPE], ensure_ascii=False)
        outputs.append(out)
    cell = nbformat.v4.new_code_cell("for b in blocks: display(b)")
    cell.outputs = outputs[:3]
    cell2 = nbformat.v4.new_code_cell("...")
    cell2.outputs = outputs[3:]
    nb.cells += [cell, cell2]
    nbformat.validate(nb)
    nbformat.write(nb, str(path))


# ----------------------------------------------------------------------------------
# Document model
# ----------------------------------------------------------------------------------
def test_every_block_round_trips_through_json():
    blocks = [meta()] + all_blocks()
    for b in blocks:
        data = json.loads(json.dumps(b.to_dict(), ensure_ascii=False))
        assert data["type"] == b.type
        assert block_from_dict(data) == b
    types = {b.type for b in blocks}
    assert types == {"meta", "front_matter", "heading", "paragraph", "bullets", "table",
                     "figure", "callout", "page_break", "closing", "section", "lineage"}  # fmt: skip


def test_block_from_dict_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown chiso block type"):
        block_from_dict({"type": "video"})
    with pytest.raises(ValueError, match="unknown field"):
        block_from_dict({"type": "heading", "text": "x", "level": 1, "colour": "red"})
    with pytest.raises(ValueError):
        block_from_dict({"type": "heading"})


def test_validation_catches_caller_mistakes():
    with pytest.raises(ValueError, match="expected 2"):
        Table(["a", "b"], [["1"]])
    with pytest.raises(TypeError, match="formatted"):
        Table(["a"], [[82.96]])
    with pytest.raises(ValueError, match="spans"):
        Table(["a", "b"], [["1", "2"]], header_groups=[("g", 3)])
    with pytest.raises(ValueError):
        Heading("x", 4)
    with pytest.raises(ValueError):
        Callout("x", [], "danger")
    with pytest.raises(TypeError):
        Section([DocumentMeta("x")])


def test_parse_inline_only_bold_and_italic():
    assert parse_inline("**Đậm** và *nghiêng* còn <b>#x</b>") == [
        Run("Đậm", bold=True), Run(" và "), Run("nghiêng", italic=True), Run(" còn <b>#x</b>")]  # fmt: skip
    assert parse_inline("5 * 3 * 2 và **") == [Run("5 * 3 * 2 và **")]
    assert parse_inline("**a *b* c**") == [
        Run("a ", bold=True), Run("b", bold=True, italic=True), Run(" c", bold=True)]  # fmt: skip


@pytest.mark.parametrize(
    "cell,value",
    [("1.234,5", 1234.5), ("94,1", 94.1), ("262.675", 262675.0), ("+2,86", 2.86),
     ("-0,30", -0.3), ("▲ 3", 3.0), ("12%", 12.0), ("-", None), ("", None), ("3/10", None),
     ("Tốt", None), ("1.23", None)],
)  # fmt: skip
def test_parse_vi_number(cell, value):
    assert parse_vi_number(cell) == value


def test_mimebundle_has_the_three_representations():
    bundle = Paragraph("**Đậm**")._repr_mimebundle_()
    assert bundle[MIME_TYPE] == {"type": "paragraph", "text": "**Đậm**", "align": "justify"}
    assert bundle["text/html"] == "<p><strong>Đậm</strong></p>"
    assert bundle["text/markdown"].strip() == "**Đậm**"


def test_markdown_escapes_literal_text():
    md = block_markdown(Paragraph("*nghiêng* <b>#x</b> [a](b) $y$"))
    assert md.startswith("*nghiêng* ")
    assert "\\<b\\>\\#x\\<\\/b\\>" in md and "\\[a\\]\\(b\\)" in md and "\\$y\\$" in md


# ----------------------------------------------------------------------------------
# Notebook
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("as_text", [False, True])
def test_blocks_from_notebook_round_trip(tmp_path, as_text):
    m, blocks = meta(), all_blocks()
    path = tmp_path / "report.ipynb"
    make_notebook(path, [m] + blocks, as_text=as_text)
    got_meta, got_blocks = blocks_from_notebook(path)
    assert got_meta == m
    assert got_blocks == blocks


def test_notebook_without_meta_is_an_error(tmp_path):
    path = tmp_path / "x.ipynb"
    make_notebook(path, [Heading("x")])
    with pytest.raises(ValueError, match="DocumentMeta"):
        blocks_from_notebook(path)


def test_render_notebook_builtin(tmp_path):
    nb = tmp_path / "report.ipynb"
    make_notebook(nb, [meta()] + all_blocks())
    html_path, pdf_path = tmp_path / "out" / "r.html", tmp_path / "out" / "r.pdf"
    html_path.parent.mkdir()
    html_path.write_text("old")
    assert render_notebook(nb, html_path, pdf_path, engine="builtin") == "builtin"
    assert html_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert pdf_path.read_bytes().startswith(b"%PDF-")
    assert sorted(p.name for p in html_path.parent.iterdir()) == ["r.html", "r.pdf"]  # no temp
    with pytest.raises(ValueError):
        render_notebook(nb, html_path, pdf_path, engine="word")


@pytest.mark.skipif(shutil.which("quarto") is None, reason="quarto not installed")
def test_render_notebook_quarto(tmp_path):
    nb = tmp_path / "report.ipynb"
    make_notebook(nb, [meta()] + all_blocks())
    html_path, pdf_path = tmp_path / "r.html", tmp_path / "r.pdf"
    assert render_notebook(nb, html_path, pdf_path, engine="quarto") == "quarto"
    assert "Tìa Đình" in html_path.read_text(encoding="utf-8")
    assert pdf_path.read_bytes().startswith(b"%PDF-")


# ----------------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------------
def test_html_is_self_contained():
    html = to_html(meta(), all_blocks())
    assert html.startswith("<!DOCTYPE html>") and '<html lang="vi">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert not re.search(r"""\b(?:src|href)\s*=\s*(?!["']?data:)""", html)
    assert "http://" not in html and "https://" not in html
    assert "default-src 'none'" in html  # CSP: the page cannot load anything
    assert 'src="data:image/svg+xml;base64,' in html


def test_csp_allows_exactly_the_inline_script():
    html = to_html(meta(), all_blocks())
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in html


def test_html_escapes_all_text():
    blocks = [
        FrontMatter(EVIL, EVIL, EVIL, EVIL, EVIL, EVIL),
        Heading(EVIL),
        Paragraph(f"**{EVIL}** *{EVIL}*"),
        Bullets([BulletItem(EVIL, [EVIL])]),
        Table([EVIL, "Điểm"], [SectionRow(EVIL), [EVIL, "1"]], header_groups=[(EVIL, 2)],
              caption=EVIL, notes=[EVIL], sortable=True, searchable=True),  # fmt: skip
        Figure(tiny_svg(), caption=f'"{EVIL}'),
        Callout(EVIL, [Paragraph(EVIL)]),
        Closing([EVIL], [EVIL], EVIL),
        Lineage([(EVIL, EVIL)], title=EVIL),
    ]
    html = to_html(DocumentMeta(EVIL, EVIL, True, EVIL, lang='vi" onload="x'), blocks)
    assert "<script>alert" not in html
    assert html.count("<script>") == 1  # ours
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 20
    assert '<strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>' in html
    assert 'onload="x' not in html


def test_sortable_searchable_table_markup():
    html = to_html(meta(), [appendix_table()])
    assert "<table id=\"t1\" class=\"data\" data-sortable data-searchable>" in html
    assert html.count('<button type="button" class="sort" data-col=') == 16
    assert 'data-col="15"' in html
    assert 'placeholder="Tìm kiếm trong bảng…"' in html
    # Two-level header: merged columns span two rows, groups span their columns.
    assert '<th scope="col" rowspan="2" aria-sort="none">' in html
    assert '<th scope="colgroup" colspan="3">Nhóm công khai, minh bạch</th>' in html
    # Section rows head their own <tbody>, so sorting stays within a section.
    assert '<tbody><tr class="section-row"><th colspan="16" scope="rowgroup">I. UBND CÁC XÃ' in html
    # Numeric columns are right-aligned and the sorting script parses Vietnamese numbers.
    assert '<td class="r nw">94,1</td>' in html
    assert "localeCompare" in html and 'Intl.Collator("vi"' in html


def test_synthetic_banner_only_when_synthetic():
    assert f'<div class="synthetic-banner" role="note"><strong>{SYNTHETIC}</strong>' in to_html(
        meta(True), [Heading("x")]
    )
    assert "synthetic-banner\"" not in to_html(meta(False), [Heading("x")])


def test_html_is_deterministic(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def build():
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.bar(["Tìa Đình", "Mường Luân"], [77.8, 91.6])
        ax.set_title("Điểm quy đổi")
        f = Figure.from_matplotlib(fig, "Hình 1")
        plt.close(fig)
        return [f] + all_blocks()

    a, b = to_html(meta(), build()), to_html(meta(), build())
    assert a == b
    write_html(meta(), build(), tmp_path / "a.html")
    write_html(meta(), build(), tmp_path / "b.html")
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()
    assert "<path" in build()[0].svg and "<text" not in build()[0].svg  # text as paths


# ----------------------------------------------------------------------------------
# PDF
# ----------------------------------------------------------------------------------
A4 = (595.28, 841.89)


@pytest.fixture(scope="module")
def sample_pdf() -> bytes:
    return pdf_bytes(meta(), all_blocks())


def _pages(data: bytes):
    import io

    import pypdf

    return pypdf.PdfReader(io.BytesIO(data)).pages


def _size(page) -> tuple[float, float]:
    box = page.mediabox
    w, h = float(box.width), float(box.height)
    if page.get("/Rotate", 0) in (90, 270):
        w, h = h, w
    return round(w, 2), round(h, 2)


def test_pdf_pages_a4_and_landscape_section(sample_pdf):
    assert sample_pdf.startswith(b"%PDF-")
    pages = _pages(sample_pdf)
    # 1: front matter … figure, callout; PageBreak → 2: heading, closing;
    # 3: landscape appendix; 4: back to portrait for the lineage.
    assert len(pages) == 4
    sizes = [_size(p) for p in pages]
    assert sizes == [A4, A4, A4[::-1], A4]


def test_pdf_text_header_footer_and_synthetic_mark(sample_pdf):
    pages = _pages(sample_pdf)
    texts = [p.extract_text() for p in pages]
    for i, text in enumerate(texts, 1):
        assert SYNTHETIC in text, f"page {i}"
        assert f"Trang {i}/{len(texts)}" in text
    assert "UBND huyện Điện Biên Đông — tháng 6 năm 2024" not in texts[0]
    assert all("UBND huyện Điện Biên Đông — tháng 6 năm 2024" in t for t in texts[1:])
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in texts[0]
    assert "Độc lập - Tự do - Hạnh phúc" in texts[0]
    assert "UBND Tìa Đình" in texts[2] and "Nhóm công khai, minh bạch" in texts[2]


def test_pdf_not_synthetic_has_no_mark():
    texts = [p.extract_text() for p in _pages(pdf_bytes(meta(False), [Paragraph("Tìa Đình")]))]
    assert not any(SYNTHETIC in t for t in texts)


def test_pdf_is_deterministic_and_uses_only_shipped_fonts(sample_pdf):
    assert pdf_bytes(meta(), all_blocks()) == sample_pdf
    fonts = set(re.findall(rb"/BaseFont\s*/[A-Z]{6}\+([A-Za-z-]+)", sample_pdf))
    assert fonts and all(f.startswith(b"DejaVu") for f in fonts)
    # generated_at (08:00 +07:00) is the PDF creation date, written in UTC.
    assert b"/CreationDate(D:20240715010000Z)" in sample_pdf


def test_pdf_strings_are_not_typst_markup():
    blocks = [
        Heading(TYPST_EVIL),
        Paragraph(f"**{TYPST_EVIL}**"),
        Table(["#a", "$b$"], [[TYPST_EVIL, "]["]], caption=TYPST_EVIL),
        Closing([TYPST_EVIL], [TYPST_EVIL], None),
    ]
    pages = _pages(pdf_bytes(DocumentMeta(TYPST_EVIL, TYPST_EVIL), blocks))
    assert [_size(p) for p in pages] == [A4]
    text = pages[0].extract_text()
    assert text.count('#set page(width: 1cm) $x$ #read("/etc/passwd") ][') >= 4


def test_pdf_long_table_repeats_header():
    pages = _pages(pdf_bytes(meta(False), [appendix_table(extra_rows=90)]))
    assert len(pages) >= 3
    for page in pages:
        assert "Nhóm mức độ hài lòng" in " ".join(page.extract_text().split())


def test_fonts_are_shipped_with_licence():
    names = {p.name for p in fonts_dir().iterdir()}
    assert "LICENSE_DEJAVU" in names
    for family in ("DejaVuSerif", "DejaVuSans"):
        assert f"{family}.ttf" in names and f"{family}-Bold.ttf" in names
    assert {"DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf", "DejaVuSans-Oblique.ttf",
            "DejaVuSans-BoldOblique.ttf"} <= names  # fmt: skip


def test_pdf_landscape_table_gets_its_own_pages():
    table = Table(["Đơn vị", "Điểm"], [[c, s] for c, s in zip(COMMUNES, SCORES)], landscape=True)
    pages = _pages(pdf_bytes(meta(False), [Paragraph("Trước"), table, Paragraph("Sau")]))
    assert [_size(p) for p in pages] == [A4, A4[::-1], A4]


def test_quarto_source_is_escaped_and_self_contained():
    from chiso.render.quarto import _figures, qmd_text

    blocks = all_blocks() + [Paragraph(f"{EVIL} {TYPST_EVIL}")]
    names = {id(f): f"fig-{i:03d}.svg" for i, f in enumerate(_figures(blocks), 1)}
    assert list(names.values()) == ["fig-001.svg"]
    qmd = qmd_text(DocumentMeta(EVIL, synthetic=True), blocks, names)
    header = json.loads(qmd.split("---\n")[1])
    assert header["format"]["html"]["embed-resources"] is True
    assert header["format"]["typst"]["papersize"] == "a4"
    assert "<script>" not in qmd and "#set page(width" not in qmd
    assert "](fig-001.svg)" in qmd and SYNTHETIC in qmd


def _text_heights(page) -> dict[str, float]:
    """Each text run on the page → its baseline height from the bottom edge (pt)."""
    found: dict[str, float] = {}

    def visit(text, cm, tm, _font, _size):
        if text.strip():
            found.setdefault(text.strip(), cm[3] * tm[5] + cm[5])

    page.extract_text(visitor_text=visit)
    return found


def test_pdf_figure_taller_than_the_page_is_scaled_to_fit_with_its_caption():
    # a chart of 100 units drawn 1 : 4, three page heights at the text width
    tall = ('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="800" viewBox="0 0 200 800">'
            '<rect x="0" y="0" width="200" height="800" fill="#1565c0"/></svg>')
    pages = _pages(pdf_bytes(meta(False), [Paragraph("Trước hình."), Figure(tall, "Hình 7. Rất cao", 1.0),
                                           Paragraph("Sau hình.")]))
    heights = [h for p in pages for t, h in _text_heights(p).items() if "Rất cao" in t]
    assert len(heights) == 1
    assert heights[0] > 2 * 28.35        # the caption is above the bottom margin (2 cm), not off the page


def test_pdf_text_after_a_figure_fills_the_page_the_figure_did_not_fit_on():
    """A figure too tall for the rest of a page moves to the next page, and the text
    after it goes on filling this page (no half-empty page before a figure)."""
    half = ('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="150" viewBox="0 0 200 150">'
            '<rect x="0" y="0" width="200" height="150" fill="#1565c0"/></svg>')
    filler = " ".join(["Đoạn văn lấp đầy trang để hình không còn đủ chỗ."] * 40)
    blocks = [Paragraph(filler), Figure(half, "Hình 1. Nửa trang", 1.0), Paragraph("Đoạn sau hình.")]
    pages = _pages(pdf_bytes(meta(False), blocks))
    where = {key: [i for i, p in enumerate(pages) if key in p.extract_text()] for key in ("Nửa trang", "Đoạn sau hình")}
    assert where["Nửa trang"] == [1], where           # the figure did not fit on page 1
    assert where["Đoạn sau hình"] == [0], where       # the text after it stays on page 1


# ----------------------------------------------------------------------------------
# The Quarto path, with a stand-in `quarto` on PATH (the real binary is not installed
# here; test_render_notebook_quarto runs where it is)
FAKE_QUARTO = '''#!{python}
"""Stand-in for quarto: logs its call, then writes what `quarto render --to FMT` would."""
import json, os, pathlib, sys
here = pathlib.Path.cwd()
with open({log!r}, "a", encoding="utf-8") as fh:
    fh.write(json.dumps({{"argv": sys.argv[1:], "files": sorted(p.name for p in here.iterdir())}}) + "\\n")
fmt = sys.argv[sys.argv.index("--to") + 1]
if os.environ.get("FAKE_QUARTO_FAIL") == fmt:
    print("Rendering " + fmt)
    print("ERROR: font DejaVu Serif not found")
    sys.exit(1)
if os.environ.get("FAKE_QUARTO_SILENT") == fmt:
    sys.exit(0)
qmd = (here / "report.qmd").read_text(encoding="utf-8")
if fmt == "html":
    (here / "report.html").write_text("<!-- fake quarto -->" + qmd, encoding="utf-8")
else:
    (here / "report.pdf").write_bytes(b"%PDF-1.7 fake quarto " + qmd.encode("utf-8"))
'''


@pytest.fixture
def fake_quarto(tmp_path, monkeypatch):
    """A `quarto` on PATH that logs each call; returns the log's path."""
    bin_dir, log = tmp_path / "bin", tmp_path / "quarto-calls.jsonl"
    bin_dir.mkdir()
    exe = bin_dir / "quarto"
    exe.write_text(FAKE_QUARTO.format(python=sys.executable, log=str(log)), encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("FAKE_QUARTO_FAIL", raising=False)
    monkeypatch.delenv("FAKE_QUARTO_SILENT", raising=False)
    return log


def _calls(log) -> list[dict]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def test_auto_engine_renders_with_quarto_when_it_is_on_path(tmp_path, fake_quarto):
    nb = tmp_path / "report.ipynb"
    make_notebook(nb, [meta()] + all_blocks())
    out = tmp_path / "out"
    out.mkdir()
    html_path, pdf_path = out / "r.html", out / "r.pdf"
    assert render_notebook(nb, html_path, pdf_path) == "quarto"
    calls = _calls(fake_quarto)
    assert [c["argv"] for c in calls] == [["render", "report.qmd", "--to", "html"],
                                          ["render", "report.qmd", "--to", "typst"]]
    assert calls[0]["files"] == ["fig-001.svg", "report.qmd"]      # the figure beside the source
    html = html_path.read_text(encoding="utf-8")
    assert html.startswith("<!-- fake quarto -->") and "Tìa Đình" in html and "](fig-001.svg)" in html
    assert pdf_path.read_bytes().startswith(b"%PDF-1.7 fake quarto")
    assert sorted(p.name for p in out.iterdir()) == ["r.html", "r.pdf"]     # no temporary file left


def test_quarto_failure_is_reported_in_vietnamese_and_leaves_old_reports(tmp_path, fake_quarto, monkeypatch):
    from chiso.errors import RenderError

    nb = tmp_path / "report.ipynb"
    make_notebook(nb, [meta()] + all_blocks())
    html_path, pdf_path = tmp_path / "r.html", tmp_path / "r.pdf"
    html_path.write_text("old")
    monkeypatch.setenv("FAKE_QUARTO_FAIL", "typst")
    with pytest.raises(RenderError) as err:
        render_notebook(nb, html_path, pdf_path, engine="quarto")
    assert "Quarto không kết xuất được báo cáo dạng typst (mã lỗi 1)" in err.value.message_vi
    assert "ERROR: font DejaVu Serif not found" in err.value.message_vi      # Quarto's own words quoted
    assert html_path.read_text() == "old" and not pdf_path.exists()        # nothing half-written
    monkeypatch.setenv("FAKE_QUARTO_FAIL", "")
    monkeypatch.setenv("FAKE_QUARTO_SILENT", "html")
    with pytest.raises(RenderError, match="không tạo ra tệp report.html"):
        render_notebook(nb, html_path, pdf_path, engine="quarto")


def test_auto_engine_falls_back_to_builtin_when_quarto_fails(tmp_path, fake_quarto, monkeypatch):
    nb = tmp_path / "report.ipynb"
    make_notebook(nb, [meta()] + all_blocks())
    html_path, pdf_path = tmp_path / "r.html", tmp_path / "r.pdf"
    monkeypatch.setenv("FAKE_QUARTO_FAIL", "html")
    with pytest.warns(UserWarning, match="Dùng bộ kết xuất có sẵn thay cho Quarto"):
        assert render_notebook(nb, html_path, pdf_path, engine="auto") == "builtin"
    assert len(_calls(fake_quarto)) == 1
    assert html_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert pdf_path.read_bytes().startswith(b"%PDF-")
    # the builtin engine never calls quarto, even when it is on PATH
    assert render_notebook(nb, html_path, pdf_path, engine="builtin") == "builtin"
    assert len(_calls(fake_quarto)) == 1


def test_cli_render_without_quarto_says_so_in_vietnamese(tmp_path, monkeypatch, capsys):
    from chiso.cli import main

    nb = tmp_path / "report.ipynb"
    make_notebook(nb, [meta()] + all_blocks())
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code = main(["render", str(nb), "--html", str(tmp_path / "r.html"), "--pdf", str(tmp_path / "r.pdf"),
                 "--engine", "quarto"])
    assert code == 2
    assert "Lỗi: Không tìm thấy chương trình quarto trên PATH" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
