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


def tier_distribution(tier_counts: pl.DataFrame, tier_order: list[str], title: str) -> str:
    """Stacked horizontal bar per unit group: how many units in each tier."""
    groups = tier_counts["unit_group"].unique(maintain_order=True).to_list()
    fig, ax = plt.subplots(figsize=(7.5, 0.7 + 0.55 * len(groups)))
    left = [0] * len(groups)
    for tier in tier_order:
        sub = tier_counts.filter(pl.col("tier") == tier)
        vals = [int(sub.filter(pl.col("unit_group") == g)["count"].sum()) for g in groups]
        ax.barh(groups, vals, left=left, color=tier_colour(tier, tier_order), label=tier, height=0.6)
        for i, v in enumerate(vals):
            if v:
                ax.text(left[i] + v / 2, i, f"{v:02d}", ha="center", va="center", color="white", fontsize=9, fontweight="bold")
        left = [a + b for a, b in zip(left, vals)]
    ax.invert_yaxis()
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
    fig, ax = plt.subplots(figsize=(7.5, 0.8 + 0.26 * len(units)))
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
