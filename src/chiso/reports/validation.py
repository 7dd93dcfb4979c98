"""The validation report saved next to each period's outputs (readable offline)."""

from __future__ import annotations

from pathlib import Path

from .. import doc
from ..lineage import generation_iso
from ..numbers import fmt_units
from ..validation import where_text

SEVERITY_VI = {"critical": "Bắt buộc", "warning": "Cảnh báo", "info": "Thông tin"}


RULE_COLUMNS = ("Kết quả", "Mức độ", "Cột", "Quy tắc", "Đơn vị vi phạm", "Giá trị vi phạm", "Vị trí trong tệp")


def rule_rows(results) -> list[list[str]]:
    """One row of text per validation rule (``ValidationOutcome.results``), under ``RULE_COLUMNS``."""
    rows = []
    for r in results.iter_rows(named=True):
        units = ", ".join(r["units"][:12]) + (" …" if len(r["units"]) > 12 else "")
        values = ", ".join(r["values"][:6])
        rows.append([
            "Đạt" if r["success"] else "Không đạt",
            SEVERITY_VI.get(r["severity"], r["severity"]),
            r["column"] or "(cả bảng)",
            r["rule_vi"],
            units or "-",
            values or "-",
            where_text(r, limit=6, short=True) or "-",
        ])
    return rows


def validation_blocks(outcome, table_id: str, parameters_from: str) -> list[doc.Block]:
    """The validation report; ``parameters_from`` says where the rules' parameters come from
    ("phương pháp QĐ 459", "các phương pháp trong params.yaml")."""
    res = outcome.results
    failed = res.filter(~res["success"])
    status = ("**ĐẠT**: dữ liệu được dùng để tính điểm." if outcome.success
              else "**KHÔNG ĐẠT**: có quy tắc bắt buộc không được đáp ứng; kỳ này dừng xử lý, các kết quả đã có giữ nguyên.")
    blocks: list[doc.Block] = [
        doc.DocumentMeta(title=f"Kiểm tra dữ liệu đầu vào: {table_id}", running_header=f"Kiểm tra dữ liệu: {table_id}",
                         generated_at=generation_iso()),
        doc.Heading(f"Kiểm tra dữ liệu đầu vào: {table_id}", 1),
        doc.Paragraph(f"Tệp: {outcome.file}. Bộ kiểm tra: expectations/{outcome.suite}.json (Great Expectations), "
                      f"tham số lấy từ {parameters_from}."),
        doc.Paragraph(f"Kết quả: {status} Đã chạy {fmt_units(res.height)} quy tắc, "
                      f"{fmt_units(failed.height)} quy tắc không đạt."),
    ]
    blocks.append(doc.Table(columns=list(RULE_COLUMNS), rows=rule_rows(res), sortable=True, searchable=True,
                            caption="Kết quả từng quy tắc kiểm tra"))
    blocks.extend(repair_blocks(outcome.repairs))
    return blocks


REPAIRS_HEADING = "Dữ liệu đã được tự động sửa"


def repair_blocks(repairs) -> list[doc.Block]:
    """What was repaired automatically while reading the inputs: always shown, so that
    no repair is silent (an empty list says so)."""
    blocks: list[doc.Block] = [doc.Heading(REPAIRS_HEADING, 2)]
    if repairs is None or repairs.height == 0:
        blocks.append(doc.Paragraph("Không có ô hoặc tệp nào phải tự động sửa: dữ liệu được đọc đúng như trong tệp."))
        return blocks
    blocks.append(doc.Paragraph(
        f"Khi đọc tệp, chiso đã tự động sửa {fmt_units(repairs.height)} loại lỗi trình bày dưới đây (không làm thay đổi "
        "ý nghĩa số liệu). Kiểm tra lại các ví dụ; nếu cách sửa không đúng, sửa tệp nguồn rồi chạy lại."))
    rows = []
    for r in repairs.iter_rows(named=True):
        shown = [str(x) for x in (r["rows"] or [])]
        lines = ", ".join(shown) + (" …" if shown and (r["n"] or 0) > len(shown) else "")
        example = f"{r['before']} → {r['after']}" if (r["before"] or r["after"]) else "-"
        rows.append([Path(r["file"]).name, r["column"] or "(cả tệp)", lines or "-", str(r["n"]), r["message_vi"], example])
    blocks.append(doc.Table(columns=["Tệp", "Cột", "Dòng", "Số ô/dòng", "Đã sửa", "Ví dụ (trước → sau)"], rows=rows,
                            sortable=True, searchable=True, caption=REPAIRS_HEADING))
    return blocks


def write_validation_report(outcome, table, meth, path: str | Path) -> Path:
    from ..render import write_html

    blocks = validation_blocks(outcome, table.id, f"phương pháp {meth.short_name}")
    write_html(blocks[0], blocks[1:], path)
    return Path(path)


def write_period_validation_report(outcome, period: str, path: str | Path) -> Path:
    from ..render import write_html

    blocks = validation_blocks(outcome, f"kỳ {period}", "các phương pháp trong params.yaml")
    write_html(blocks[0], blocks[1:], path)
    return Path(path)
