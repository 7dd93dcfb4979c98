"""Charts as deterministic SVG strings (text drawn as paths: diacritics survive any viewer)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from .numbers import fmt_num  # noqa: E402

TIER_COLOURS = {
    "Xuất sắc": "#1a7f37",
    "Tốt": "#4c9be8",
    "Khá": "#e3b341",
    "Trung bình": "#f0883e",
    "Yếu": "#cf222e",
}
FALLBACK_COLOURS = ["#1a7f37", "#4c9be8", "#e3b341", "#f0883e", "#cf222e", "#8250df", "#57606a"]

matplotlib.rcParams.update({
    "svg.fonttype": "path",
    "svg.hashsalt": "chiso",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
})


def tier_colour(tier: str, order: list[str]) -> str:
    return TIER_COLOURS.get(tier, FALLBACK_COLOURS[order.index(tier) % len(FALLBACK_COLOURS)] if tier in order else "#57606a")


def to_svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return buf.getvalue()


def _vn_axis(ax, axis: str = "x", decimals: int = 0) -> None:
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _pos: fmt_num(v, decimals))
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(fmt)


def segment_labels(rows: list[list[int]], char_width: float = 0.028) -> list[tuple[float, int, str, bool]]:
    """Where the counts of stacked bars are written: (x, bar index, text, inside).

    ``rows[i]`` are the segment lengths of bar i, left to right. A count goes inside
    its segment when the segment is at least ``char_width`` of the longest bar per
    digit, else just above the bar; empty segments get no label."""
    room = max((sum(r) for r in rows), default=0) * char_width
    out = []
    for i, row in enumerate(rows):
        left = 0
        for v in row:
            if v:
                out.append((left + v / 2, i, str(v), v >= room * len(str(v))))
            left += v
    return out


def tier_distribution(tier_counts: pl.DataFrame, tier_order: list[str], title: str) -> str:
    """Stacked horizontal bar per unit group: how many units in each tier."""
    groups = tier_counts["unit_group"].unique(maintain_order=True).to_list()
    counts = {(g, t): int(c) for g, t, c in tier_counts.group_by("unit_group", "tier").agg(pl.col("count").sum()).iter_rows()}
    rows = [[counts.get((g, t), 0) for t in tier_order] for g in groups]
    fig, ax = plt.subplots(figsize=(7.5, 0.7 + 0.55 * len(groups)))
    left = [0] * len(groups)
    for j, tier in enumerate(tier_order):
        vals = [r[j] for r in rows]
        ax.barh(groups, vals, left=left, color=tier_colour(tier, tier_order), label=tier, height=0.6)
        left = [a + b for a, b in zip(left, vals)]
    labels = segment_labels(rows)
    for x, i, text, inside in labels:
        ax.text(x, i if inside else i - 0.34, text, ha="center", va="center" if inside else "bottom",
                color="white" if inside else "#24292f", fontsize=9 if inside else 7.5, fontweight="bold")
    above = not all(inside for *_, inside in labels)
    ax.set_ylim(len(groups) - 0.5, -0.85 if above else -0.5)   # inverted: first group on top
    ax.set_xlabel("Số đơn vị")
    ax.set_title(title, loc="left", fontsize=10)
    ax.legend(ncol=len(tier_order), loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(groups) < 3 else -0.2), frameon=False, fontsize=8)
    return to_svg(fig)


def ranked_scores(units: pl.DataFrame, tier_order: list[str], thresholds: list[tuple[str, float]], title: str) -> str:
    """Converted scores, best first, coloured by tier, with the tier cut-offs drawn."""
    df = units.sort("converted", descending=True, nulls_last=True)
    names = df["label"].to_list()
    vals = df["converted"].to_list()
    colours = [tier_colour(t, tier_order) for t in df["tier"].to_list()]
    fig, ax = plt.subplots(figsize=(7.5, 0.6 + 0.24 * len(names)))
    ax.barh(names, vals, color=colours, height=0.7)
    for i, v in enumerate(vals):
        ax.text(v + 0.5, i, fmt_num(v, 2), va="center", fontsize=7.5)
    for name, cut in thresholds:
        if 0 < cut < 100:
            ax.axvline(cut, color="#57606a", lw=0.6, ls="--")
            ax.text(cut, -0.9, fmt_num(cut, 0), ha="center", fontsize=7, color="#57606a")
    ax.set_xlim(0, 105)
    ax.invert_yaxis()
    ax.set_xlabel("Tổng điểm quy đổi (thang 100)")
    ax.set_title(title, loc="left", fontsize=10)
    handles = [plt.Rectangle((0, 0), 1, 1, color=tier_colour(t, tier_order)) for t in tier_order if t in set(df["tier"].to_list())]
    ax.legend(handles, [t for t in tier_order if t in set(df["tier"].to_list())], loc="lower right", fontsize=7, frameon=True)
    return to_svg(fig)


def group_profile(groups: pl.DataFrame, group_names: dict[str, str], title: str) -> str:
    """Stacked bars of points lost per indicator group for each unit (where points are lost)."""
    units = groups["label"].unique(maintain_order=True).to_list()
    fig, ax = plt.subplots(figsize=(7.5, 0.8 + 0.24 * len(units)))
    left = [0.0] * len(units)
    for i, (code, name) in enumerate(group_names.items()):
        sub = groups.filter(pl.col("group") == code)
        lost = {r["label"]: r["lost"] for r in sub.iter_rows(named=True)}
        vals = [float(lost.get(u, 0.0)) for u in units]
        ax.barh(units, vals, left=left, color=FALLBACK_COLOURS[(i + 1) % len(FALLBACK_COLOURS)], label=name, height=0.7)
        left = [a + b for a, b in zip(left, vals)]
    ax.invert_yaxis()
    ax.set_xlabel("Số điểm bị mất so với điểm tối đa áp dụng")
    _vn_axis(ax, "x")
    ax.set_title(title, loc="left", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08 - 1.2 / max(len(units), 6)), ncol=3, frameon=False, fontsize=7.5)
    return to_svg(fig)


# ----------------------------------------------------------------------------------
# Annual analysis (SIPAS, PAR INDEX): added for chiso.reports.annual
# ----------------------------------------------------------------------------------
ANNUAL_CURRENT_COLOUR = "#1f5fa8"
ANNUAL_PREVIOUS_COLOUR = "#a9c4e4"


def _wrap_label(text: str, width: int = 34) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


def grouped_hbars(labels: list[str], current: list[float | None], previous: list[float | None],
                  current_label: str, previous_label: str, title: str, xlabel: str,
                  decimals: int = 2, maxima: list[float] | None = None, max_label: str = "",
                  xlim: tuple[float, float] | None = None, label_width: int = 34) -> str:
    """Two horizontal bars per category (current year above, previous year below), value
    printed at the end of each bar in Vietnamese format; with ``maxima`` a light track behind
    each pair shows the category's maximum. ``None`` values are left out (no bar, no label)."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    n = len(labels)
    fig, ax = plt.subplots(figsize=(7.5, 0.7 + 0.5 * n))
    h = 0.36
    ys = list(range(n))
    top = max([v for v in list(current) + list(previous) + list(maxima or []) if v is not None] or [1.0])
    handles = []
    if maxima:
        ax.barh(ys, maxima, height=2 * h + 0.12, color="#eef1f4", edgecolor="#d0d7de", lw=0.6, zorder=0)
        handles.append(Patch(facecolor="#eef1f4", edgecolor="#d0d7de", label=max_label))
    for offset, values, colour, name in ((-h / 2, current, ANNUAL_CURRENT_COLOUR, current_label),
                                         (h / 2, previous, ANNUAL_PREVIOUS_COLOUR, previous_label)):
        pos = [y + offset for y, v in zip(ys, values) if v is not None]
        vals = [v for v in values if v is not None]
        ax.barh(pos, vals, height=h, color=colour, zorder=2)
        handles.append(Patch(facecolor=colour, label=name))
        for p, v in zip(pos, vals):
            ax.text(v + top * 0.008, p, fmt_num(v, decimals), va="center", fontsize=8, zorder=3)
    ax.set_yticks(ys, [_wrap_label(t, label_width) for t in labels], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(*(xlim or (0, top * 1.1)))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    _vn_axis(ax, "x")
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left", fontsize=10, pad=18)
    ax.legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(handles), frameon=False,
              fontsize=8, borderaxespad=0.2)
    return to_svg(fig)


def history_line(years: list[int], values: list[float], title: str, ylabel: str, decimals: int = 2,
                 notes: dict[int, str] | None = None, ylim: tuple[float, float] | None = None) -> str:
    """A yearly series as a line with every point labelled (Vietnamese numbers); ``notes``
    adds a second label line under chosen years (e.g. the rank)."""
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    ax.plot(years, values, color=ANNUAL_CURRENT_COLOUR, marker="o", lw=1.8, ms=4.5)
    for x, v in zip(years, values):
        ax.annotate(fmt_num(v, decimals), (x, v), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=7.5)
        if notes and x in notes:
            ax.annotate(notes[x], (x, v), textcoords="offset points", xytext=(0, -10), ha="center", va="top",
                        fontsize=7, color="#57606a", linespacing=1.1)
    ax.set_xticks(years, [str(y) for y in years], fontsize=8)
    lo, hi = min(values), max(values)
    ax.set_ylim(*(ylim or (lo - (hi - lo) * 0.15 - 2, hi + (hi - lo) * 0.12 + 2)))
    _vn_axis(ax, "y")
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", color="#d0d7de", lw=0.6)
    ax.set_axisbelow(True)
    ax.set_title(title, loc="left", fontsize=10)
    return to_svg(fig)


def change_bars(labels: list[str], changes: list[float], title: str, xlabel: str, decimals: int = 2,
                colours: list[str] | None = None, label_width: int = 60) -> str:
    """One horizontal bar per item for a change between two years (positive to the right),
    value printed with its sign; items drawn in the order given (first at the top)."""
    from .numbers import fmt_signed

    n = len(labels)
    fig, ax = plt.subplots(figsize=(7.5, 0.7 + 0.2 * n))
    ys = list(range(n))
    cols = colours or [ANNUAL_CURRENT_COLOUR if c >= 0 else "#cf222e" for c in changes]
    ax.barh(ys, changes, color=cols, height=0.7)
    span = max([abs(c) for c in changes] or [1.0])
    for y, c in zip(ys, changes):
        ax.text(c + (span * 0.01 if c >= 0 else -span * 0.01), y, fmt_signed(c, decimals), va="center",
                ha="left" if c >= 0 else "right", fontsize=7)
    ax.set_yticks(ys, [_wrap_label(t, label_width) for t in labels], fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="#57606a", lw=0.6)
    lo = min(0.0, min(changes or [0.0]))
    ax.set_xlim(lo * 1.15 - (span * 0.02 if lo < 0 else 0), max(0.0, max(changes or [0.0])) * 1.15 + span * 0.02)
    _vn_axis(ax, "x", decimals=1)
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left", fontsize=10)
    return to_svg(fig)


def score_scatter(units: pl.DataFrame, x: str, y: str, xlabel: str, ylabel: str, title: str,
                  top: float = 100) -> str:
    """One point per unit: its score under two methodologies (scale up to ``top``), with the diagonal x = y."""
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    xs, ys = units[x].to_list(), units[y].to_list()
    lo = min(min(xs), min(ys)) - 2
    ax.plot([lo, top], [lo, top], color="#8c959f", linewidth=0.8, linestyle="--")
    ax.scatter(xs, ys, s=14, color="#4c9be8", edgecolors="#1f6feb", linewidths=0.4)
    ax.set_xlim(lo, top)
    ax.set_ylim(lo, top)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _vn_axis(ax, "x")
    _vn_axis(ax, "y")
    ax.set_title(title, loc="left", fontsize=10)
    return to_svg(fig)


def province_trend(trend: pl.DataFrame, title: str) -> str:
    """Mean converted score per period with the 10th–90th percentile band of units."""
    stats = (trend.group_by("period").agg(pl.col("converted").mean().alias("mean"),
                                          pl.col("converted").quantile(0.1).alias("p10"),
                                          pl.col("converted").quantile(0.9).alias("p90"))
             .sort("period"))
    labels = [f"{int(p[5:])}/{p[2:4]}" for p in stats["period"].to_list()]
    x = list(range(len(labels)))
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    ax.fill_between(x, stats["p10"].to_list(), stats["p90"].to_list(), color="#4c9be8", alpha=0.2, label="10–90 % đơn vị")
    ax.plot(x, stats["mean"].to_list(), color="#1f4e79", marker="o", ms=3, lw=1.5, label="Bình quân")
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step])
    ax.set_xticklabels(labels[::step], fontsize=7.5)
    _vn_axis(ax, "y")
    ax.set_ylabel("Điểm quy đổi")
    ax.set_title(title, loc="left", fontsize=10)
    ax.legend(fontsize=7.5, frameon=False, loc="lower right")
    return to_svg(fig)


def unit_heatmap(trend: pl.DataFrame, current: pl.DataFrame, title: str) -> str:
    """Units (current ones, best first) × periods, coloured by converted score."""
    import numpy as np

    order = current.sort("converted", descending=True)["unit_code"].to_list()
    names = dict(zip(current["unit_code"].to_list(), current["unit"].to_list()))
    per = sorted(trend["period"].unique().to_list())
    grid = np.full((len(order), len(per)), np.nan)
    idx = {c: i for i, c in enumerate(order)}
    pidx = {p: j for j, p in enumerate(per)}
    sub = trend.filter(pl.col("unit_code").is_in(order))
    for c, p, v in zip(sub["unit_code"].to_list(), sub["period"].to_list(), sub["converted"].to_list()):
        grid[idx[c], pidx[p]] = v
    fig, ax = plt.subplots(figsize=(7.5, 0.8 + 0.16 * len(order)))
    im = ax.imshow(grid, aspect="auto", cmap="RdYlGn", vmin=40, vmax=100, interpolation="nearest")
    ax.set_yticks(range(len(order)))
    short = [names[c].replace("UBND ", "").replace("xã ", "").replace("phường ", "") for c in order]
    ax.set_yticklabels(short, fontsize=5.5 if len(order) > 60 else 7)
    step = max(1, len(per) // 12)
    ax.set_xticks(range(0, len(per), step))
    ax.set_xticklabels([f"{int(p[5:])}/{p[2:4]}" for p in per][::step], fontsize=7)
    cb = fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01)
    cb.ax.tick_params(labelsize=7)
    ax.set_title(title, loc="left", fontsize=10)
    return to_svg(fig)
