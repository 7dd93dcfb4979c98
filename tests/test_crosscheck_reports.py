"""The reviewer reports of the national-portal and QĐ 1187 cross-checks: every figure
in the prose is the one the stage's tables give."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from chiso import compare, doc
from chiso.numbers import fmt_count, fmt_num
from chiso.reports import crosscheck
from chiso.render import to_pdf, write_html

from .helpers import CAPTURE as CAPTURE_FILE
from .helpers import ROOT

CAPTURE = CAPTURE_FILE.stem
QD1187 = "dienbienphu_2022-Q1"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A workspace with the embedded raw data and params, and the two stages' tables."""
    r = tmp_path_factory.mktemp("cc")
    (r / "data").mkdir()
    (r / "data/raw").symlink_to(ROOT / "data/raw")
    (r / "params.yaml").symlink_to(ROOT / "params.yaml")
    compare.national_portal_stage(CAPTURE, root=r)
    compare.qd1187_stage(QD1187, root=r)
    return r


def _text(blocks: list[doc.Block]) -> str:
    out = []
    for b in blocks:
        if isinstance(b, doc.Paragraph):
            out.append(b.text)
        elif isinstance(b, doc.Bullets):
            out.extend(i.text for i in b.items)
    return "\n".join(out)


def test_national_report_figures_come_from_the_tables(workspace, tmp_path):
    blocks = crosscheck.national_blocks(CAPTURE, root=workspace)
    assert isinstance(blocks[0], doc.DocumentMeta)
    text = _text(blocks)
    side = pl.read_parquet(compare.national_portal_dir(CAPTURE, workspace) / "qd766_vs_qd459.parquet")
    scored = side.filter(~pl.col("qd459_excluded") & ~pl.col("qd766_excluded"))
    rho = scored.select(pl.corr("qd766_converted", "qd459_converted", method="spearman")).item()
    assert f"Spearman) giữa hai bộ chỉ số: {fmt_num(rho, 2)}" in text
    assert f"{fmt_count(side.height)} đơn vị" in text
    assert f"{fmt_num(scored['qd766_converted'].mean(), 2)} theo QĐ 766" in text
    repro = pl.read_parquet(compare.national_portal_dir(CAPTURE, workspace) / "reproduction_qd766.parquet")
    total = repro.filter(pl.col("metric") == "TOTAL").row(0, named=True)
    assert f"Tổng điểm: {total['n_matched']}/{total['n_recomputed']} đơn vị khớp" in text
    from chiso.methodology import load

    m766 = load("qd766-2022")
    pointed = repro.filter(pl.col("metric").is_in([i.code for i in m766.indicators if i.max > 0]) & (pl.col("n_recomputed") > 0))
    exact = pointed.filter(pl.col("n_matched") == pl.col("n_recomputed")).height
    assert f"{exact:02d}/{pointed.height:02d} chỉ tiêu có điểm" in text
    tracked = [i.code for i in m766.indicators if i.max == 0 and i.code in repro["metric"].to_list()]
    assert f"{len(tracked):02d} chỉ tiêu chỉ theo dõi" in text
    # the Gia Lai capture as embedded: 149 units, every total and every scored metric reproduced
    assert (side.height, total["n_matched"], total["n_recomputed"]) == (149, 149, 149)
    assert (exact, pointed.height, len(tracked)) == (14, 14, 4)
    # the appendix lists every unit once, in the order of the QĐ 766 rank
    appendix = [b for b in blocks if isinstance(b, doc.Table)][-1]
    assert len(appendix.rows) == side.height and appendix.landscape
    write_html(blocks[0], blocks[1:], tmp_path / "r.html")
    to_pdf(blocks[0], blocks[1:], tmp_path / "r.pdf")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script src=" not in html and "Tương quan thứ hạng" in html
    assert (tmp_path / "r.pdf").read_bytes()[:4] == b"%PDF"


def test_qd1187_report_counts_every_status(workspace):
    blocks = crosscheck.qd1187_blocks(QD1187, root=workspace)
    text = _text(blocks)
    comp = pl.read_parquet(compare.qd1187_dir(QD1187, workspace) / "comparison.parquet")
    shown = {m.group(1).lower(): int(m.group(2).replace(".", ""))
             for m in re.finditer(r"^(.+?): ([\d.]+) \(", text, flags=re.M)}
    expected = dict(comp.group_by("status").len().iter_rows())
    assert shown == expected
    # the Điện Biên Phủ Q1/2022 report as embedded: 240 published values
    assert expected == {compare.STATUS_MATCH: 124, compare.STATUS_MISMATCH: 21, compare.STATUS_CARRIED: 64,
                        compare.STATUS_NO_INPUT: 23, compare.STATUS_NO_PUBLISHED: 8}
    wrong = comp.filter(pl.col("status") == compare.STATUS_MISMATCH).height
    tables = [b for b in blocks if isinstance(b, doc.Table)]
    assert len(tables[0].rows) == wrong and f"{wrong} giá trị công bố khác" in tables[0].caption
    assert sum(int(r[-1]) for r in tables[1].rows) == comp.height - wrong - expected.get(compare.STATUS_MATCH, 0)
