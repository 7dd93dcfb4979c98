"""Sentences of "Đánh giá chung", "Đề xuất, kiến nghị" and "Điểm cần thêm để lên hạng".

Rules over the scored tables (`chiso.analysis`) plus the wording file
``wording.yaml``; every figure in a sentence comes from the data.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import polars as pl
import yaml

from .. import analysis, doc
from ..methodology import Methodology
from ..numbers import fmt_num, fmt_units

WORDING = Path(__file__).with_name("wording.yaml")
SHORT_NAME_PREFIXES = ("UBND xã ", "UBND phường ", "UBND thị trấn ", "UBND ")


@lru_cache(maxsize=1)
def wording() -> dict:
    with WORDING.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def short_name(unit: str) -> str:
    """"UBND xã Núa Ngam" → "Núa Ngam" for lists in running text."""
    for prefix in SHORT_NAME_PREFIXES:
        if unit.startswith(prefix):
            return unit[len(prefix):]
    return unit


def points_text(value: float, maximum: float, decimals: int | None = None) -> str:
    d = 2 if decimals is None else max(int(decimals), 0)
    return f"{fmt_num(value, d, strip=True)}/{fmt_num(maximum, 0)} điểm"


def lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word is an acronym ("UBND", "TTHC")."""
    first = text.split(" ", 1)[0]
    return text if (len(first) > 1 and first.isupper()) else text[:1].lower() + text[1:]


def units_phrase(frame: pl.DataFrame) -> str:
    """Who a recommendation is addressed to: the unit, or "group (a, b, c)" per group."""
    parts = []
    for (group,), sub in frame.group_by(["unit_group"], maintain_order=True):
        names = sub["unit"].to_list()
        if len(names) == 1:
            parts.append(names[0])
        else:
            parts.append(f"{lower_first(group)} ({_listed([short_name(n) for n in names])})")
    return "; ".join(parts)


def _listed(names_and_values: list[str]) -> str:
    limit = int(wording().get("max_units_listed", 8))
    if len(names_and_values) <= limit:
        return ", ".join(names_and_values)
    rest = len(names_and_values) - limit
    return ", ".join(names_and_values[:limit]) + f" và {fmt_units(rest)} đơn vị khác"


def achievements(points: pl.DataFrame, meth: Methodology) -> list[str]:
    at_max = analysis.indicators_at_max(points, meth)
    names = {i.code: i.name for i in meth.indicators}
    full = [r["indicator"] for r in at_max.iter_rows(named=True) if r["n_at_max"] == r["n_applicable"]]
    out = []
    if full:
        out.append(f"Toàn bộ các đơn vị được đánh giá đạt điểm tối đa ở {fmt_units(len(full))} chỉ số: "
                   + "; ".join(lower_first(names[c]) for c in full) + ".")
    for r in at_max.iter_rows(named=True):
        if 0 < r["n_at_max"] < r["n_applicable"] and r["n_at_max"] * 2 >= r["n_applicable"]:
            out.append(f"{r['n_at_max']}/{r['n_applicable']} đơn vị đạt điểm tối đa chỉ số {lower_first(names[r['indicator']])}.")
    return out


def _weak(points: pl.DataFrame, meth: Methodology, no_dossier_units: set[str]) -> pl.DataFrame:
    """Weaknesses, leaving out dossier-based indicators of units that had no dossier."""
    w = analysis.weaknesses(points, meth)
    if "numerator" in points.columns:
        w = w.join(points.select("unit_group", "unit", "indicator", "numerator", "denominator"),
                   on=["unit_group", "unit", "indicator"], how="left")
    if no_dossier_units:
        w = w.filter(~(pl.col("unit").is_in(list(no_dossier_units))
                       & pl.col("indicator").is_in([i.code for i in meth.indicators if i.dossier_based])))
    return w


def weakness_items(points: pl.DataFrame, meth: Methodology, no_dossier_units: set[str] = frozenset()) -> list[tuple[str, list[str]]]:
    """("Tồn tại" line, sub-lines) per indicator with units below max, weakest first."""
    w = _weak(points, meth, set(no_dossier_units))
    rules = wording()["indicators"]
    if "decimals" in points.columns:
        w = w.join(points.select("unit_group", "unit", "indicator", "decimals"), on=["unit_group", "unit", "indicator"], how="left")
    else:
        w = w.with_columns(pl.lit(None, dtype=pl.Int64).alias("decimals"))
    out = []
    for (code,), sub in w.group_by(["indicator"], maintain_order=True):
        rule = rules.get(code, {})
        first = sub.row(0, named=True)
        weakness = rule.get("weakness", meth.indicator(code).name)
        if first["all_same"] and sub.height == first["n_applicable"] and sub.height > 1:
            if first["points"] == 0 and rule.get("all_zero"):
                text = rule["all_zero"].format(n=fmt_units(sub.height), max=fmt_num(first["max"], 0))
            else:
                text = (f"{weakness}: toàn bộ {fmt_units(sub.height)} đơn vị cùng được "
                        f"{points_text(first['points'], first['max'], first['decimals'])}")
            out.append((text + ".", []))
            continue
        listed = [f"{short_name(r['unit'])} {_detail(rule, r)}{points_text(r['points'], r['max'], r['decimals'])}"
                  + (")" if _detail(rule, r) else "") for r in sub.iter_rows(named=True)]
        out.append((f"{weakness}: {_listed(listed)}.", []))
    return out


def _detail(rule: dict, row: dict) -> str:
    """ "01 hồ sơ quá hạn (" when the row has counts and the wording has a detail template."""
    num, den = row.get("numerator"), row.get("denominator")
    if not rule.get("detail") or num is None or den is None:
        return ""
    missing = int(round(den - num))
    text = rule["detail"].format(numerator=fmt_num(num, 0), denominator=fmt_num(den, 0), missing=fmt_units(missing))
    return text + " ("


def recommendation_items(points: pl.DataFrame, meth: Methodology, no_dossier_units: set[str] = frozenset()) -> list[str]:
    w = _weak(points, meth, set(no_dossier_units))
    rules = wording()["indicators"]
    out = []
    for (code,), sub in w.group_by(["indicator"], maintain_order=True):
        advice = rules.get(code, {}).get("advice")
        if advice:
            out.append(advice.format(units=units_phrase(sub)))
    return out


def gap_table(units: pl.DataFrame, points: pl.DataFrame, meth: Methodology, near: float,
              limit: int | None = None) -> doc.Block | None:
    gaps = analysis.next_tier_gaps(units, points, meth, near=near)
    if gaps.height == 0:
        return None
    total = gaps.height
    if limit and gaps.height > limit:
        gaps = gaps.head(limit)
    names = {i.code: f"{i.label} – {meth.group_name(i.group).lower()}" if i.label.startswith("Chỉ số") else i.name for i in meth.indicators}
    rows = []
    for r in gaps.iter_rows(named=True):
        opts = r["options"] or []
        if opts:
            how = "; ".join(f"{names[o['indicator']]} (tỷ lệ tăng {fmt_num(o['rate_rise_pp'], 1)} điểm %)" for o in opts)
        else:
            how = "cần cải thiện đồng thời: " + ", ".join(names[c] for c in (r["combination"] or []))
        rows.append([short_name(r["unit"]), r["tier"], fmt_num(r["converted"], 2), r["next_tier"],
                     fmt_num(r["gap_converted"], 2), fmt_num(r["gap_points"], 2), how])
    return doc.Table(
        columns=["Đơn vị", "Xếp loại", "Điểm quy đổi", "Hạng kế tiếp", "Điểm quy đổi còn thiếu",
                 "Điểm đạt được cần thêm", "Chỉ số giúp lên hạng với ít nỗ lực nhất"],
        rows=rows, align=["left", "center", "right", "center", "right", "right", "left"],
        widths=[1.3, 0.8, 0.8, 0.8, 0.8, 0.8, 3.6],
        caption=(f"Các đơn vị cách hạng kế tiếp không quá {fmt_num(near, 0)} điểm quy đổi"
                 + (f" ({fmt_units(gaps.height)} đơn vị gần ngưỡng nhất trong số {fmt_units(total)})" if total > gaps.height else "")),
        notes=["Ít nỗ lực nhất: chỉ số còn đủ điểm để bù phần thiếu và cần tăng tỷ lệ của chỉ số ít nhất "
               "(điểm cần thêm / điểm tối đa của chỉ số)."],
        sortable=True)
