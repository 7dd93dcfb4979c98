"""Report sections shared by the published-table and the counts-based monthly reports."""

from __future__ import annotations

import polars as pl

from .. import charts, doc
from ..methodology import Methodology
from ..numbers import fmt_num, fmt_signed, fmt_units
from .assessment import short_name

ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]


def changed_knobs(meth: Methodology) -> list[str]:
    """Knobs of params.yaml that differ from the decision file (printed in the report)."""
    from ..methodology import load as load_plain

    base = load_plain(meth.id)
    out = []
    for attr, label in (("not_applicable", "Quy tắc chỉ số không áp dụng"), ("no_dossier_policy", "Đơn vị không phát sinh hồ sơ"),
                        ("tier_basis", "Cơ sở xếp loại")):
        if getattr(base, attr) != getattr(meth, attr):
            out.append(f"{label}: {getattr(meth, attr)} (quyết định: {getattr(base, attr)})")
    for t0, t1 in zip(base.tiers, meth.tiers):
        if t0.min != t1.min:
            out.append(f"Ngưỡng hạng {t1.name}: {fmt_num(t1.min, 2, strip=True)} (quyết định: {fmt_num(t0.min, 2, strip=True)})")
    for i0, i1 in zip(base.indicators, meth.indicators):
        if i0.max != i1.max:
            out.append(f"Điểm tối đa {i1.code}: {fmt_num(i1.max, 2, strip=True)} (quyết định: {fmt_num(i0.max, 2, strip=True)})")
        if i0.rule != i1.rule:
            out.append(f"Quy tắc {i1.code}: {i1.rule} (quyết định: {i0.rule})")
    return out


def knobs_callout(meth: Methodology) -> list[doc.Block]:
    knobs = changed_knobs(meth)
    if not knobs:
        return []
    return [doc.Callout("Thử nghiệm phương pháp: khác với quyết định", [doc.Bullets(knobs)], kind="warning")]


def tier_results(units: pl.DataFrame, meth: Methodology, expected: dict[str, int] | None = None,
                 not_scored: dict[str, list[tuple[str, str]]] | None = None,
                 not_scored_note: dict[str, str] | None = None) -> list[doc.Block]:
    """Section 1: per unit group, units scored out of expected, tier counts with units named."""
    blocks: list[doc.Block] = [doc.Heading("1. Kết quả đánh giá, xếp loại", 1)]
    groups = units["unit_group"].unique(maintain_order=True).to_list()
    for group in (not_scored or {}):
        if group not in groups:
            groups.append(group)
    for gi, group in enumerate(groups, start=1):
        g = units.filter(pl.col("unit_group") == group)
        missing = (not_scored or {}).get(group, [])
        exp = (expected or {}).get(group, g.height + len(missing))
        if len(groups) > 1:
            blocks.append(doc.Heading(f"1.{gi}. {group}", 2))
        items = []
        for t in meth.tiers:
            names = g.filter(pl.col("tier") == t.name).sort("rank", "unit")["unit"].to_list()
            if names:
                items.append(f"{fmt_units(len(names))} đơn vị xếp loại {t.name}: {', '.join(short_name(n) for n in names)}.")
        blocks.append(doc.Paragraph(f"Thực hiện chấm điểm đánh giá {g.height}/{exp} đơn vị"
                                    + (", trong đó:" if items else ".")))
        if items:
            blocks.append(doc.Bullets(items))
        if missing:
            reasons: dict[str, list[str]] = {}
            for unit, reason in missing:
                reasons.setdefault(reason, []).append(short_name(unit))
            for reason, names in reasons.items():
                blocks.append(doc.Paragraph(f"*{fmt_units(len(names))} đơn vị không được chấm điểm ({', '.join(names)}): {reason}*"))
        elif exp > g.height:
            note = (not_scored_note or {}).get(group) or "không có trong bảng số liệu."
            blocks.append(doc.Paragraph(f"*{fmt_units(exp - g.height)} đơn vị không được chấm điểm: {note}*"))
    return blocks


def result_charts(units: pl.DataFrame, groups: pl.DataFrame, meth: Methodology, month: int, year: int,
                  first_number: int = 1) -> list[doc.Block]:
    tier_order = [t.name for t in meth.tiers]
    group_list = units["unit_group"].unique(maintain_order=True).to_list()
    tc = units.group_by("unit_group", "tier").len("count")
    tc = (pl.DataFrame({"unit_group": group_list}).join(pl.DataFrame({"tier": tier_order}), how="cross")
          .join(tc, on=["unit_group", "tier"], how="left").with_columns(pl.col("count").fill_null(0)))
    labelled = units.with_columns(pl.col("unit").map_elements(short_name, return_dtype=pl.String).alias("label"))
    thresholds = [(t.name, t.min) for t in meth.tiers]
    gl = (groups.with_columns(pl.col("unit").map_elements(short_name, return_dtype=pl.String).alias("label"))
          .join(units.select("unit_group", "unit", "converted"), on=["unit_group", "unit"])
          .sort("converted", descending=True))
    n = first_number
    return [
        doc.Figure(charts.tier_distribution(tc, tier_order, "Số đơn vị theo xếp loại"),
                   caption=f"Hình {n}. Phân bố xếp loại theo nhóm đơn vị, tháng {month}/{year}"),
        doc.Figure(charts.ranked_scores(labelled, tier_order, thresholds, "Tổng điểm quy đổi, xếp theo thứ tự"),
                   caption=f"Hình {n + 1}. Tổng điểm quy đổi của từng đơn vị, tô màu theo xếp loại; đường đứt nét là ngưỡng xếp loại"),
        doc.Figure(charts.group_profile(gl, {g["code"]: g["name"] for g in meth.groups}, "Điểm bị mất theo nhóm chỉ số"),
                   caption=f"Hình {n + 2}. Mỗi đơn vị mất điểm ở nhóm chỉ số nào (điểm tối đa áp dụng trừ điểm đạt được)"),
    ]


def arrow(delta: float | None, decimals: int = 2) -> str:
    if delta is None:
        return "-"
    if round(delta, decimals) > 0:
        return "▲ " + fmt_signed(delta, decimals)
    if round(delta, decimals) < 0:
        return "▼ " + fmt_signed(delta, decimals)
    return "= 0"


def rank_arrow(change: int | None) -> str:
    if change is None:
        return "-"
    return f"▲ {change}" if change > 0 else (f"▼ {-change}" if change < 0 else "=")


def appendix(meth: Methodology, points: pl.DataFrame, units: pl.DataFrame, title: str,
             flagged: set[tuple[str, str]] = frozenset(), change: pl.DataFrame | None = None,
             order: str = "rank") -> list[doc.Block]:
    """The full table in the seeds' column layout, "-" for not applicable, plus rank and change."""
    header_groups = [("", 2)]
    columns = ["STT", "Tên cơ quan, đơn vị"]
    for g in meth.groups:
        inds = [i for i in meth.indicators if i.group == g["code"]]
        if not inds:
            continue
        header_groups.append((g.get("appendix_label", g["name"]), len(inds)))
        for i in inds:
            columns.append(f"{i.label} ({fmt_num(i.max, 0)}đ)" if len(inds) > 1 else f"{fmt_num(i.max, 0)}đ")
    tail = ["Điểm đạt được", "Tổng điểm quy đổi", "Xếp loại", "Hạng"] + (["Thay đổi so với kỳ trước"] if change is not None else [])
    header_groups.append(("", len(tail)))
    columns += tail
    pts = points.with_columns(pl.when(pl.col("applicable")).then(pl.col("points")).alias("shown"))
    if "decimals" not in pts.columns:
        pts = pts.with_columns(pl.lit(None, dtype=pl.Int64).alias("decimals"))
    wide = pts.pivot(on="indicator", index=["unit_group", "unit"], values="shown", aggregate_function="first")
    dec = pts.pivot(on="indicator", index=["unit_group", "unit"], values="decimals", aggregate_function="first")
    dec = dec.rename({c: f"{c}__d" for c in dec.columns if c not in ("unit_group", "unit")})
    table = units.join(wide, on=["unit_group", "unit"], how="left").join(dec, on=["unit_group", "unit"], how="left")
    if change is not None:
        table = table.join(change.select("unit_group", "unit", "delta", "rank_change"), on=["unit_group", "unit"], how="left")
    rows: list = []
    for gi, group in enumerate(units["unit_group"].unique(maintain_order=True).to_list()):
        rows.append(doc.SectionRow(f"{ROMAN[gi % len(ROMAN)]}. {group.upper()}"))
        g = table.filter(pl.col("unit_group") == group)
        g = g.sort(order, "unit", nulls_last=True)
        for n, r in enumerate(g.iter_rows(named=True), start=1):
            cells = [str(n), r["unit"]]
            for i in meth.indicators:
                v = r.get(i.code)
                d = r.get(f"{i.code}__d")
                text = "-" if v is None else fmt_num(v, int(d) if d is not None else 2, strip=d is None)
                cells.append(text + (" (*)" if (r["unit"], i.code) in flagged else ""))
            cells += [fmt_num(r["total"], 2) + (" (*)" if (r["unit"], "published_total") in flagged else ""),
                      fmt_num(r["converted"], 2), r["tier"] or "-", str(r["rank"]) if r["rank"] is not None else "-"]
            if change is not None:
                cells.append(f"{arrow(r.get('delta'))}; hạng {rank_arrow(r.get('rank_change'))}" if r.get("delta") is not None else "mới")
            rows.append(cells)
    notes = ["Các chỉ số có dấu (-) là nhiệm vụ đơn vị không phải thực hiện, chưa đến thời điểm báo cáo hoặc không có số liệu; "
             + ("chỉ số đó không tính vào điểm tối đa." if meth.not_applicable == "remove_from_max" else "chỉ số đó được 0 điểm."),
             "Điểm đạt được, điểm quy đổi, xếp loại và hạng được tính lại từ điểm các chỉ số; hạng tính trong từng nhóm đơn vị."]
    if flagged:
        notes.append("(*) Ô có sai lệch, xem khung \"Kết quả kiểm tra số liệu\".")
    n_ind = len(columns) - 2 - len(tail)
    align = ["center", "left"] + ["right"] * (n_ind + 2) + ["center", "center"] + (["left"] if change is not None else [])
    widths = [0.4, 2.4] + [0.75] * n_ind + [0.8, 0.8, 0.9, 0.5] + ([1.3] if change is not None else [])
    return [
        doc.Heading("PHỤ LỤC", 1),
        doc.Paragraph(f"**{title}**", align="center"),
        doc.Table(columns=columns, rows=rows, header_groups=header_groups, align=align, notes=notes,
                  landscape=True, sortable=False, searchable=True, widths=widths),
    ]
