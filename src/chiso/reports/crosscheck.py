"""Reports for reviewers of the two cross-checks: the national portal's figures
recomputed (QĐ 766, then QĐ 459 on the same counts) and a QĐ 1187 quarterly report
recomputed from its dossier counts.

Every sentence is built from the tables the ``national_portal`` and ``qd1187`` stages
wrote; nothing here scores or rounds on its own (``chiso.compare`` does).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from .. import charts, compare, doc
from ..io import sha256
from ..lineage import code_version, generation_iso, generation_time
from ..numbers import fmt_count, fmt_num, fmt_signed, fmt_units
from ..params import load_methodology, load_params
from ..portal import REASONS, REPRODUCTION_TOLERANCE


def _pct(part: int, whole: int) -> str:
    return fmt_num(100 * part / whole, 1) + " %" if whole else "-"


# ----------------------------------------------------------------------------------
# National portal: QĐ 766 recomputed, QĐ 459 on the same counts
# ----------------------------------------------------------------------------------
def national_blocks(capture: str, params_file: str | Path = "params.yaml", root: str | Path = ".") -> list[doc.Block]:
    """All blocks of the report on one portal capture (DocumentMeta first)."""
    root = Path(root)
    params = load_params(root / params_file)
    m766, m459 = load_methodology("qd766-2022", params), load_methodology("qd459-2023", params)
    out = compare.national_portal_dir(capture, root)
    repro = pl.read_parquet(out / "reproduction_qd766.parquet")
    side = pl.read_parquet(out / "qd766_vs_qd459.parquet")
    source = root / "data/raw/national-portal" / f"{capture}.json"

    n_units = side.height
    scored = side.filter(~pl.col("qd459_excluded").fill_null(False) & ~pl.col("qd766_excluded").fill_null(False))
    rho = scored.select(pl.corr("qd766_converted", "qd459_converted", method="spearman")).item()
    def name(code: str) -> str:
        try:
            return m766.indicator(code).name
        except KeyError:
            return code

    metrics = repro.filter(pl.col("metric") != "TOTAL")
    is_tracked = pl.col("reason") == REASONS["tracked"]       # max 0: tracked, not scored
    tracked, pointed = metrics.filter(is_tracked), metrics.filter(~is_tracked)
    recomputed = pointed.filter(pl.col("n_recomputed") > 0)
    exact = recomputed.filter(pl.col("n_matched") == pl.col("n_recomputed"))
    total = repro.filter(pl.col("metric") == "TOTAL").row(0, named=True) if "TOTAL" in repro["metric"] else None
    carried = pointed.filter(pl.col("n_recomputed") == 0)

    blocks: list[doc.Block] = [
        doc.DocumentMeta(title=f"Tính lại điểm Cổng Dịch vụ công quốc gia: {capture}",
                         running_header="Đối chiếu QĐ 766 và QĐ 459", generated_at=generation_iso()),
        doc.Heading("Tính lại điểm Bộ chỉ số quốc gia (QĐ 766) từ số liệu của Cổng Dịch vụ công quốc gia "
                    "và đối chiếu với Bộ chỉ số của tỉnh (QĐ 459)", 1),
        doc.Paragraph(
            f"Tệp {source.name} chứa số liệu của {fmt_count(n_units)} đơn vị. Với mỗi chỉ tiêu có tử số và mẫu số, "
            f"điểm được tính lại theo {m766.short_name} và so với điểm Cổng công bố (sai số cho phép "
            f"{fmt_num(REPRODUCTION_TOLERANCE, 2)} điểm, vì Cổng in điểm với hai chữ số thập phân); sau đó cùng số liệu được chấm "
            f"theo {m459.short_name}."),
        doc.Heading("1. Tính lại điểm của Cổng theo QĐ 766", 2),
    ]
    summary = [
        f"{fmt_units(exact.height)}/{fmt_units(recomputed.height)} chỉ tiêu có điểm và có tử số, mẫu số khớp với Cổng "
        f"ở mọi đơn vị (chênh lệch lớn nhất {fmt_num(recomputed['max_abs_diff'].max())} điểm).",
    ]
    if total is not None:
        summary.append(f"Tổng điểm: {fmt_count(total['n_matched'])}/{fmt_count(total['n_recomputed'])} đơn vị khớp "
                       f"(chênh lệch lớn nhất {fmt_num(total['max_abs_diff'])} điểm).")
    if carried.height:
        by_reason = carried.group_by("reason", maintain_order=True).agg(pl.col("metric"))
        summary.append(f"{fmt_units(carried.height)} chỉ tiêu không tính lại được: " + "; ".join(
            f"{', '.join(name(c) for c in r['metric'])} ({(r['reason'] or '').rstrip('.')})"
            for r in by_reason.iter_rows(named=True)) + ".")
    if tracked.height:
        summary.append(f"{fmt_units(tracked.height)} chỉ tiêu chỉ theo dõi (0 điểm tối đa, Cổng không chấm điểm): "
                       + "; ".join(name(c) for c in tracked["metric"].to_list()) + ".")
    blocks.append(doc.Bullets(summary))

    blocks.append(doc.Table(
        columns=["Nhóm", "Chỉ tiêu", "Số đơn vị", "Tính lại", "Khớp", "Chênh lệch lớn nhất", "Ghi chú"],
        rows=[[r["group"] or "", name(r["metric"]) if r["metric"] != "TOTAL" else "Tổng điểm", fmt_count(r["n_units"]),
               fmt_count(r["n_recomputed"]), fmt_count(r["n_matched"]), fmt_num(r["max_abs_diff"]), r["reason"] or ""]
              for r in repro.iter_rows(named=True)],
        widths=[0.95, 3.2, 0.8, 0.8, 0.8, 1.0, 2.6], caption="Bảng 1. Kết quả tính lại từng chỉ tiêu của QĐ 766"))

    blocks.append(doc.Heading("2. QĐ 766 và QĐ 459 trên cùng số liệu", 2))
    moved = scored.with_columns((pl.col("qd766_rank_all") - pl.col("qd459_rank_all")).alias("_up"))
    up = moved.sort("_up", "unit", descending=[True, False]).head(3)
    down = moved.sort("_up", "unit", descending=[False, False]).head(3)
    diff_tier = scored.filter(pl.col("qd766_tier") != pl.col("qd459_tier")).height
    mean766, mean459 = scored["qd766_converted"].mean(), scored["qd459_converted"].mean()
    blocks.append(doc.Bullets([
        f"{fmt_count(scored.height)} đơn vị được chấm theo cả hai bộ chỉ số "
        f"({fmt_count(n_units - scored.height)} đơn vị không đủ chỉ tiêu để chấm theo một trong hai)."
        if n_units != scored.height else f"{fmt_count(scored.height)} đơn vị được chấm theo cả hai bộ chỉ số.",
        f"Điểm quy đổi bình quân: {fmt_num(mean766, 2)} theo QĐ 766, {fmt_num(mean459, 2)} theo QĐ 459 "
        f"({fmt_signed(mean459 - mean766)} điểm).",
        f"Tương quan thứ hạng (Spearman) giữa hai bộ chỉ số: {fmt_num(rho, 2)}; {fmt_count(diff_tier)} đơn vị "
        f"({_pct(diff_tier, scored.height)}) có xếp loại khác nhau.",
        "Lên hạng nhiều nhất khi chấm theo QĐ 459: " + "; ".join(
            f"{r['unit']} (hạng {r['qd766_rank_all']} → {r['qd459_rank_all']})" for r in up.iter_rows(named=True)) + ".",
        "Xuống hạng nhiều nhất: " + "; ".join(
            f"{r['unit']} (hạng {r['qd766_rank_all']} → {r['qd459_rank_all']})" for r in down.iter_rows(named=True)) + ".",
    ]))
    blocks.append(doc.Figure(
        charts.score_scatter(scored, "qd766_converted", "qd459_converted", m766.short_name, m459.short_name,
                             "Điểm quy đổi của từng đơn vị theo hai bộ chỉ số", top=max(m766.scale, m459.scale)),
        caption=f"Hình 1. Điểm quy đổi theo {m766.short_name} (trục ngang) và {m459.short_name} (trục dọc); "
                "đường chéo: hai điểm bằng nhau", width=0.7))
    assumptions = [f"{m459.indicator(c).name}: {a}" for c, a in m459.assumptions()] + list(m459.general_assumptions)
    if assumptions:
        blocks.append(doc.Paragraph(f"Giả định khi chấm {m459.short_name} từ số liệu của Cổng (ghi trong tệp phương pháp):"))
        blocks.append(doc.Bullets(assumptions))

    rows = [[r["unit"], r["unit_group"] or "", fmt_num(r["qd766_converted"]), r["qd766_tier"] or "-",
             "-" if r["qd766_rank_all"] is None else str(r["qd766_rank_all"]),
             fmt_num(r["qd459_converted"]), r["qd459_tier"] or "-",
             "-" if r["qd459_rank_all"] is None else str(r["qd459_rank_all"])]
            for r in side.sort("qd766_rank_all", "unit", nulls_last=True).iter_rows(named=True)]
    blocks.append(doc.Table(
        columns=["Đơn vị", "Nhóm", "Điểm", "Xếp loại", "Hạng", "Điểm", "Xếp loại", "Hạng"],
        header_groups=[("", 1), ("", 1), (m766.short_name, 3), (m459.short_name, 3)], rows=rows,
        widths=[3.2, 1.8, 0.8, 1.0, 0.6, 0.8, 1.0, 0.6], sortable=True, searchable=True, landscape=True,
        caption="Phụ lục. Điểm quy đổi, xếp loại và hạng (trong toàn tỉnh) của từng đơn vị theo hai bộ chỉ số"))
    blocks.append(doc.Lineage(items=[
        ("Tệp nguồn", f"{source.relative_to(root)} (sha256 {sha256(source)[:12]})"),
        ("Bảng", f"data/processed/national-portal/{capture}/reproduction_qd766.parquet, qd766_vs_qd459.parquet"),
        ("Phương pháp", f"{m766.short_name}; {m459.short_name}"),
        ("Phiên bản mã", code_version(root)), ("Thời điểm tạo", generation_time())]))
    return blocks


# ----------------------------------------------------------------------------------
# QĐ 1187: a quarterly report recomputed from its counts
# ----------------------------------------------------------------------------------
def qd1187_blocks(report_id: str, params_file: str | Path = "params.yaml", root: str | Path = ".") -> list[doc.Block]:
    """All blocks of the report on one QĐ 1187 quarterly report (DocumentMeta first)."""
    root = Path(root)
    params = load_params(root / params_file)
    meth = load_methodology("qd1187-2019", params)
    out = compare.qd1187_dir(report_id, root)
    comp = pl.read_parquet(out / "comparison.parquet")
    wrong = compare.mismatches(comp)
    other = comp.filter(~pl.col("status").is_in([compare.STATUS_MATCH, compare.STATUS_MISMATCH]))
    units = comp.filter(pl.col("level") == "đơn vị")["unit"].n_unique()
    checked = comp.height
    by_status = comp.group_by("status").len().sort("len", "status", descending=[True, False])
    maxima = sorted({i.max for i in meth.indicators})
    criteria_max = (f"mỗi tiêu chí tối đa {fmt_num(maxima[0], 0)} điểm" if len(maxima) == 1
                    else "tối đa " + ", ".join(f"{fmt_num(i.max, 0)} ({i.code})" for i in meth.indicators) + " điểm")
    blocks: list[doc.Block] = [
        doc.DocumentMeta(title=f"Kiểm tra báo cáo quý theo QĐ 1187: {report_id}",
                         running_header="Kiểm tra điểm tiêu chí QĐ 1187", generated_at=generation_iso()),
        doc.Heading(f"Tính lại điểm tiêu chí theo {meth.short_name} từ số hồ sơ và kiểm tra bảng công bố", 1),
        doc.Paragraph(
            f"Từ số hồ sơ ghi trong báo cáo ({report_id}), {len(meth.indicators)} tiêu chí ({criteria_max}) của "
            f"{fmt_count(units)} đơn vị được tính lại và so với điểm đã công bố, trong phạm vi độ chính xác của số in. "
            f"{fmt_count(checked)} giá trị được đối chiếu (điểm tiêu chí và tổng điểm):"),
        doc.Bullets([f"{r['status'][:1].upper()}{r['status'][1:]}: {fmt_count(r['len'])} ({_pct(r['len'], checked)})"
                     for r in by_status.iter_rows(named=True)]),
    ]
    if wrong.height:
        blocks.append(doc.Table(
            columns=list(compare.MISMATCH_COLUMNS), rows=compare.mismatch_rows(wrong),
            widths=[2.2, 0.8, 0.8, 0.8, 0.9, 4.6], sortable=True,
            caption=f"Bảng 1. {fmt_count(wrong.height)} giá trị công bố khác giá trị tính lại "
                    f"(cũng ghi trong data/processed/qd1187/{report_id}/discrepancies.csv)"))
    if other.height:
        reasons = other.group_by("status", "reason").len().sort("len", "reason", descending=[True, False])
        blocks.append(doc.Table(
            columns=["Kết luận", "Lý do", "Số giá trị"],
            rows=[[r["status"], r["reason"] or "", fmt_count(r["len"])] for r in reasons.iter_rows(named=True)],
            widths=[1.6, 5.0, 0.9], caption="Bảng 2. Các giá trị không đối chiếu được và lý do"))
    folder = root / "data/raw/qd1187" / report_id
    blocks.append(doc.Lineage(items=[
        ("Thư mục nguồn", str(folder.relative_to(root))),
        ("Bảng", f"data/processed/qd1187/{report_id}/comparison.parquet, discrepancies.csv"),
        ("Phương pháp", meth.short_name), ("Phiên bản mã", code_version(root)), ("Thời điểm tạo", generation_time())]))
    return blocks
