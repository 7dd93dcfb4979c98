"""The monthly report of a period scored from counts (the analysts' monthly routine).

Compared with the published-table report it adds what only a series can give:
changes since the previous month and the same month a year earlier (delta, rank
change, tier change), units that fell a tier, the province's and every unit's trend,
and the national index (QĐ 766) next to the provincial one (QĐ 459).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from .. import analysis, charts, doc, periods, scoring
from ..io import sha256
from ..lineage import code_version, file_entries, generation_iso, generation_time
from ..methodology import METHODOLOGY_DIR
from ..numbers import fmt_num, fmt_units
from ..params import load_methodology, load_params
from .assessment import achievements, gap_table, recommendation_items, short_name, weakness_items
from .sections import appendix, arrow, changed_knobs, knobs_callout, rank_arrow, result_charts, tier_results

SUBJECT = ("Kết quả đánh giá chất lượng phục vụ người dân, doanh nghiệp trong thực hiện thủ tục hành chính, "
           "dịch vụ công theo thời gian thực trên môi trường điện tử")


def _header(params: dict) -> dict:
    defaults = {"issuer_parent": "UBND TỈNH ĐIỆN BIÊN", "issuer": "VĂN PHÒNG UBND TỈNH", "place": "Điện Biên",
                "area_name": "tỉnh Điện Biên", "number_suffix": "BC-VPUBND"}
    return defaults | ((params.get("periods_config") or {}).get("report_header") or {})


def comparison_units(period: str, other: str, mid: str, root: Path, params: dict) -> tuple[pl.DataFrame | None, bool]:
    """Units of `other` comparable with `period`; across the 2025 reform, predecessors
    are aggregated into today's units through the crosswalk and scored again.

    Returns (units, mapped) where mapped says the crosswalk was used."""
    units = periods.load_units(other, mid, root)
    now = periods.load_units(period, mid, root)
    if units is None or now is None:
        return None, False
    if not set(now["unit_code"]) - set(units["unit_code"]):
        return units, False
    counts_file = periods.processed_dir(other, root) / "counts.parquet"
    if not counts_file.exists() or not (root / "data" / "raw" / "units" / "crosswalk.csv").exists():
        return units, False
    from .. import counts as _counts
    from ..units import crosswalk_map, load_crosswalk

    mapped = crosswalk_map(pl.read_parquet(counts_file), load_crosswalk(root))
    # today's names and groups for the mapped units (predecessors carry the old ones)
    names = now.select("unit_code", pl.col("unit").alias("_name"), pl.col("unit_group").alias("_group")).unique("unit_code")
    mapped = (mapped.join(names, on="unit_code", how="inner")
              .with_columns(pl.col("_name").alias("unit_name"), pl.col("_group").alias("unit_group")).drop("_name", "_group"))
    meth = load_methodology(mid, params)
    return _counts.unit_table(_counts.indicator_points(mapped, meth), meth), True


def _trend_frame(period: str, mid: str, root: Path) -> pl.DataFrame:
    frames = []
    for p in periods.available_periods(root, upto=period):
        u = periods.load_units(p, mid, root)
        if u is not None:
            frames.append(u.filter(~pl.col("excluded").fill_null(False)).select("period", "unit_code", "unit", "unit_group", "converted", "tier"))
    return pl.concat(frames) if frames else pl.DataFrame()


def district_scopes(period: str, root: Path) -> list[dict]:
    """One scope per former district with units scored in the period (before 1/7/2025)."""
    try:
        from ..units import load_registry
    except ImportError:
        return []
    if not (root / "data" / "raw" / "units" / "registry.csv").exists():
        return []
    reg = load_registry(root)
    units = periods.load_units(period, periods.DEFAULT_METHODOLOGIES[0], root)
    if units is None or "parent_code" not in reg.columns:
        return []
    districts = reg.filter(pl.col("level") == "huyen").select("unit_code", "unit_name")
    kids = reg.filter(pl.col("parent_code").is_in(districts["unit_code"].to_list())
                      & pl.col("unit_code").is_in(units["unit_code"].to_list()))
    scopes = []
    for code, name in districts.sort("unit_code").iter_rows():
        codes = set(kids.filter(pl.col("parent_code") == code)["unit_code"].to_list())
        if codes:
            bare = name.replace("UBND ", "")
            scopes.append({"name": code.replace(".", "_"), "area_name": bare[:1].lower() + bare[1:],
                           "issuer": name.upper() if name.startswith("UBND") else f"UBND {name.upper()}",
                           "number_suffix": "BC-UBND", "place": bare.split(" ", 1)[-1], "unit_codes": codes})
    return scopes


def period_documents(period: str, params_file: str | Path = "params.yaml", root: str | Path = ".") -> list[doc.Block]:
    """The province's report, then (if ``report.district_reports``) one per former district."""
    root = Path(root)
    params = load_params(root / params_file)
    blocks = build_period_report(period, params_file, root)
    if (params.get("report") or {}).get("district_reports", True):
        for scope in district_scopes(period, root):
            blocks += build_period_report(period, params_file, root, scope=scope)
    return blocks


def build_period_report(period: str, params_file: str | Path = "params.yaml", root: str | Path = ".",
                        methodology_id: str | None = None, scope: dict | None = None) -> list[doc.Block]:
    root = Path(root)
    period = periods.check_period(period)
    params = load_params(root / params_file)
    mid = methodology_id or periods.methodology_ids(params)[0]
    meth = load_methodology(mid, params)
    head = _header(params) | {k: v for k, v in (scope or {}).items() if k != "unit_codes"}
    pmeta = periods.period_meta(period, root)
    synthetic = bool(pmeta.get("synthetic"))
    year, month = map(int, period.split("-"))
    area = head["area_name"]
    all_units = periods.load_units(period, mid, root)
    points = pl.read_parquet(periods.processed_dir(period, root) / f"points_{mid}.parquet")
    codes = (scope or {}).get("unit_codes")
    if codes:
        all_units = all_units.filter(pl.col("unit_code").is_in(list(codes)))
        points = points.filter(pl.col("unit_code").is_in(list(codes)))
    excluded = all_units.filter(pl.col("excluded").fill_null(False))
    units = all_units.filter(~pl.col("excluded").fill_null(False))
    scored_points = points.join(units.select("unit_group", "unit"), on=["unit_group", "unit"], how="semi")
    groups = scoring.group_scores(scored_points, meth)
    tier_order = [t.name for t in meth.tiers]

    prev_p, ago_p = periods.shift(period, -1), periods.shift(period, -12)
    prev, prev_mapped = comparison_units(period, prev_p, mid, root, params)
    ago, ago_mapped = comparison_units(period, ago_p, mid, root, params)
    ch_prev = analysis.changes(units, prev.filter(~pl.col("excluded").fill_null(False)), tier_order) if prev is not None else None
    ch_ago = analysis.changes(units, ago.filter(~pl.col("excluded").fill_null(False)), tier_order) if ago is not None else None

    blocks: list[doc.Block] = [
        doc.DocumentMeta(title=f"Báo cáo tháng {month}/{year} – {area}", name=(scope or {}).get("name", ""),
                         running_header=f"{area[:1].upper() + area[1:]} – tháng {month}/{year}"
                         + (" – DỮ LIỆU MÔ PHỎNG" if synthetic else ""),
                         synthetic=synthetic, generated_at=generation_iso()),
        doc.FrontMatter(issuer_parent=head["issuer_parent"], issuer=head["issuer"], number=f"Số:        /{head['number_suffix']}",
                        place_date=f"{head['place']}, ngày      tháng      năm {periods.shift(period, 1)[:4]}",
                        title="BÁO CÁO", subtitle=f"{SUBJECT} {area} tháng {month} năm {year}"),
    ]
    if synthetic:
        blocks.append(doc.Callout("DỮ LIỆU MÔ PHỎNG", [doc.Paragraph(
            f"Báo cáo này được lập từ dữ liệu mô phỏng ({_generator(pmeta)}), hiệu chỉnh theo số liệu công khai; "
            "không phản ánh kết quả thật của đơn vị nào.")], kind="warning"))
    sources = sorted({Path(f).name for f in pl.read_parquet(periods.processed_dir(period, root) / "counts.parquet")["source_file"].unique().to_list()}) \
        if "source_file" in pl.read_parquet_schema(periods.processed_dir(period, root) / "counts.parquet") else []
    blocks += [
        doc.Paragraph(f"Căn cứ {meth.decision} ban hành {meth.title[:1].lower() + meth.title[1:]};"),
        doc.Paragraph("Trên cơ sở số liệu thống kê từ Hệ thống quản trị của Cổng Dịch vụ công quốc gia và biểu mẫu số liệu của các đơn vị"
                      + (f" (tệp {', '.join(sources)})" if sources else "") + f", kết quả đánh giá tháng {month}/{year} như sau:"),
    ]
    blocks.extend(knobs_callout(meth))

    # 1. results
    not_scored: dict[str, list[tuple[str, str]]] = {}
    for r in excluded.iter_rows(named=True):
        not_scored.setdefault(r["unit_group"], []).append((r["unit"], "không phát sinh hồ sơ trong tháng, không chấm điểm, không xếp hạng"
                                                           if r.get("no_dossier") else (r.get("reason") or "không đủ số liệu")))
    blocks.extend(tier_results(units, meth, not_scored=not_scored))
    if ch_prev is not None:
        prev_counts = prev.filter(~pl.col("excluded").fill_null(False)).group_by("tier").len()
        pc = dict(prev_counts.iter_rows())
        now_c = dict(units.group_by("tier").len().iter_rows())
        parts = [f"{t} {fmt_units(now_c.get(t, 0))} (tháng trước {fmt_units(pc.get(t, 0))})" for t in tier_order if now_c.get(t) or pc.get(t)]
        blocks.append(doc.Paragraph(f"So với tháng {prev_p[5:].lstrip('0')}/{prev_p[:4]}: " + "; ".join(parts) + "."))
    blocks.extend(result_charts(units, groups, meth, month, year))

    # trend
    trend = _trend_frame(period, mid, root)
    if codes and trend.height:
        trend = trend.filter(pl.col("unit_code").is_in(list(codes)))
    if trend.height and trend["period"].n_unique() > 1:
        blocks.append(doc.Figure(charts.province_trend(trend, f"Điểm quy đổi bình quân theo tháng ({meth.short_name})"),
                                 caption="Hình 4. Diễn biến điểm quy đổi bình quân và khoảng điểm của các đơn vị qua các tháng"))
        blocks.append(doc.Figure(charts.unit_heatmap(trend, units, "Điểm quy đổi của từng đơn vị qua các tháng"),
                                 caption="Hình 5. Điểm quy đổi của từng đơn vị (đang có hiệu lực) qua các tháng; ô trống: chưa có đơn vị hoặc không chấm điểm"))

    # 2. assessment
    blocks.append(doc.Heading("2. Đánh giá chung", 1))
    blocks.append(doc.Heading("2.1. Kết quả đạt được", 2))
    got = achievements(scored_points, meth)
    got += _change_sentences(units, ch_prev, prev_p, period, "tháng trước", prev_mapped)
    got += _change_sentences(units, ch_ago, ago_p, period, "cùng kỳ năm trước", ago_mapped, improvements_only=True)
    if ch_prev is None and ch_ago is None:
        got.append(f"Chưa có số liệu tháng {prev_p[5:].lstrip('0')}/{prev_p[:4]} và cùng kỳ năm trước để so sánh.")
    blocks.append(doc.Bullets(got))
    blocks.append(doc.Heading("2.2. Tồn tại, hạn chế", 2))
    weak = [t for t, _ in weakness_items(scored_points, meth)]
    weak += _fell_sentences(ch_prev, prev_p, "tháng trước") + _fell_sentences(ch_ago, ago_p, "cùng kỳ năm trước")
    blocks.append(doc.Bullets(weak) if weak else doc.Paragraph("Không có chỉ số nào dưới điểm tối đa."))
    if excluded.height:
        blocks.append(doc.Heading("2.3. Nguyên nhân", 2))
        blocks.append(doc.Bullets([f"{fmt_units(excluded.height)} đơn vị không phát sinh hồ sơ trong tháng "
                                   f"({', '.join(short_name(u) for u in excluded['unit'].to_list())}) nên không được chấm điểm "
                                   f"(quy tắc no_dossier_policy = {meth.no_dossier_policy})."]))

    if ch_prev is not None or ch_ago is not None:
        blocks.append(doc.Heading("3. Biến động so với kỳ trước và cùng kỳ năm trước", 1))
        blocks.append(_change_table(units, ch_prev, ch_ago, prev_p, ago_p, prev_mapped or ago_mapped))
    near = float((params.get("report") or {}).get("near_boundary", 5))
    blocks.append(doc.Heading("4. Điểm cần thêm để lên hạng", 1))
    gaps = gap_table(units, scored_points, meth, near, limit=int((params.get("report") or {}).get("max_gap_rows", 20)))
    blocks.append(gaps if gaps is not None else doc.Paragraph(
        f"Không có đơn vị nào cách hạng kế tiếp trong phạm vi {fmt_num(near, 0)} điểm quy đổi."))
    blocks.append(doc.Heading("5. Đề xuất, kiến nghị", 1))
    recs = recommendation_items(scored_points, meth)
    blocks.append(doc.Bullets(recs) if recs else doc.Paragraph("Duy trì kết quả đạt được."))

    other = [m for m in periods.methodology_ids(params) if m != mid]
    if other and not codes:
        side = _side_by_side(period, mid, other[0], root, params)
        if side is not None:
            blocks.append(doc.Heading("6. Đối chiếu với Bộ chỉ số quốc gia", 1))
            blocks.extend(side)
    if meth.assumptions():
        blocks.append(doc.Heading("7. Phương pháp và giả định", 1))
        blocks.append(doc.Paragraph(f"Điểm được tính từ tử số, mẫu số theo {meth.decision}. Các cách hiểu dưới đây là giả định "
                                    "của chiso, có thể thay đổi trong params.yaml:"))
        blocks.append(doc.Bullets([f"{meth.indicator(c).name} ({c}): {a}" for c, a in meth.assumptions()]))
    blocks.append(doc.Closing(recipients=["Như trên;", "Lưu: VT."], signer_title=["TL. CHỦ TỊCH", "CHÁNH VĂN PHÒNG"]))

    title = ("KẾT QUẢ ĐÁNH GIÁ, XẾP LOẠI CHẤT LƯỢNG PHỤC VỤ NGƯỜI DÂN, DOANH NGHIỆP TRONG GIẢI QUYẾT TTHC, DVC "
             f"THEO THỜI GIAN THỰC TRÊN MÔI TRƯỜNG ĐIỆN TỬ {area.upper()} THÁNG {month} NĂM {year}")
    blocks.append(doc.Section(appendix(meth, scored_points, units, title, change=ch_prev), landscape=True))

    mfile = METHODOLOGY_DIR / f"{meth.id}.yaml"
    files = periods.input_files(period, root)
    items = file_entries(files, root) + [
        ("Phương pháp", f"{meth.short_name}: {meth.decision} (tệp {mfile.name}, SHA-256 {sha256(mfile)[:16]}…)"),
        ("Tham số", "; ".join(changed_knobs(meth)) or "theo đúng quyết định"),
        ("Bộ kiểm tra dữ liệu", "expectations/counts.json (Great Expectations)"),
        ("Dữ liệu", f"MÔ PHỎNG ({_generator(pmeta)})" if synthetic else "thật"),
        ("Phiên bản mã", code_version(root)),
        ("Thời điểm tạo", generation_time()),
    ]
    blocks.append(doc.Lineage(items=items))
    return blocks


def _generator(pmeta: dict) -> str:
    gen = pmeta.get("generator") or {}
    if isinstance(gen, dict):
        return f"{gen.get('name', 'chiso.synth')} {gen.get('version', '')}, hạt giống {gen.get('seed', '-')}".replace("  ", " ")
    return str(gen)


def _month_label(p: str) -> str:
    return f"tháng {int(p[5:])}/{p[:4]}"


def _change_sentences(units: pl.DataFrame, ch: pl.DataFrame | None, other: str, period: str, label: str,
                      mapped: bool, improvements_only: bool = False) -> list[str]:
    if ch is None:
        return []
    both = ch.filter(pl.col("converted_prev").is_not_null())
    if both.height == 0:
        return []
    now_mean, prev_mean = float(both["converted"].mean()), float(both["converted_prev"].mean())
    verb = "tăng" if now_mean > prev_mean else ("giảm" if now_mean < prev_mean else "không đổi")
    out = [f"Điểm quy đổi bình quân của {fmt_units(both.height)} đơn vị có số liệu cả hai kỳ {verb} từ {fmt_num(prev_mean, 2)} "
           f"({_month_label(other)}) lên {fmt_num(now_mean, 2)} ({_month_label(period)})." if verb == "tăng" else
           f"Điểm quy đổi bình quân của {fmt_units(both.height)} đơn vị có số liệu cả hai kỳ {verb} từ {fmt_num(prev_mean, 2)} "
           f"({_month_label(other)}) xuống {fmt_num(now_mean, 2)} ({_month_label(period)})." if verb == "giảm" else
           f"Điểm quy đổi bình quân không đổi so với {label} ({fmt_num(now_mean, 2)})."]
    if mapped:
        out[-1] += " Kỳ so sánh trước ngày 1/7/2025 được quy đổi sang đơn vị hành chính mới theo bảng chuyển đổi."
    up = both.filter(pl.col("tier_change") > 0).sort("delta", descending=True)
    if up.height:
        out.append(f"{fmt_units(up.height)} đơn vị lên hạng so với {label}: " + ", ".join(
            f"{short_name(r['unit'])} ({r['tier_prev']} → {r['tier']})" for r in up.iter_rows(named=True)) + ".")
    if not improvements_only:
        best = both.filter(pl.col("delta") > 0).sort("delta", descending=True).head(3)
        if best.height:
            out.append("Tăng điểm nhiều nhất so với " + label + ": " + ", ".join(
                f"{short_name(r['unit'])} {arrow(r['delta'])} ({fmt_num(r['converted_prev'], 2)} → {fmt_num(r['converted'], 2)})"
                for r in best.iter_rows(named=True)) + ".")
    return out


def _fell_sentences(ch: pl.DataFrame | None, other: str, label: str) -> list[str]:
    if ch is None:
        return []
    down = ch.filter(pl.col("tier_change") < 0).sort("delta")
    if down.height == 0:
        return []
    return [f"{fmt_units(down.height)} đơn vị tụt hạng so với {label} ({_month_label(other)}): " + ", ".join(
        f"{short_name(r['unit'])} ({r['tier_prev']} → {r['tier']}, {fmt_num(r['converted_prev'], 2)} → {fmt_num(r['converted'], 2)})"
        for r in down.iter_rows(named=True)) + "."]


def _change_table(units, ch_prev, ch_ago, prev_p, ago_p, mapped) -> doc.Block:
    rows = []
    base = units.select("unit_group", "unit", "converted", "rank", "tier")
    if ch_prev is not None:
        base = base.join(ch_prev.select("unit_group", "unit", pl.col("delta").alias("d1"), pl.col("rank_change").alias("r1"),
                                        pl.col("tier_prev").alias("t1")), on=["unit_group", "unit"], how="left")
    if ch_ago is not None:
        base = base.join(ch_ago.select("unit_group", "unit", pl.col("delta").alias("d2"), pl.col("rank_change").alias("r2"),
                                       pl.col("tier_prev").alias("t2")), on=["unit_group", "unit"], how="left")
    for group in base["unit_group"].unique(maintain_order=True).to_list():
        rows.append(doc.SectionRow(group))
        for r in base.filter(pl.col("unit_group") == group).sort("rank").iter_rows(named=True):
            row = [short_name(r["unit"]), fmt_num(r["converted"], 2), str(r["rank"]), r["tier"]]
            if ch_prev is not None:
                row += [arrow(r.get("d1")), rank_arrow(r.get("r1")), f"{r['t1']} → {r['tier']}" if r.get("t1") and r["t1"] != r["tier"] else ("=" if r.get("t1") else "-")]
            if ch_ago is not None:
                row += [arrow(r.get("d2")), rank_arrow(r.get("r2")), f"{r['t2']} → {r['tier']}" if r.get("t2") and r["t2"] != r["tier"] else ("=" if r.get("t2") else "-")]
            rows.append(row)
    cols = ["Đơn vị", "Điểm quy đổi", "Hạng", "Xếp loại"]
    groups_h = [("", 4)]
    if ch_prev is not None:
        cols += ["Điểm", "Hạng", "Xếp loại"]
        groups_h.append((f"So với {_month_label(prev_p)}", 3))
    if ch_ago is not None:
        cols += ["Điểm", "Hạng", "Xếp loại"]
        groups_h.append((f"So với {_month_label(ago_p)}", 3))
    notes = ["▲ tăng, ▼ giảm; hạng: số bậc tăng (▲) hoặc giảm (▼) trong nhóm đơn vị."]
    if mapped:
        notes.append("Kỳ so sánh trước ngày 1/7/2025: số liệu của các xã cũ được cộng gộp (tử số, mẫu số) vào xã mới theo bảng "
                     "chuyển đổi data/raw/units/crosswalk.csv rồi chấm điểm lại.")
    return doc.Table(columns=cols, rows=rows, header_groups=groups_h, notes=notes, sortable=True, searchable=True,
                     caption="Biến động điểm, hạng và xếp loại của từng đơn vị")


def _side_by_side(period: str, mid: str, other: str, root: Path, params: dict) -> list[doc.Block] | None:
    a = periods.load_units(period, mid, root)
    b = periods.load_units(period, other, root)
    if a is None or b is None:
        return None
    ma, mb = load_methodology(mid, params), load_methodology(other, params)
    j = (a.select("unit_group", "unit_code", "unit", pl.col("converted").alias("ca"), pl.col("tier").alias("ta"), pl.col("rank").alias("ra"))
         .join(b.select("unit_code", pl.col("converted").alias("cb"), pl.col("rank").alias("rb")), on="unit_code", how="left"))
    rows = []
    for group in j["unit_group"].unique(maintain_order=True).to_list():
        rows.append(doc.SectionRow(group))
        for r in j.filter(pl.col("unit_group") == group).sort("ra", nulls_last=True).iter_rows(named=True):
            diff = None if r["ra"] is None or r["rb"] is None else r["rb"] - r["ra"]
            rows.append([short_name(r["unit"]), fmt_num(r["ca"], 2), r["ta"] or "-", str(r["ra"]) if r["ra"] else "-",
                         fmt_num(r["cb"], 2), str(r["rb"]) if r["rb"] else "-", "-" if diff is None else (f"{diff:+d}" if diff else "0")])
    moved = j.filter((pl.col("rb") - pl.col("ra")).abs() >= 5)
    text = (f"Cùng số liệu, {fmt_units(j.height)} đơn vị được chấm theo {ma.short_name} (thang 100, có xếp loại) và theo "
            f"{mb.short_name} (Bộ chỉ số quốc gia, 100 điểm, không bỏ chỉ số khỏi điểm tối đa). "
            f"{fmt_units(moved.height)} đơn vị chênh nhau từ 5 bậc xếp hạng trở lên giữa hai cách chấm.")
    return [doc.Paragraph(text), doc.Table(
        columns=["Đơn vị", "Điểm quy đổi", "Xếp loại", "Hạng", "Điểm", "Hạng", "Chênh lệch hạng"],
        header_groups=[("", 1), (ma.short_name, 3), (mb.short_name, 2), ("", 1)],
        rows=rows, sortable=True, searchable=True, caption=f"Điểm và hạng theo {ma.short_name} và {mb.short_name}")]
