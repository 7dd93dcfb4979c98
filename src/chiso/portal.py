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

The file is read through ``chiso.sniff`` (BOM, UTF-16, legacy encodings, NFC names:
repairs recorded) and checked: a capture that is not the portal's structure, a
duplicated unit, a count that is text, negative, or a numerator above its
denominator raise ``InputError``, whose ``row`` is the unit's position (1-based)
in ``unitsDetail`` and whose ``column`` is the JSON field.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import polars as pl

from . import methodology as _methodology
from .counts import (BASIS_CARRIED, BASIS_RECOMPUTED, COUNTS_SCHEMA, UNIT_COLUMNS, check_value_rules, indicator_points,
                     normalize_counts, unit_table)
from . import sniff
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


def _load(path_or_data: str | Path | dict[str, Any], text: str | None = None) -> tuple[dict[str, Any], str]:
    """The capture as a dict; the file is read through ``chiso.sniff`` (BOM, encoding, NFC:
    repairs recorded) and its shape checked (``InputError`` otherwise)."""
    if isinstance(path_or_data, dict):
        data, name = path_or_data, "<dữ liệu>"
    else:
        path = Path(path_or_data)
        name = str(path)
        if text is None:
            text, _ = sniff.read_text(path)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"Tệp JSON không đọc được (dòng {exc.lineno}, cột {exc.colno}: {exc.msg}); tệp tải về "
                             "có thể bị cắt cụt, tải lại từ Hệ thống quản trị của Cổng DVCQG.",
                             f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
                             file=name, row=exc.lineno, column=f"ký tự {exc.colno}", rule="json_format") from exc
    if not isinstance(data, dict) or not isinstance(data.get("unitsDetail"), list):
        keys = ", ".join(list(data)[:8]) if isinstance(data, dict) else type(data).__name__
        raise InputError("Tệp JSON không có danh sách đơn vị 'unitsDetail' của Cổng DVCQG (không phải tệp chi tiết "
                         f"chỉ số tải từ Hệ thống quản trị; tệp có: {keys}).",
                         f"JSON without the portal's 'unitsDetail' list (found: {keys}).",
                         file=name, column="unitsDetail", rule="portal_format")
    if not isinstance(data.get("metadata") or {}, dict):
        raise InputError("Mục 'metadata' của tệp JSON phải là một đối tượng (năm, kỳ).", "'metadata' is not an object.",
                         file=name, column="metadata", rule="portal_format")
    return data, name


def period_of(meta: dict[str, Any]) -> str:
    """"2026" (year to date), "2026-03" (month) or "2026-Q1" (quarter)."""
    year, kind, period = meta.get("year"), meta.get("timeType"), meta.get("period")
    try:
        if kind == "month" and period:
            return f"{int(year)}-{int(period):02d}"
        if kind == "quarter" and period:
            return f"{int(year)}-Q{int(period)}"
    except (TypeError, ValueError):
        return str(meta.get("periodLabel") or "")
    return str(year if year is not None else meta.get("periodLabel", ""))


def _component(unit: dict[str, Any], group: str) -> dict[str, Any] | None:
    for key, value in (unit.get("componentIndicators") or {}).items():
        if key.split("_", 1)[0] == group and isinstance(value, dict):
            return value
    return None


def _number(value: Any, name: str, row: int, field: str, where: str) -> float | None:
    """A count or score of the capture: a JSON number or null (text numbers are refused)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"Giá trị '{str(value)[:40]}' của {field} ({where}, đơn vị thứ {row} trong 'unitsDetail') "
                         "phải là số JSON, không phải chuỗi.",
                         f"{field} ({where}) must be a number, got {type(value).__name__}.",
                         file=name, row=row, column=field, rule="portal_number")
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"Giá trị {field} ({where}) không hợp lệ.", f"{field} ({where}) is not finite.",
                         file=name, row=row, column=field, rule="portal_number")
    return float(value)


def read_portal(path_or_data: str | Path | dict[str, Any]) -> pl.DataFrame:
    """Counts table of a portal capture (see the module docstring)."""
    return _read_portal(path_or_data).drop("source_row")


def _read_portal(path_or_data: str | Path | dict[str, Any], text: str | None = None) -> pl.DataFrame:
    """``read_portal`` plus ``source_row``: the unit's position (1-based) in ``unitsDetail``."""
    data, name = _load(path_or_data, text)
    period = period_of(data.get("metadata") or {})
    rows: list[dict[str, Any]] = []
    codes: dict[str, int] = {}
    renamed: list[tuple[int, str, str]] = []
    for i, unit in enumerate(data["unitsDetail"]):
        row = i + 1
        if not isinstance(unit, dict):
            raise InputError(f"Phần tử thứ {row} của 'unitsDetail' không phải là một đơn vị (đối tượng JSON).",
                             f"unitsDetail[{i}] is not an object.", file=name, row=row, column="unitsDetail",
                             rule="portal_unit")
        code = unit.get("departmentCode") or unit.get("departmentId")
        if not isinstance(code, (str, int)) or isinstance(code, bool) or not str(code).strip() \
                or not isinstance(unit.get("departmentName"), str) or not unit["departmentName"].strip():
            raise InputError(f"Đơn vị thứ {row} trong 'unitsDetail' thiếu mã (departmentCode) hoặc tên (departmentName).",
                             f"unitsDetail[{i}]: unit without code or name.",
                             file=name, row=row, column="departmentCode", rule="portal_unit")
        code, unit_name = _unit_key(unit)
        if code in codes:
            raise InputError(f"Đơn vị {code} ({unit['departmentName']}) xuất hiện hai lần trong 'unitsDetail' "
                             f"(đơn vị thứ {codes[code]} và thứ {row}): đơn vị bị lặp, xóa một lần xuất hiện.",
                             f"Duplicated unit {code} (positions {codes[code]} and {row}).",
                             file=name, row=row, column="departmentCode", rule="duplicate_unit")
        codes[code] = row
        if unit_name != unit["departmentName"]:
            renamed.append((row, unit["departmentName"], unit_name))
        child = unit.get("childGroup")
        if child is not None and not isinstance(child, str):
            raise InputError("Nhóm đơn vị 'childGroup' phải là chữ (AGENCY, COMMUNE …).", "childGroup is not a string.",
                             file=name, row=row, column="childGroup", rule="portal_format")
        base = {"period": period, "unit_code": code, "unit_name": unit_name,
                "unit_group": UNIT_GROUPS.get(child, child or ""), "source_row": row}
        group_scores = unit.get("groupScores") or {}
        components = unit.get("componentIndicators") or {}
        if not isinstance(group_scores, dict) or not isinstance(components, dict):
            raise InputError("'groupScores' và 'componentIndicators' của đơn vị phải là đối tượng JSON.",
                             "groupScores/componentIndicators must be objects.", file=name, row=row,
                             column="componentIndicators", rule="portal_format")
        groups = list(dict.fromkeys([*GROUP_ORDER, *group_scores]))
        for group in groups:
            comp = _component(unit, group) or {}
            where = f"đơn vị {code}, nhóm {group}"
            score = _number(comp.get("score", group_scores.get(group)), name, row, "score", where)
            if score is None and not comp:
                continue
            rows.append({**base, "indicator": f"group_{group.lower()}", "numerator": None, "denominator": None,
                         "provisional": False, "source_score": score,
                         "source_max": _number(comp.get("maxScore"), name, row, "maxScore", where),
                         "available": False, "note": None,
                         "_fields": ("numerator", "denominator", f"{group}.score", f"{group}.maxScore")})
            for mcode, (num_f, den_f) in FIELD_METRICS.get(group, {}).items():
                if num_f in comp or den_f in comp:
                    num = _number(comp.get(num_f), name, row, num_f, where)
                    den = _number(comp.get(den_f), name, row, den_f, where)
                    is_own = group == "TDGQ"
                    rows.append({**base, "indicator": mcode, "numerator": num, "denominator": den,
                                 "provisional": False,
                                 "source_score": _number(comp.get("score"), name, row, "score", where) if is_own else None,
                                 "source_max": _number(comp.get("maxScore"), name, row, "maxScore", where)
                                 if is_own else None,
                                 "available": num is not None and den is not None, "note": None,
                                 "_fields": (num_f, den_f, f"{group}.score", f"{group}.maxScore")})
            metrics = comp.get("metrics") or []
            if not isinstance(metrics, list):
                raise InputError(f"'metrics' của nhóm {group} phải là một danh sách.", f"metrics of {group} is not a list.",
                                 file=name, row=row, column=f"{group}.metrics", rule="portal_format")
            for m in metrics:
                if not isinstance(m, dict) or not isinstance(m.get("code"), str) or not m["code"].strip():
                    raise InputError(f"Một chỉ tiêu của nhóm {group} không có mã ('code').",
                                     f"A metric of {group} has no code.", file=name, row=row,
                                     column=f"{group}.metrics", rule="portal_format")
                mwhere = f"đơn vị {code}, chỉ tiêu {m['code']}"
                status = m.get("dataQualityStatus")
                note = f"{status}: {m.get('dataQualityMessage', '')}".strip() if status else None
                num = _number(m.get("numerator"), name, row, "numerator", mwhere)
                den = _number(m.get("denominator"), name, row, "denominator", mwhere)
                rows.append({**base, "indicator": METRIC_CODES.get(m["code"], str(m["code"]).lower()),
                             "numerator": num, "denominator": den, "provisional": status is not None,
                             "source_score": _number(m.get("score"), name, row, "score", mwhere),
                             "source_max": _number(m.get("maxScore"), name, row, "maxScore", mwhere),
                             "available": num is not None and den is not None, "note": note,
                             "_fields": tuple(f"{m['code']}.{k}" for k in ("numerator", "denominator", "score",
                                                                            "maxScore"))})
        for mcode, (group, field) in COUNT_FIELDS.items():
            comp = _component(unit, group) or {}
            if field in comp:
                num = _number(comp[field], name, row, field, f"đơn vị {code}, nhóm {group}")
                rows.append({**base, "indicator": mcode, "numerator": num, "denominator": None,
                             "provisional": False, "source_score": None, "source_max": None,
                             "available": num is not None, "note": None,
                             "_fields": (field, field, f"{group}.score", f"{group}.maxScore")})
    if renamed:
        row, before, after = renamed[0]
        sniff.record(sniff.Repair(name, "nfc", "Tên đơn vị dạng tổ hợp (NFD) hoặc có khoảng trắng thừa đã được "
                                               "chuẩn hóa (NFC).", "Unit names normalised (NFC, spaces).",
                                  column="departmentName", rows=tuple(r for r, _, _ in renamed[:sniff.EXAMPLES]),
                                  n=len(renamed), before=before.encode("unicode_escape").decode("ascii")[:60],
                                  after=after))
    fields = {"numerator": "_num_field", "denominator": "_den_field", "source_score": "_score_field",
              "source_max": "_max_field"}
    for r in rows:      # the JSON fields each value came from, for the messages
        r.update(zip(fields.values(), r.pop("_fields"), strict=True))
    frame = pl.DataFrame(rows, schema={**COUNTS_SCHEMA, "source_row": pl.Int64,
                                       **dict.fromkeys(fields.values(), pl.String)})
    check_value_rules(frame, name, row="source_row", field=fields,
                      place=lambda r, col: f" ({r['unit_code']}, đơn vị thứ {r['source_row']} trong 'unitsDetail', "
                                           f"trường {r[fields[col]]})")
    return normalize_counts(frame.drop(fields.values())).with_columns(frame["source_row"])


def _unit_key(unit: dict[str, Any]) -> tuple[str, str]:
    """A unit's code (``departmentCode``, else ``departmentId``) and name as the counts table holds them."""
    code = unit.get("departmentCode") or unit.get("departmentId")
    return str(code).strip(), unicodedata.normalize("NFC", unit.get("departmentName") or "").strip()


def read_units(path_or_data: str | Path | dict[str, Any]) -> pl.DataFrame:
    """Unit-level figures the portal prints: total, ranks and group scores (units keyed as in ``read_portal``)."""
    data, _ = _load(path_or_data)
    period = period_of(data.get("metadata") or {})
    rows = [
        {"period": period, **dict(zip(("unit_code", "unit_name"), _unit_key(u), strict=True)),
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


REPRODUCTION_TOLERANCE = 0.01   # points: the portal prints them with two decimals


def reproduction_report(source: str | Path | dict[str, Any] | pl.DataFrame, meth: _methodology.Methodology | None = None,
                        tolerance: float = REPRODUCTION_TOLERANCE, total_tolerance: float = 0.03,
                        points: pl.DataFrame | None = None) -> pl.DataFrame:
    """How far the recomputed points are from the portal's own scores, per metric.

    Columns: ``metric, group, n_units, n_recomputed, n_matched, max_abs_diff, reason``
    (n_matched: recomputed and within ``tolerance`` of the portal's score). A last
    row ``TOTAL`` compares unit totals with the portal's ``totalScore`` within
    ``total_tolerance`` (needs the JSON, not just counts). ``points``: the source's
    indicator points under ``meth`` when the caller has them already.
    """
    meth = meth or _methodology.load("qd766-2022")
    pts = points if points is not None else indicator_points(
        source if isinstance(source, pl.DataFrame) else read_portal(source), meth)
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
