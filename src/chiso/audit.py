"""Audit of a published table: every printed figure checked against its own row.

A finding names the unit, the field, the published value and the recomputed
value. Tolerances follow the printed precision: a figure printed with d decimals
may differ from the exact value by half a unit of its last digit, and a sum of
printed figures by the sum of those half units. Figures printed without decimals
are taken at the table's printed precision (``printed_decimals`` in the metadata).
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import polars as pl

from .methodology import Methodology
from .numbers import fmt_num
from .published import PublishedTable, points_long
from .scoring import unit_scores

FINDING_SCHEMA = {
    "table": pl.String, "row": pl.Int64, "unit_group": pl.String, "unit": pl.String,
    "field": pl.String, "check": pl.String, "severity": pl.String,
    "published": pl.String, "recomputed": pl.String, "tolerance": pl.Float64, "message": pl.String,
}

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def _half_unit(decimals: pl.Expr, table_decimals: int) -> pl.Expr:
    d = pl.when(decimals > 0).then(decimals).otherwise(pl.lit(table_decimals))
    return 0.5 * (pl.lit(10.0) ** (-d.cast(pl.Float64)))


def normalise_name(name: str) -> str:
    """Comparable form of a unit name: NFC, lower case, without "UBND", "xã", "phòng"."""
    text = unicodedata.normalize("NFC", name).casefold().strip()
    for prefix in ("ubnd ", "ủy ban nhân dân ", "uỷ ban nhân dân "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    for prefix in ("xã ", "phường ", "thị trấn ", "phòng "):
        if text.startswith(prefix) and len(text) > len(prefix) + 2:
            text = text[len(prefix):]
    return " ".join(text.split())


def audit_table(table: PublishedTable, meth: Methodology) -> pl.DataFrame:
    """All discrepancies of a published table, most severe first."""
    tdec = int(table.meta.get("printed_decimals", meth.rounding.get("indicator", 2)))
    pts = points_long(table, meth)
    units = unit_scores(pts, meth)
    findings: list[pl.DataFrame] = []
    tid = table.id

    def emit(df: pl.DataFrame) -> None:
        if df.height:
            findings.append(df.select(list(FINDING_SCHEMA)).cast(FINDING_SCHEMA))

    base = [pl.lit(tid).alias("table")]

    # 1. indicator values above their max, or negative
    emit(pts.filter(pl.col("applicable") & (pl.col("points") > pl.col("max"))).select(
        *base, "row", "unit_group", "unit", pl.col("indicator").alias("field"),
        pl.lit("indicator_above_max").alias("check"), pl.lit("error").alias("severity"),
        pl.col("printed").alias("published"),
        pl.col("max").map_elements(lambda v: f"≤ {fmt_num(v, 0)}", return_dtype=pl.String).alias("recomputed"),
        pl.lit(0.0).alias("tolerance"),
        pl.format("Điểm {} vượt điểm tối đa {} của chỉ số \"{}\".", pl.col("printed"),
                  pl.col("max").cast(pl.Int64),
                  pl.col("indicator").replace_strict({i.code: i.name for i in meth.indicators}, return_dtype=pl.String)
                  ).alias("message"),
    ))
    emit(pts.filter(pl.col("points") < 0).select(
        *base, "row", "unit_group", "unit", pl.col("indicator").alias("field"),
        pl.lit("negative_value").alias("check"), pl.lit("error").alias("severity"),
        pl.col("printed").alias("published"), pl.lit("≥ 0").alias("recomputed"), pl.lit(0.0).alias("tolerance"),
        pl.lit("Điểm âm.").alias("message"),
    ))
    # unparseable cells
    for code in [*meth.indicator_codes, "published_total", "published_max", "published_converted"]:
        emit(table.wide.filter(~pl.col(f"{code}__ok")).select(
            *base, "row", "unit_group", "unit", pl.lit(code).alias("field"),
            pl.lit("unparseable_cell").alias("check"), pl.lit("error").alias("severity"),
            pl.col(f"{code}__raw").alias("published"), pl.lit("số hoặc -").alias("recomputed"),
            pl.lit(0.0).alias("tolerance"),
            pl.lit("Ô không phải là số hay dấu \"-\".").alias("message"),
        ))

    # 2. mixed decimal separators: a "." where the table writes ","
    seps = pts.filter(pl.col("sep").is_not_null())
    if seps.height:
        dominant = seps.group_by("sep").len().sort("len", descending=True)["sep"][0]
        emit(seps.filter(pl.col("sep") != dominant).select(
            *base, "row", "unit_group", "unit", pl.col("indicator").alias("field"),
            pl.lit("mixed_decimal_separator").alias("check"), pl.lit("warning").alias("severity"),
            pl.col("printed").alias("published"),
            pl.col("points").map_elements(lambda v: fmt_num(v, 2, strip=True), return_dtype=pl.String).alias("recomputed"),
            pl.lit(0.0).alias("tolerance"),
            pl.format("Dấu thập phân \"{}\" khác với phần còn lại của bảng (\"{}\"); đã đọc là {}.",
                      pl.col("sep"), pl.lit(dominant),
                      pl.col("points").map_elements(lambda v: fmt_num(v, 2, strip=True), return_dtype=pl.String)
                      ).alias("message"),
        ))

    # 3. printed total vs the sum of the printed indicators
    tol_rows = pts.filter(pl.col("applicable")).group_by("row").agg(
        _half_unit(pl.col("decimals"), tdec).sum().alias("tol_ind"))
    rows = (
        table.wide.select("row", "unit_group", "unit", "published_total", "published_total__raw",
                          "published_total__decimals", "published_max", "published_converted",
                          "published_converted__raw", "published_converted__decimals", "published_tier")
        .join(units.select("unit_group", "unit", "total", "applicable_max", "converted", "tier"),
              on=["unit_group", "unit"], how="left")
        .join(tol_rows, on="row", how="left")
        .with_columns(
            (pl.col("tol_ind").fill_null(0) + _half_unit(pl.col("published_total__decimals"), tdec) + 1e-9).alias("tol_total"),
            (_half_unit(pl.col("published_converted__decimals"), tdec)
             + _half_unit(pl.col("published_total__decimals"), tdec) / pl.col("applicable_max") * meth.scale
             + 1e-9).alias("tol_conv"),
        )
        .with_columns(
            (pl.col("published_total") / pl.col("applicable_max") * meth.scale).alias("conv_of_printed_total"),
            ((pl.col("published_converted") - pl.col("converted")).abs() <= pl.col("tol_conv")).alias("conv_matches_sum"),
        )
    )
    total_bad = rows.filter((pl.col("published_total") - pl.col("total")).abs() > pl.col("tol_total"))
    emit(total_bad.select(
        *base, "row", "unit_group", "unit", pl.lit("published_total").alias("field"),
        pl.lit("total_not_sum").alias("check"), pl.lit("error").alias("severity"),
        pl.col("published_total__raw").alias("published"),
        pl.col("total").map_elements(lambda v: fmt_num(v, 2), return_dtype=pl.String).alias("recomputed"),
        pl.col("tol_total").alias("tolerance"),
        pl.when(pl.col("conv_matches_sum")).then(pl.format(
            "Tổng điểm in {} khác tổng các chỉ số của dòng ({}); điểm quy đổi in khớp với tổng đúng, nên tổng in là lỗi đánh máy.",
            pl.col("published_total__raw"), pl.col("total").map_elements(lambda v: fmt_num(v, 2), return_dtype=pl.String)))
        .otherwise(pl.format("Tổng điểm in {} khác tổng các chỉ số của dòng ({}).",
            pl.col("published_total__raw"), pl.col("total").map_elements(lambda v: fmt_num(v, 2), return_dtype=pl.String)))
        .alias("message"),
    ))
    # 4. printed max vs the applicable max
    emit(rows.filter(pl.col("published_max").is_not_null() & ((pl.col("published_max") - pl.col("applicable_max")).abs() > 1e-9)).select(
        *base, "row", "unit_group", "unit", pl.lit("published_max").alias("field"),
        pl.lit("max_mismatch").alias("check"), pl.lit("error").alias("severity"),
        pl.col("published_max").map_elements(lambda v: fmt_num(v, 0), return_dtype=pl.String).alias("published"),
        pl.col("applicable_max").map_elements(lambda v: fmt_num(v, 0), return_dtype=pl.String).alias("recomputed"),
        pl.lit(0.0).alias("tolerance"),
        pl.lit("Điểm tối đa in khác tổng điểm tối đa của các chỉ số áp dụng.").alias("message"),
    ))
    # 5. converted score vs total / max
    emit(rows.filter(~pl.col("conv_matches_sum")).select(
        *base, "row", "unit_group", "unit", pl.lit("published_converted").alias("field"),
        pl.lit("converted_mismatch").alias("check"), pl.lit("error").alias("severity"),
        pl.col("published_converted__raw").alias("published"),
        pl.col("converted").map_elements(lambda v: fmt_num(v, 2), return_dtype=pl.String).alias("recomputed"),
        pl.col("tol_conv").alias("tolerance"),
        pl.format("Điểm quy đổi in {} khác tổng đạt được / tối đa áp dụng × 100 ({}).",
                  pl.col("published_converted__raw"),
                  pl.col("converted").map_elements(lambda v: fmt_num(v, 2), return_dtype=pl.String)).alias("message"),
    ))
    # 6. tiers: printed tier vs thresholds applied to the printed converted score, and vs recomputation
    canon = rows.with_columns(
        pl.col("published_tier").map_elements(meth.canonical_tier, return_dtype=pl.String).alias("tier_canon"),
        meth.tier_expr(pl.col("published_converted")).alias("tier_of_printed"),
    )
    emit(canon.filter(pl.col("tier_canon").is_null()).select(
        *base, "row", "unit_group", "unit", pl.lit("published_tier").alias("field"),
        pl.lit("unknown_tier").alias("check"), pl.lit("error").alias("severity"),
        pl.col("published_tier").alias("published"), pl.col("tier").alias("recomputed"), pl.lit(0.0).alias("tolerance"),
        pl.lit("Xếp loại không có trong quyết định.").alias("message"),
    ))
    emit(canon.filter(pl.col("tier_canon").is_not_null() & (pl.col("tier_canon") != pl.col("published_tier"))).select(
        *base, "row", "unit_group", "unit", pl.lit("published_tier").alias("field"),
        pl.lit("tier_abbreviation").alias("check"), pl.lit("info").alias("severity"),
        pl.col("published_tier").alias("published"), pl.col("tier_canon").alias("recomputed"), pl.lit(0.0).alias("tolerance"),
        pl.format("Xếp loại viết tắt \"{}\", đọc là \"{}\".", pl.col("published_tier"), pl.col("tier_canon")).alias("message"),
    ))
    emit(canon.filter(pl.col("tier_canon").is_not_null() & (pl.col("tier_canon") != pl.col("tier_of_printed"))).select(
        *base, "row", "unit_group", "unit", pl.lit("published_tier").alias("field"),
        pl.lit("tier_vs_printed_score").alias("check"), pl.lit("error").alias("severity"),
        pl.col("tier_canon").alias("published"), pl.col("tier_of_printed").alias("recomputed"), pl.lit(0.0).alias("tolerance"),
        pl.lit("Xếp loại in không đúng ngưỡng của quyết định đối với điểm quy đổi in.").alias("message"),
    ))
    emit(canon.filter(pl.col("tier_canon").is_not_null() & (pl.col("tier_canon") != pl.col("tier"))).select(
        *base, "row", "unit_group", "unit", pl.lit("published_tier").alias("field"),
        pl.lit("tier_vs_recomputed").alias("check"), pl.lit("error").alias("severity"),
        pl.col("tier_canon").alias("published"), pl.col("tier").alias("recomputed"), pl.lit(0.0).alias("tolerance"),
        pl.lit("Xếp loại in khác xếp loại tính lại từ các chỉ số.").alias("message"),
    ))
    # 7. units with 0 on every applicable dossier-based indicator (likely no dossier in the period)
    zero = (pts.filter(pl.col("applicable") & pl.col("dossier_based") & (pl.col("zero_denominator") != "full"))
            .group_by("row", "unit_group", "unit").agg((pl.col("points") == 0).all().alias("all_zero"), pl.len().alias("n"))
            .filter(pl.col("all_zero") & (pl.col("n") > 1)))
    emit(zero.select(
        *base, "row", "unit_group", "unit", pl.lit("*").alias("field"),
        pl.lit("zero_on_dossier_indicators").alias("check"), pl.lit("warning").alias("severity"),
        pl.lit("0").alias("published"), pl.lit("-").alias("recomputed"), pl.lit(0.0).alias("tolerance"),
        pl.lit("Đơn vị được 0 điểm ở mọi chỉ số tính từ hồ sơ: có thể trong kỳ không phát sinh hồ sơ; "
               "theo quy tắc mặc định, đơn vị này không được chấm điểm thay vì xếp loại Yếu.").alias("message"),
    ))
    # 8. duplicated units
    dup = table.wide.filter(pl.col("unit").is_duplicated())
    emit(dup.select(
        *base, "row", "unit_group", "unit", pl.lit("unit").alias("field"),
        pl.lit("duplicate_unit").alias("check"), pl.lit("error").alias("severity"),
        pl.col("unit").alias("published"), pl.lit("duy nhất").alias("recomputed"), pl.lit(0.0).alias("tolerance"),
        pl.lit("Đơn vị xuất hiện nhiều lần trong bảng.").alias("message"),
    ))
    # 9. what the text claims vs the table
    emit(_audit_text_claims(table, meth, units))

    if not findings:
        return pl.DataFrame(schema=FINDING_SCHEMA)
    out = pl.concat(findings)
    return out.with_columns(pl.col("severity").replace_strict(SEVERITY_ORDER, return_dtype=pl.Int8).alias("_s")) \
        .sort("_s", "row", "field", nulls_last=True).drop("_s")


def _audit_text_claims(table: PublishedTable, meth: Methodology, units: pl.DataFrame) -> pl.DataFrame:
    rows: list[dict] = []
    aliases = {normalise_name(k): normalise_name(v) for k, v in (table.meta.get("name_aliases") or {}).items()}

    def key(name: str) -> str:
        n = normalise_name(name)
        return aliases.get(n, n)

    for claim in table.meta.get("text_claims") or []:
        group = claim["unit_group"]
        g_units = units.filter(pl.col("unit_group") == group)
        if claim.get("units_scored") is not None and claim["units_scored"] != g_units.height:
            rows.append(dict(unit_group=group, unit=None, field="units_scored", check="text_count_mismatch",
                             published=str(claim["units_scored"]), recomputed=str(g_units.height),
                             message=f"Văn bản nêu {claim['units_scored']} đơn vị được chấm điểm, bảng có {g_units.height}."))
        for tier, spec in (claim.get("tiers") or {}).items():
            tier_name = meth.canonical_tier(tier) or tier
            actual = g_units.filter(pl.col("tier") == tier_name)
            if spec.get("count") is not None and spec["count"] != actual.height:
                rows.append(dict(unit_group=group, unit=None, field=f"tier:{tier_name}", check="text_count_mismatch",
                                 published=str(spec["count"]), recomputed=str(actual.height),
                                 message=f"Văn bản nêu {spec['count']:02d} đơn vị xếp loại {tier_name}, bảng tính lại có {actual.height:02d}."))
            if spec.get("units"):
                said = {key(u) for u in spec["units"]}
                got = {key(u) for u in actual["unit"].to_list()}
                for missing in sorted(said - got):
                    rows.append(dict(unit_group=group, unit=missing, field=f"tier:{tier_name}", check="text_unit_mismatch",
                                     published=tier_name, recomputed="khác", message=f"Văn bản xếp \"{missing}\" loại {tier_name}, bảng thì không."))
                for extra in sorted(got - said):
                    rows.append(dict(unit_group=group, unit=extra, field=f"tier:{tier_name}", check="text_unit_mismatch",
                                     published="không nêu", recomputed=tier_name, message=f"Bảng xếp \"{extra}\" loại {tier_name}, văn bản không nêu."))
    if not rows:
        return pl.DataFrame(schema=FINDING_SCHEMA)
    return pl.DataFrame(rows).with_columns(
        pl.lit(table.id).alias("table"), pl.lit(None, dtype=pl.Int64).alias("row"),
        pl.lit("error").alias("severity"), pl.lit(0.0).alias("tolerance"))


def write_findings(findings: pl.DataFrame, csv_path: str | Path, json_path: str | Path) -> None:
    from .io import atomic_write_text
    atomic_write_text(csv_path, findings.write_csv())
    atomic_write_text(json_path, json.dumps(findings.to_dicts(), ensure_ascii=False, indent=1, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------
# Findings in Vietnamese (the monthly report's table and ``chiso audit``)
# ---------------------------------------------------------------------------
CHECK_VI = {
    "indicator_above_max": "Điểm vượt điểm tối đa",
    "negative_value": "Điểm âm",
    "unparseable_cell": "Ô không đọc được",
    "mixed_decimal_separator": "Dấu thập phân lẫn lộn",
    "total_not_sum": "Tổng điểm không bằng tổng các chỉ số",
    "max_mismatch": "Điểm tối đa sai",
    "converted_mismatch": "Điểm quy đổi sai",
    "unknown_tier": "Xếp loại không hợp lệ",
    "tier_abbreviation": "Xếp loại viết tắt",
    "tier_vs_printed_score": "Xếp loại sai ngưỡng",
    "tier_vs_recomputed": "Xếp loại khác kết quả tính lại",
    "zero_on_dossier_indicators": "0 điểm mọi chỉ số hồ sơ",
    "duplicate_unit": "Đơn vị trùng",
    "text_count_mismatch": "Văn bản đếm sai số đơn vị",
    "text_unit_mismatch": "Văn bản nêu tên khác bảng",
}
SEVERITY_VI = {"error": "Lỗi", "warning": "Cảnh báo", "info": "Thông tin"}

FIELD_VI = {"published_total": "Tổng điểm đạt được", "published_max": "Điểm tối đa", "published_converted": "Tổng điểm quy đổi",
            "published_tier": "Xếp loại", "unit": "Tên đơn vị", "units_scored": "Số đơn vị được chấm", "*": "Các chỉ số tính từ hồ sơ"}


def field_label(field: str | None, meth: Methodology) -> str:
    """Vietnamese label of an audited field: "Số hóa hồ sơ – Chỉ số 2", "Tổng điểm đạt được"."""
    if field is None:
        return "-"
    if field in FIELD_VI:
        return FIELD_VI[field]
    if field.startswith("tier:"):
        return f"Số đơn vị loại {field[5:]}"
    try:
        ind = meth.indicator(field)
    except KeyError:
        return field
    return f"{meth.group_name(ind.group)} – {ind.label}" if ind.label.startswith("Chỉ số") else ind.label


FINDING_COLUMNS = ("Đơn vị", "Trường", "Vấn đề", "Mức độ", "Số in", "Số tính lại", "Giải thích")


def finding_rows(findings: pl.DataFrame, meth: Methodology) -> list[list[str]]:
    """One row of text per finding, under ``FINDING_COLUMNS``."""
    return [[r["unit"] or "(nhóm)", field_label(r["field"], meth), CHECK_VI.get(r["check"], r["check"]),
             SEVERITY_VI.get(r["severity"], r["severity"]), r["published"] or "-", r["recomputed"] or "-", r["message"]]
            for r in findings.iter_rows(named=True)]
