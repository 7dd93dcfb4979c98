"""The cross-period stage: every period's results in one table and the province's trend page."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from .. import charts, doc, periods
from ..io import atomic_write_text, write_parquet
from ..lineage import code_version, generation_iso, generation_time
from ..numbers import fmt_count, fmt_num, fmt_units
from ..params import load_methodology, load_params

TREND_DIR = Path("data") / "processed" / "trend"


def build_trend(params_file: str | Path = "params.yaml", root: str | Path = ".") -> dict[str, pl.DataFrame]:
    """Stack every scored period (the periods listed in params.yaml) and write the trend tables.

    ``province.csv`` (one row per period and methodology: mean converted score and
    units per tier) is what ``dvc plots`` draws.
    """
    root = Path(root)
    params = load_params(root / params_file)
    wanted = [periods.check_period(p) for p in params.get("periods") or []]
    frames = []
    for mid in periods.methodology_ids(params):
        for p in wanted:
            u = periods.load_units(p, mid, root)
            if u is not None:
                frames.append(u.with_columns(pl.lit(mid).alias("methodology")))
    units = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    scored = units.filter(~pl.col("excluded").fill_null(False))
    province = (
        scored.group_by("methodology", "period")
        .agg(pl.col("converted").mean().round(4).alias("mean_converted"),
             pl.col("converted").median().round(4).alias("median_converted"),
             pl.len().alias("units_scored"),
             *[(pl.col("tier") == t.name).sum().alias(f"n_{t.code}") for t in load_methodology(periods.methodology_ids(params)[0], params).tiers])
        .sort("methodology", "period")
    )
    out = root / TREND_DIR
    write_parquet(units.sort("methodology", "period", "unit_code"), out / "units_all.parquet")
    atomic_write_text(out / "province.csv", province.write_csv())
    return {"units": units, "province": province}


def trend_blocks(tables: dict[str, pl.DataFrame], params_file: str | Path = "params.yaml", root: str | Path = ".") -> list[doc.Block]:
    root = Path(root)
    params = load_params(root / params_file)
    mid = periods.methodology_ids(params)[0]
    meth = load_methodology(mid, params)
    units = tables["units"].filter((pl.col("methodology") == mid) & ~pl.col("excluded").fill_null(False))
    province = tables["province"].filter(pl.col("methodology") == mid)
    plist = province["period"].to_list()
    synthetic = any(periods.period_meta(p, root).get("synthetic") for p in plist)
    first, last = plist[0], plist[-1]
    lab = lambda p: f"{int(p[5:])}/{p[:4]}"  # noqa: E731
    blocks: list[doc.Block] = [
        doc.DocumentMeta(title=f"Diễn biến chất lượng phục vụ {lab(first)}–{lab(last)}",
                         running_header=f"Diễn biến {lab(first)}–{lab(last)}" + (" – DỮ LIỆU MÔ PHỎNG" if synthetic else ""),
                         synthetic=synthetic, generated_at=generation_iso()),
        doc.Heading(f"Diễn biến kết quả đánh giá chất lượng phục vụ người dân, doanh nghiệp từ tháng {lab(first)} đến tháng {lab(last)}", 1),
    ]
    if synthetic:
        blocks.append(doc.Callout("DỮ LIỆU MÔ PHỎNG", [doc.Paragraph("Các kỳ trong trang này được lập từ dữ liệu mô phỏng; không phản ánh kết quả thật.")], kind="warning"))
    m0, m1 = province.row(0, named=True), province.row(-1, named=True)
    blocks.append(doc.Paragraph(
        f"Theo {meth.short_name}, điểm quy đổi bình quân {'tăng' if m1['mean_converted'] >= m0['mean_converted'] else 'giảm'} từ "
        f"{fmt_num(m0['mean_converted'], 2)} (tháng {lab(first)}, {fmt_units(m0['units_scored'])} đơn vị được chấm) "
        f"đến {fmt_num(m1['mean_converted'], 2)} (tháng {lab(last)}, {fmt_units(m1['units_scored'])} đơn vị)."))
    if units.height:
        blocks.append(doc.Figure(charts.province_trend(units, f"Điểm quy đổi bình quân theo tháng ({meth.short_name})"),
                                 caption="Hình 1. Điểm quy đổi bình quân và khoảng 10–90 % các đơn vị qua các tháng"))
        current = units.filter(pl.col("period") == last)
        blocks.append(doc.Figure(charts.unit_heatmap(units, current, "Điểm quy đổi của từng đơn vị hiện hành"),
                                 caption="Hình 2. Điểm quy đổi của các đơn vị đang có hiệu lực qua các tháng"))
    rows = [[lab(r["period"]), fmt_count(r["units_scored"]), fmt_num(r["mean_converted"], 2), fmt_num(r["median_converted"], 2)]
            + [fmt_count(r[f"n_{t.code}"]) for t in meth.tiers] for r in province.iter_rows(named=True)]
    blocks.append(doc.Table(columns=["Tháng", "Số đơn vị", "Bình quân", "Trung vị"] + [t.name for t in meth.tiers], rows=rows,
                            sortable=True, caption="Kết quả toàn tỉnh theo tháng"))
    reform = [p for p in plist if p >= "2025-07"]
    if reform and reform[0] != first:
        blocks.append(doc.Paragraph(
            "Từ tháng 7/2025 chính quyền địa phương hai cấp thay thế cấp huyện; các xã mới được hình thành từ các xã cũ theo "
            "bảng chuyển đổi data/raw/units/crosswalk.csv. Các báo cáo tháng sau 7/2025 so sánh với cùng kỳ năm trước bằng "
            "cách cộng gộp tử số, mẫu số của các xã cũ vào xã mới rồi chấm điểm lại."))
    blocks.append(doc.Lineage(items=[("Kỳ", f"{len(plist)} tháng: {lab(first)}–{lab(last)}"),
                                     ("Bảng", "data/processed/trend/units_all.parquet, province.csv"),
                                     ("Phiên bản mã", code_version(root)), ("Thời điểm tạo", generation_time())]))
    return blocks
