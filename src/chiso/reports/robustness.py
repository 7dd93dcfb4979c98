"""Report section "Độ vững của xếp loại": how robust each unit's tier is.

Built from the Monte Carlo results of `chiso.uncertainty` (``summary``: one row per
unit; ``tiers``: unit × tier probability; ``settings``: what was varied). Every
number in the text is computed; numbers are printed the Vietnamese way (82,96).
"""

from __future__ import annotations

from typing import Any, Mapping

import polars as pl

from .. import charts, doc
from ..methodology import Methodology
from ..numbers import fmt_count, fmt_num, fmt_units
from ..uncertainty import DEFAULT_QUANTILES, PARAM_DEFAULTS

POLICY_TEXT = {
    "not_applicable": {
        "remove_from_max": "được loại khỏi điểm tối đa",
        "count_as_zero": "được giữ trong điểm tối đa với 0 điểm",
    },
    "no_dossier": {
        "exclude": "không được chấm điểm",
        "zero": "bị chấm 0 điểm các chỉ số tính từ hồ sơ",
    },
}


def _pct(p: float | None) -> str:
    return "-" if p is None else f"{fmt_num(100 * p, 2)} %"


def _interval(lo: int | None, hi: int | None) -> str:
    if lo is None or hi is None:
        return "-"
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def _select_period(df: pl.DataFrame, period: str | None) -> pl.DataFrame:
    if "period" not in df.columns or df.height == 0:
        return df
    chosen = period if period is not None else max(df["period"].unique().to_list())
    return df.filter(pl.col("period") == chosen)


# ---------------------------------------------------------------------------
# Chart
# ---------------------------------------------------------------------------
def rank_interval_chart(summary: pl.DataFrame, tier_order: list[str], title: str = "",
                        threshold: float | None = None, interval: str = "5–95 %") -> str:
    """Units sorted by nominal rank (one panel per unit group): the rank interval
    (``interval``, the label of the quantiles simulated, e.g. "5–95 %")
    interval as a bar, the median rank as a dot, the nominal rank as a diamond
    coloured by tier. Units whose tier probability is below `threshold` are labelled
    in red. Deterministic SVG (see ``chiso.charts.to_svg``)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    df = summary.filter(pl.col("rank").is_not_null()).sort("unit_group", "rank", "unit")
    groups = df["unit_group"].unique(maintain_order=True).to_list() or [""]
    sizes = [max(df.filter(pl.col("unit_group") == g).height, 1) for g in groups]
    height = 1.3 + 0.24 * sum(sizes) + 0.5 * len(groups)
    fig, axes = plt.subplots(len(groups), 1, figsize=(7.5, height),
                             gridspec_kw={"height_ratios": sizes}, squeeze=False)
    for ax, group in zip(axes[:, 0], groups):
        g = df.filter(pl.col("unit_group") == group)
        y = list(range(g.height))
        lo, hi = g["rank_p05"].to_list(), g["rank_p95"].to_list()
        ax.hlines(y, lo, hi, color="#8c959f", lw=3.2, zorder=1)
        ax.scatter(g["rank"].to_list(), y, s=48, marker="D", zorder=2, edgecolors="white", linewidths=0.5,
                   color=[charts.tier_colour(t, tier_order) for t in g["tier"].to_list()])
        ax.scatter(g["rank_median"].to_list(), y, s=70, marker="|", linewidths=1.6, color="#24292f", zorder=3)
        ax.set_yticks(y)
        ax.set_yticklabels(g["unit"].to_list(), fontsize=7.5)
        if threshold is not None:
            for label, p in zip(ax.get_yticklabels(), g["p_tier"].to_list()):
                if p is not None and p < threshold:
                    label.set_color("#cf222e")
        n = int(max(hi + g["rank"].to_list())) if g.height else 1
        ax.set_xlim(0.4, n + 0.6)
        ax.set_ylim(g.height - 0.5, -0.5)
        step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000) if n / s <= 12 or s == 1000)
        ax.set_xticks(sorted({1, *range(step, n + 1, step)}))
        ax.grid(axis="x", color="#d0d7de", lw=0.4)
        ax.set_axisbelow(True)
        if len(groups) > 1:
            ax.set_title(group, loc="left", fontsize=9)
    axes[-1, 0].set_xlabel("Hạng trong nhóm (1 = cao nhất)")
    present = [t for t in tier_order if t in set(df["tier"].to_list())]
    handles = [Line2D([], [], color="#8c959f", lw=3.2, label=f"Khoảng hạng {interval}"),
               Line2D([], [], marker="|", ls="", color="#24292f", markersize=8, markeredgewidth=1.6,
                      label="Hạng trung vị")]
    handles += [Line2D([], [], marker="D", ls="", color=charts.tier_colour(t, tier_order), markersize=5,
                       label=f"Hạng chính thức – {t}") for t in present]
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False, fontsize=7.5)
    if title:
        axes[0, 0].set_title(title if len(groups) == 1 else f"{title}\n{groups[0]}", loc="left", fontsize=10)
    fig.tight_layout(rect=(0, 0.75 / height, 1, 1))
    return charts.to_svg(fig)


# ---------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------
def _method_sentence(settings: Mapping[str, Any], threshold: float) -> str:
    draws = int(settings.get("draws", 0))
    inputs = settings.get("inputs") or []
    a = settings.get("assumptions") or {}
    parts = []
    weights = [i for i in inputs if i["kind"] == "weight"]
    if weights:
        spans = sorted({round((i["high"] - i["low"]) / 2 * 100, 6) for i in weights})
        span = f"±{fmt_num(spans[0], 0, strip=True)} %" if len(spans) == 1 else \
            f"từ ±{fmt_num(spans[0], 0, strip=True)} % đến ±{fmt_num(spans[-1], 0, strip=True)} %"
        parts.append(f"điểm tối đa của từng chỉ số thay đổi trong khoảng {span} (chuẩn hóa lại để tổng điểm "
                     "tối đa không đổi)")
    tiers = [i for i in inputs if i["kind"] == "tier"]
    if tiers:
        shift = (tiers[0]["high"] - tiers[0]["low"]) / 2
        parts.append(f"ngưỡng của mỗi mức xếp loại dịch chuyển trong khoảng ±{fmt_num(shift, 2, strip=True)} điểm")
    thresholds = [i for i in inputs if i["kind"] == "threshold"]
    if thresholds:
        def pct(x: float) -> str:
            return f"{fmt_num(100 * x, 2, strip=True)} %"

        items = []
        for i in thresholds:
            name = i["label"].removeprefix("Ngưỡng: ")
            span = (f"chọn một trong các mức {', '.join(pct(c) for c in i['choices'])}" if i.get("choices")
                    else f"từ {pct(i['low'])} đến {pct(i['high'])}")
            items.append(f"chỉ số “{name[:1].lower()}{name[1:]}” {span}")
        parts.append("tỷ lệ đạt điểm tối đa (quy tắc ngưỡng) của " + ", của ".join(items))
    for kind, label in (("not_applicable", "chỉ số không áp dụng"), ("no_dossier", "đơn vị không phát sinh hồ sơ")):
        if any(i["kind"] == kind for i in inputs):
            key = "not_applicable" if kind == "not_applicable" else "no_dossier_policy"
            alts = (a.get(key) or {}).get("alternatives") or []
            texts = [POLICY_TEXT[kind].get(str(n), str(n)) for n in alts]
            parts.append(f"{label} {', '.join('lúc ' + x for x in texts)}" if len(texts) > 1
                         else f"{label} {texts[0] if texts else ''}".rstrip())
    varied = "; ".join(parts) if parts else "không thay đổi giả định nào"
    return (f"Độ vững của xếp loại được kiểm tra bằng {fmt_count(draws)} lần mô phỏng Monte Carlo; mỗi lần, các giả định "
            f"của phương pháp được thay đổi ngẫu nhiên và độc lập: {varied}. Xếp loại của một đơn vị được coi là "
            f"chưa vững khi xác suất giữ nguyên xếp loại dưới {fmt_num(100 * threshold, 0, strip=True)} %.")


def _unit_sentence(row: Mapping[str, Any], probs: list[tuple[str, float]], p_not_scored: float) -> str:
    others = [(t, p) for t, p in probs if t != row["tier"] and p >= 0.005]
    text = (f"{row['unit']} (hạng {row['rank']}, xếp loại {row['tier']} với {fmt_num(row['converted'], 2)} điểm) "
            f"giữ xếp loại {row['tier']} trong {_pct(row['p_tier'])} số lần mô phỏng")
    if others:
        text += "; " + ", ".join(f"xếp loại {t} trong {_pct(p)}" for t, p in others)
    if p_not_scored >= 0.005:
        text += f"; không được chấm điểm trong {_pct(p_not_scored)}"
    lo, hi = row["rank_p05"], row["rank_p95"]
    text += (f"; hạng giữ nguyên ở mức {lo}" if lo == hi else f"; hạng dao động từ {lo} đến {hi}") + "."
    return text


def robustness_blocks(summary: pl.DataFrame, tiers: pl.DataFrame, meth: Methodology, *,
                      settings: Mapping[str, Any] | None = None,
                      threshold: float | None = None,
                      title: str = "Độ vững của xếp loại", level: int = 1, period: str | None = None,
                      chart: bool = True) -> list[doc.Block]:
    """The section "Độ vững của xếp loại": method, summary, rank-interval chart, a
    table (đơn vị, hạng, xếp loại, xác suất giữ xếp loại, khoảng hạng 5–95 %, đánh
    giá) and one sentence per unit whose tier probability is below `threshold`.

    `summary`, `tiers`, `settings` are the outputs of ``chiso.uncertainty.monte_carlo``
    (or ``read_results`` of a stage's folder). With several periods, `period` (default:
    the latest) is reported. `threshold`: default the ``robust_probability`` the study
    ran with (in `settings`).
    """
    settings = dict(settings or {})
    if threshold is None:
        threshold = float(settings.get("robust_probability", PARAM_DEFAULTS["robust_probability"]))
    s = _select_period(summary, period).filter(pl.col("rank").is_not_null()).sort("unit_group", "rank", "unit")
    t = _select_period(tiers, period)
    tier_order = [x.name for x in sorted(meth.tiers, key=lambda x: x.min, reverse=True)]
    blocks: list[doc.Block] = [doc.Heading(title, level)]
    if s.height == 0:
        blocks.append(doc.Paragraph("Không có đơn vị nào được xếp hạng trong kỳ; không đánh giá độ vững."))
        return blocks
    settings.setdefault("draws", int(s["draws"].max()) if "draws" in s.columns else 0)
    blocks.append(doc.Paragraph(_method_sentence(settings, threshold)))

    flagged = s.filter(pl.col("p_tier") < threshold)
    n, k = s.height, flagged.height
    if k == 0:
        result = (f"Kết quả: cả {fmt_units(n)} đơn vị đều giữ nguyên xếp loại với xác suất từ "
                  f"{fmt_num(100 * threshold, 0, strip=True)} % trở lên.")
    else:
        result = (f"Kết quả: {fmt_units(n - k)}/{fmt_units(n)} đơn vị ({fmt_num(100 * (n - k) / n, 2)} %) giữ nguyên "
                  f"xếp loại với xác suất từ {fmt_num(100 * threshold, 0, strip=True)} % trở lên; "
                  f"{fmt_units(k)} đơn vị có xếp loại chưa vững.")
    lo_q, hi_q = (settings.get("quantiles") or DEFAULT_QUANTILES)[0::2]
    interval = f"{fmt_num(100 * lo_q, 0, strip=True)}–{fmt_num(100 * hi_q, 0, strip=True)} %"
    blocks.append(doc.Paragraph(result))
    if chart:
        svg = rank_interval_chart(s, tier_order, threshold=threshold, interval=interval)
        blocks.append(doc.Figure(svg, caption=f"Hạng chính thức, hạng trung vị và khoảng hạng {interval} qua "
                                              f"{fmt_count(settings['draws'])} lần mô phỏng"))

    groups = s["unit_group"].unique(maintain_order=True).to_list()
    rows: list[Any] = []
    for g in groups:
        if len(groups) > 1:
            rows.append(doc.SectionRow(g))
        for r in s.filter(pl.col("unit_group") == g).iter_rows(named=True):
            rows.append([r["unit"], str(r["rank"]), r["tier"], _pct(r["p_tier"]),
                         _interval(r["rank_p05"], r["rank_p95"]),
                         "Chưa vững" if r["p_tier"] is not None and r["p_tier"] < threshold else "Vững"])
    notes = [f"Xác suất giữ xếp loại: tỷ lệ số lần mô phỏng đơn vị có cùng xếp loại với kết quả chính thức. "
             f"Khoảng hạng {interval}: hạng thấp nhất và cao nhất sau khi bỏ {fmt_num(100 * lo_q, 0, strip=True)} % "
             "số lần mô phỏng ở mỗi phía."]
    notes += [str(x) for x in settings.get("notes") or []]
    blocks.append(doc.Table(
        columns=["Đơn vị", "Hạng", "Xếp loại", "Xác suất giữ xếp loại", f"Khoảng hạng {interval}", "Đánh giá"],
        rows=rows, align=["left", "center", "left", "right", "center", "left"], widths=[4, 1, 1.6, 1.8, 1.8, 1.4],
        caption="Độ vững của xếp loại từng đơn vị", notes=notes, sortable=True, searchable=n > 20))

    if k:
        probs = {
            (r["unit_group"], r["unit"]): list(zip(r["tier"], r["probability"]))
            for r in t.sort("tier_order").group_by("unit_group", "unit", maintain_order=True)
            .agg("tier", "probability").iter_rows(named=True)
        }
        items = []
        for r in flagged.iter_rows(named=True):
            pr = sorted(probs.get((r["unit_group"], r["unit"]), []), key=lambda x: -x[1])
            items.append(_unit_sentence(r, pr, float(r.get("p_not_scored") or 0.0)))
        blocks.append(doc.Paragraph("Các đơn vị có xếp loại chưa vững:"))
        blocks.append(doc.Bullets(items))
    return blocks


__all__ = ["rank_interval_chart", "robustness_blocks"]
