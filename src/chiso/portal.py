"""The national portal's per-unit JSON (QĐ 766 index) as a counts table.

Input: the structure captured by the public crawler duynghiaqn/Crawler-766
(``details_<Province>_<DDMMYYYY>.json``): ``metadata`` (province, period), and
``unitsDetail``: per unit its code, name, group (AGENCY/COMMUNE), total, ranks,
``groupScores`` and ``componentIndicators`` (one entry per group; most carry
``metrics`` with numerator, denominator, ratio, score and maxScore).

Every metric becomes one counts row (canonical lower-case code, see
``METRIC_CODES``); every group also becomes one row ``group_<code>`` carrying only
the group's printed score, so a capture that omits a group's metrics still keeps
the group score (scored as "carried from source, not recomputed"). Nothing is
invented: a metric the capture does not give has no row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from . import methodology as _methodology
from .counts import BASIS_CARRIED, BASIS_RECOMPUTED, UNIT_COLUMNS, indicator_points, normalize_counts, unit_table
from .errors import InputError

# National metric code → canonical counts code (anything else: the code lower-cased).
METRIC_CODES = {
    "PUBLISH_ON_TIME": "publish_on_time",
    "PUBLIC_UPDATE_ON_TIME": "public_update_on_time",
    "PUBLIC_CONTENT_FULL": "public_content_full",
    "DOSSIER_SYNC": "dossier_sync",
    "ORIGINAL_RESULT_AVAILABLE": "e_result",
    "SO_HOA_GIAY_TO_GIAI_QUYET": "digitised",
    "DOSSIER_RECEIVING_SATISFACTION": "dossier_satisfaction",
    "PETITION_PROCESSING_ON_TIME": "petition_on_time",
    "PETITION_HANDLING_SATISFACTION": "petition_satisfaction",
}
# Count pairs given as fields of a group (not as metrics): code → (numerator field, denominator field).
FIELD_METRICS = {
    "TDGQ": {"on_time": ("totalOnTime", "totalReceived")},
    "TTTT": {
        "online_payment": ("totalDossierOnlinePaymentSuccess", "totalDossierFinancialObligation"),
        "online_payment_formality": ("totalDossierOnlineFormalityPaymentSuccess", "totalFeeFormality"),
    },
}
# Count fields: code → (group, field).
COUNT_FIELDS = {"dossiers_received": ("TDGQ", "totalReceived")}
UNIT_GROUPS = {"AGENCY": "Sở, ban, ngành cấp tỉnh", "COMMUNE": "UBND xã, phường", "DISTRICT": "UBND các huyện, thị xã, thành phố"}
GROUP_ORDER = ("CKMB", "TDGQ", "ONLINE", "TTTT", "MDSH", "MDHL")


def _load(path_or_data: str | Path | dict[str, Any]) -> tuple[dict[str, Any], str]:
    if isinstance(path_or_data, dict):
        return path_or_data, "<dữ liệu>"
    path = Path(path_or_data)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise InputError(f"Tệp JSON không đọc được (dòng {exc.lineno}).", "Invalid JSON.",
                         file=str(path), row=exc.lineno, rule="json_format") from exc
    if not isinstance(data, dict) or not isinstance(data.get("unitsDetail"), list):
        raise InputError("Tệp JSON không có danh sách đơn vị 'unitsDetail' của Cổng DVCQG.",
                         "JSON without 'unitsDetail'.", file=str(path), column="unitsDetail", rule="portal_format")
    return data, str(path)


def period_of(meta: dict[str, Any]) -> str:
    """"2026" (year to date), "2026-03" (month) or "2026-Q1" (quarter)."""
    year, kind, period = meta.get("year"), meta.get("timeType"), meta.get("period")
    if kind == "month" and period:
        return f"{year}-{int(period):02d}"
    if kind == "quarter" and period:
        return f"{year}-Q{int(period)}"
    return str(year if year is not None else meta.get("periodLabel", ""))


def _component(unit: dict[str, Any], group: str) -> dict[str, Any] | None:
    for key, value in (unit.get("componentIndicators") or {}).items():
        if key.split("_", 1)[0] == group and isinstance(value, dict):
            return value
    return None


def read_portal(path_or_data: str | Path | dict[str, Any]) -> pl.DataFrame:
    """Counts table of a portal capture (see the module docstring)."""
    data, name = _load(path_or_data)
    period = period_of(data.get("metadata") or {})
    rows: list[dict[str, Any]] = []
    for i, unit in enumerate(data["unitsDetail"]):
        code = unit.get("departmentCode") or unit.get("departmentId")
        if not code or not unit.get("departmentName"):
            raise InputError("Đơn vị thiếu mã hoặc tên.", "Unit without code or name.",
                             file=name, row=i + 1, column="departmentCode", rule="portal_unit")
        base = {"period": period, "unit_code": code, "unit_name": unit["departmentName"],
                "unit_group": UNIT_GROUPS.get(unit.get("childGroup"), unit.get("childGroup") or "")}
        group_scores = unit.get("groupScores") or {}
        groups = list(dict.fromkeys([*GROUP_ORDER, *group_scores]))
        for group in groups:
            comp = _component(unit, group) or {}
            score = comp.get("score", group_scores.get(group))
            if score is None and not comp:
                continue
            rows.append({**base, "indicator": f"group_{group.lower()}", "numerator": None, "denominator": None,
                         "provisional": False, "source_score": score, "source_max": comp.get("maxScore"),
                         "available": False, "note": None})
            for mcode, (num_f, den_f) in FIELD_METRICS.get(group, {}).items():
                if num_f in comp or den_f in comp:
                    num, den = comp.get(num_f), comp.get(den_f)
                    is_own = group == "TDGQ"
                    rows.append({**base, "indicator": mcode, "numerator": num, "denominator": den,
                                 "provisional": False,
                                 "source_score": comp.get("score") if is_own else None,
                                 "source_max": comp.get("maxScore") if is_own else None,
                                 "available": num is not None and den is not None, "note": None})
            for m in comp.get("metrics") or []:
                status = m.get("dataQualityStatus")
                note = f"{status}: {m.get('dataQualityMessage', '')}".strip() if status else None
                num, den = m.get("numerator"), m.get("denominator")
                rows.append({**base, "indicator": METRIC_CODES.get(m["code"], str(m["code"]).lower()),
                             "numerator": num, "denominator": den, "provisional": status is not None,
                             "source_score": m.get("score"), "source_max": m.get("maxScore"),
                             "available": num is not None and den is not None, "note": note})
        for mcode, (group, field) in COUNT_FIELDS.items():
            comp = _component(unit, group) or {}
            if field in comp:
                rows.append({**base, "indicator": mcode, "numerator": comp[field], "denominator": None,
                             "provisional": False, "source_score": None, "source_max": None,
                             "available": comp[field] is not None, "note": None})
    schema = {"period": pl.String, "unit_code": pl.String, "unit_name": pl.String, "unit_group": pl.String,
              "indicator": pl.String, "numerator": pl.Float64, "denominator": pl.Float64, "provisional": pl.Boolean,
              "source_score": pl.Float64, "source_max": pl.Float64, "available": pl.Boolean, "note": pl.String}
    return normalize_counts(pl.DataFrame(rows, schema=schema))


def read_units(path_or_data: str | Path | dict[str, Any]) -> pl.DataFrame:
    """Unit-level figures the portal prints: total, ranks and group scores."""
    data, _ = _load(path_or_data)
    period = period_of(data.get("metadata") or {})
    rows = [
        {"period": period, "unit_code": u.get("departmentCode"), "unit_name": u.get("departmentName"),
         "unit_group": UNIT_GROUPS.get(u.get("childGroup"), u.get("childGroup")),
         "portal_total": u.get("totalScore"), "portal_rank": u.get("rank"), "portal_group_rank": u.get("groupRank"),
         **{f"portal_{g.lower()}": (u.get("groupScores") or {}).get(g) for g in GROUP_ORDER}}
        for u in data["unitsDetail"]
    ]
    return pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.col("portal_total").cast(pl.Float64), *[pl.col(f"portal_{g.lower()}").cast(pl.Float64) for g in GROUP_ORDER])


# Why a metric cannot be checked against the portal (Vietnamese, printed in reports).
REASONS = {
    "carried": "Cổng không cho tử số, mẫu số: giữ điểm Cổng, không tính lại.",
    "group_carried": "Nguồn chỉ có điểm nhóm: giữ điểm nhóm, không tính lại.",
    "tracked": "Chỉ tiêu theo dõi (0 điểm tối đa), Cổng không chấm điểm.",
    "no_source_score": "Cổng không in điểm riêng của chỉ tiêu này (chỉ có trong điểm nhóm).",
    "not_available": "Không có số liệu.",
    "recomputed": "Tính lại từ tử số, mẫu số.",
}


def reproduction_report(source: str | Path | dict[str, Any] | pl.DataFrame, meth: _methodology.Methodology | None = None,
                        tolerance: float = 0.01, total_tolerance: float = 0.03) -> pl.DataFrame:
    """How far the recomputed points are from the portal's own scores, per metric.

    Columns: ``metric, group, n_units, n_recomputed, n_matched, max_abs_diff, reason``
    (n_matched: recomputed and within ``tolerance`` of the portal's score). A last
    row ``TOTAL`` compares unit totals with the portal's ``totalScore`` within
    ``total_tolerance`` (needs the JSON, not just counts).
    """
    meth = meth or _methodology.load("qd766-2022")
    counts = source if isinstance(source, pl.DataFrame) else read_portal(source)
    pts = indicator_points(counts, meth)
    # The portal prints no score (null) for a scored metric at 0/0 and counts it 0 in
    # the group: compare with 0 there, and say how many such units there were.
    printed = pl.col("source_score").is_not_null().any().over("indicator")
    checked = pl.col("recomputed") & (pl.col("spec_max") > 0) & printed
    diff = (pl.col("points") - pl.col("source_score").fill_null(0.0)).abs()
    reason = (
        pl.when((pl.col("spec_max") == 0).all()).then(pl.lit(REASONS["tracked"]))
        .when((pl.col("rule") == "group_carried").all()).then(pl.lit(REASONS["group_carried"]))
        .when((pl.col("basis") == BASIS_CARRIED).all()).then(pl.lit(REASONS["carried"]))
        .when(pl.col("recomputed").any() & pl.col("source_score").is_null().all()).then(pl.lit(REASONS["no_source_score"]))
        .when(pl.col("_checked").any()).then(pl.lit(REASONS["recomputed"]))
        .otherwise(pl.lit(REASONS["not_available"]))
    )
    per_metric = (
        pts.filter(~pl.col("group_carried") | pl.col("group_row"))
        .with_columns(checked.alias("_checked"), diff.alias("_diff"))
        .group_by("indicator", "group")
        .agg(
            pl.col("unit_code").n_unique().alias("n_units"),
            pl.col("recomputed").sum().alias("n_recomputed"),
            (pl.col("_checked") & (pl.col("_diff") <= tolerance + 1e-9)).sum().alias("n_matched"),
            pl.when(pl.col("_checked")).then(pl.col("_diff")).max().round(6).alias("max_abs_diff"),
            (pl.col("_checked") & pl.col("source_score").is_null()).sum().alias("n_source_blank"),
            reason.alias("reason"),
            pl.col("order").min(),
        )
        .sort("order").drop("order").rename({"indicator": "metric"})
        .with_columns(pl.col("n_recomputed").cast(pl.Int64), pl.col("n_matched").cast(pl.Int64),
                      pl.col("n_source_blank").cast(pl.Int64))
    )
    if isinstance(source, pl.DataFrame):
        return per_metric
    totals = total_comparison(source, meth, pts)
    total_row = totals.select(
        pl.lit("TOTAL").alias("metric"), pl.lit(None, dtype=pl.String).alias("group"),
        pl.len().cast(pl.UInt32).alias("n_units"), pl.len().cast(pl.Int64).alias("n_recomputed"),
        (pl.col("abs_diff") <= total_tolerance + 1e-9).sum().cast(pl.Int64).alias("n_matched"),
        pl.col("abs_diff").max().alias("max_abs_diff"),
        pl.lit(0, dtype=pl.Int64).alias("n_source_blank"),
        pl.lit(f"Tổng điểm đơn vị so với totalScore của Cổng (sai số cho phép {total_tolerance:.2f})".replace(".", ","))
        .alias("reason"),
    )
    return pl.concat([per_metric, total_row], how="vertical_relaxed")


def total_comparison(source: str | Path | dict[str, Any], meth: _methodology.Methodology | None = None,
                     points: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per unit: recomputed total vs the portal's totalScore and ranks."""
    meth = meth or _methodology.load("qd766-2022")
    pts = points if points is not None else indicator_points(read_portal(source), meth)
    units = unit_table(pts, meth)
    portal = read_units(source)
    return (
        units.join(portal.select("period", "unit_code", "portal_total", "portal_rank", "portal_group_rank"),
                   on=["period", "unit_code"], how="full", coalesce=True)
        .with_columns((pl.col("total_rounded") - pl.col("portal_total")).abs().round(6).alias("abs_diff"))
        .sort("unit_group", "rank", "unit")
    )


def recomputed_share(points: pl.DataFrame) -> pl.DataFrame:
    """Share of scored points recomputed vs carried, per unit (what the report can vouch for)."""
    scored = pl.col("max") > 0
    return points.filter(scored).group_by(*UNIT_COLUMNS[:2], "unit").agg(
        pl.when(pl.col("basis") == BASIS_RECOMPUTED).then(pl.col("max")).sum().alias("max_recomputed"),
        pl.when(pl.col("basis") == BASIS_CARRIED).then(pl.col("max")).sum().alias("max_carried"),
    )
