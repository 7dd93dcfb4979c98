"""The monthly report of a published table: results, audit and the appendix.

Every sentence is generated from the scored data; nothing is typed per month.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from .. import doc
from ..audit import FINDING_COLUMNS, finding_rows
from ..io import sha256
from ..lineage import code_version, file_entries, generation_iso, generation_time
from ..methodology import Methodology
from ..numbers import fmt_num, fmt_units
from ..params import load_params
from ..published import meta_path, read_published
from ..methodology import METHODOLOGY_DIR
from ..stages import Layout, _methodology_for
from .assessment import achievements, gap_table, recommendation_items, short_name, weakness_items
from .sections import appendix, changed_knobs, knobs_callout, result_charts, tier_results



def period_words(period: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{4})-(\d{2})", period)
    if not m:
        raise ValueError(f"Kỳ báo cáo không hợp lệ: {period!r} (cần dạng YYYY-MM).")
    return int(m.group(1)), int(m.group(2))


def build_published_report(table_id: str, params_file: str | Path = "params.yaml", root: str | Path = ".") -> list[doc.Block]:
    root = Path(root)
    params = load_params(root / params_file)
    lay = Layout(table_id, root)
    meth = _methodology_for(table_id, params, root)
    table = read_published(lay.raw_csv, meth)
    meta = table.meta
    units = pl.read_parquet(lay.processed / "units.parquet")
    groups = pl.read_parquet(lay.processed / "groups.parquet")
    points = pl.read_parquet(lay.processed / "points.parquet")
    findings = pl.read_parquet(lay.processed / "audit.parquet")
    year, month = period_words(str(meta["period"]))
    area = meta.get("area_name", "")
    subject = ("Kết quả đánh giá chất lượng phục vụ người dân, doanh nghiệp trong thực hiện thủ tục hành chính, "
               "dịch vụ công theo thời gian thực trên môi trường điện tử")
    subtitle = f"{subject} {area} tháng {month} năm {year}"
    synthetic = bool(meta.get("synthetic", False))

    blocks: list[doc.Block] = [
        doc.DocumentMeta(title=f"Báo cáo tháng {month}/{year} – {area}", running_header=f"{area[:1].upper() + area[1:]} – tháng {month}/{year}",
                         synthetic=synthetic, generated_at=generation_iso()),
        doc.FrontMatter(issuer_parent=meta.get("issuer_parent", ""), issuer=meta.get("issuer", ""),
                        number=f"Số:        /{(meta.get('report_number') or '/BC-UBND').split('/', 1)[1]}",
                        place_date=f"{meta.get('place', '')}, ngày      tháng      năm {year}",
                        title="BÁO CÁO", subtitle=subtitle),
        doc.Paragraph(f"Căn cứ {meth.decision} ban hành {meth.title[0].lower() + meth.title[1:]};"),
        doc.Paragraph(
            "Trên cơ sở số liệu thống kê từ " + ", ".join(meta.get("data_sources") or []) +
            f" (bảng phụ lục kèm theo Báo cáo số {meta.get('report_number')} ngày "
            f"{_date_vi(meta.get('report_date'))} của {_issuer_text(meta)}, "
            "được chép lại, kiểm tra và tính lại toàn bộ), kết quả đánh giá như sau:"),
    ]
    knobs = changed_knobs(meth)
    blocks.extend(knobs_callout(meth))

    # 1. Results and tiers per unit group
    claims = {c["unit_group"]: c for c in meta.get("text_claims") or []}
    blocks.extend(tier_results(
        units, meth,
        expected={g: c["units_expected"] for g, c in claims.items() if c.get("units_expected")},
        not_scored_note={g: c.get("not_scored_reason") for g, c in claims.items() if c.get("not_scored_reason")}))
    zero = findings.filter(pl.col("check") == "zero_on_dossier_indicators")
    if zero.height:
        names = ", ".join(short_name(u) for u in zero["unit"].to_list())
        blocks.append(doc.Paragraph(
            f"*Ghi chú: {fmt_units(zero.height)} đơn vị ({names}) được 0 điểm ở mọi chỉ số tính từ hồ sơ, nhiều khả năng do "
            "không phát sinh hồ sơ trong tháng. Bảng gốc vẫn chấm các đơn vị này; theo quy tắc mặc định của chiso "
            f"(no_dossier_policy = {meth.no_dossier_policy}) đơn vị không phát sinh hồ sơ "
            + ("không được chấm điểm" if meth.no_dossier_policy == "exclude" else "được 0 điểm ở các chỉ số hồ sơ")
            + "; số liệu đầu vào ở đây không cho biết số hồ sơ nên giữ nguyên cách chấm của bảng gốc.*"))

    blocks.extend(result_charts(units, groups, meth, month, year))

    # Audit of the published table, right after the results it qualifies
    blocks.extend(audit_blocks(findings, table.wide.height, meth))

    # 2. General assessment
    blocks.append(doc.Heading("2. Đánh giá chung", 1))
    blocks.append(doc.Heading("2.1. Kết quả đạt được", 2))
    got = achievements(points, meth)
    blocks.append(doc.Bullets(got) if got else doc.Paragraph("Chưa có chỉ số nào được toàn bộ đơn vị đạt điểm tối đa."))
    blocks.append(doc.Paragraph(f"*Dữ liệu đầu vào chỉ có số liệu tháng {month}/{year}, nên báo cáo chưa so sánh với tháng trước "
                                "và cùng kỳ năm trước.*"))
    blocks.append(doc.Heading("2.2. Tồn tại, hạn chế", 2))
    no_dossier = set(zero["unit"].to_list())
    weak = weakness_items(points, meth, no_dossier)
    blocks.append(doc.Bullets([doc.BulletItem(t, sub) for t, sub in weak]) if weak
                  else doc.Paragraph("Không có chỉ số nào dưới điểm tối đa."))
    if no_dossier:
        blocks.append(doc.Paragraph(f"*Các chỉ số tính từ hồ sơ của {fmt_units(len(no_dossier))} đơn vị không phát sinh hồ sơ "
                                    f"({', '.join(short_name(u) for u in sorted(no_dossier))}) không được nêu ở trên.*"))
    near = float((params.get("report") or {}).get("near_boundary", 5))
    gaps = gap_table(units, points, meth, near)
    blocks.append(doc.Heading("3. Điểm cần thêm để lên hạng", 1))
    if gaps is None:
        blocks.append(doc.Paragraph(f"Không có đơn vị nào cách hạng kế tiếp trong phạm vi {fmt_num(near, 0)} điểm quy đổi."))
    else:
        blocks.append(gaps)
    blocks.append(doc.Heading("4. Đề xuất, kiến nghị", 1))
    recs = recommendation_items(points, meth, no_dossier)
    blocks.append(doc.Bullets(recs) if recs else doc.Paragraph("Duy trì kết quả đạt được; không có chỉ số nào cần khắc phục."))
    if (lay.processed / "uncertainty_units.parquet").exists():
        from ..uncertainty import read_results
        from .robustness import robustness_blocks

        res = read_results(lay.processed)
        blocks += robustness_blocks(res.summary, res.tiers, meth, settings=res.settings,
                                    title="5. Độ vững của xếp loại", level=1, period=None)
    if meth.assumptions():
        blocks.append(doc.Heading("6. Phương pháp và giả định", 1))
        blocks.append(doc.Paragraph(f"Điểm được tính theo {meth.decision}. Các cách hiểu dưới đây là giả định của chiso, "
                                    "có thể thay đổi trong params.yaml:"))
        blocks.append(doc.Bullets([f"{meth.indicator(c).name} ({c}): {a}" for c, a in meth.assumptions()]))

    blocks.append(doc.Closing(recipients=["Như trên;", "Lưu: VT."], signer_title=meta.get("signer_title") or [], signer_name=None))

    # Appendix
    flagged = {(r["unit"], r["field"]) for r in findings.filter(pl.col("severity") == "error").iter_rows(named=True)}
    title = ("KẾT QUẢ ĐÁNH GIÁ, XẾP LOẠI CHẤT LƯỢNG PHỤC VỤ NGƯỜI DÂN, DOANH NGHIỆP TRONG GIẢI QUYẾT TTHC, DVC "
             f"THEO THỜI GIAN THỰC TRÊN MÔI TRƯỜNG ĐIỆN TỬ {area.upper()} THÁNG {month} NĂM {year}")
    blocks.append(doc.Section(appendix(
        meth, points, units.join(points.select("unit_group", "unit", "row").unique(maintain_order=True), on=["unit_group", "unit"],
                          maintain_order="left"),
        title, flagged=flagged, order="row"), landscape=True))

    # Lineage
    mfile = METHODOLOGY_DIR / f"{meth.id}.yaml"
    items = file_entries([lay.raw_csv, meta_path(lay.raw_csv)], root) + [
        ("Phương pháp", f"{meth.short_name}: {meth.decision} (tệp {mfile.name}, SHA-256 {sha256(mfile)[:16]}…)"),
        ("Tham số", "; ".join(knobs) if knobs else "theo đúng quyết định (params.yaml không thay đổi quy tắc nào)"),
        ("Bộ kiểm tra dữ liệu", "expectations/published_table.json (Great Expectations)"),
        ("Phiên bản mã", code_version(root)),
        ("Thời điểm tạo", generation_time()),
    ]
    blocks.append(doc.Lineage(items=items))
    return blocks


def _date_vi(iso: str | None) -> str:
    if not iso:
        return "…"
    y, m, d = str(iso).split("-")
    return f"{int(d)}/{int(m)}/{y}"


def _issuer_text(meta: dict) -> str:
    issuer = meta.get("issuer", "")
    return "UBND " + meta.get("area_name", issuer) if issuer.startswith("UBND") else issuer


def audit_blocks(findings: pl.DataFrame, n_rows: int, meth: Methodology) -> list[doc.Block]:
    errors = findings.filter(pl.col("severity") == "error")
    warnings = findings.filter(pl.col("severity") == "warning")
    text_checks = findings.filter(pl.col("check").str.starts_with("text_"))
    summary = (f"Đã kiểm tra {fmt_units(n_rows)} dòng của bảng: điểm từng chỉ số so với điểm tối đa, tổng điểm so với tổng các chỉ số "
               "(sai số cho phép theo số chữ số thập phân được in), điểm quy đổi so với tổng điểm / điểm tối đa áp dụng × 100, "
               "xếp loại so với ngưỡng của quyết định, và số đơn vị từng loại nêu trong văn bản so với bảng. "
               f"Kết quả: {fmt_units(errors.height)} lỗi, {fmt_units(warnings.height)} cảnh báo.")
    inner: list[doc.Block] = [doc.Paragraph(summary)]
    if text_checks.height == 0:
        inner.append(doc.Paragraph("Số đơn vị theo từng loại và tên đơn vị nêu trong văn bản báo cáo khớp với bảng tính lại."))
    if findings.height:
        inner.append(doc.Table(columns=list(FINDING_COLUMNS), rows=finding_rows(findings, meth),
                               caption="Các sai lệch phát hiện trong bảng công bố",
                               widths=[1.3, 1.0, 1.3, 0.8, 0.7, 0.8, 3.2],
                               align=["left", "left", "left", "center", "right", "right", "left"]))
    else:
        inner.append(doc.Paragraph("Không phát hiện sai lệch nào."))
    return [doc.Callout("Kết quả kiểm tra số liệu", inner, kind="audit")]
