"""Comparisons built on the counts engine.

* ``national_vs_provincial``: the same counts scored under QĐ 766 (national) and
  QĐ 459 (Điện Biên), side by side with scores, tiers and ranks;
* ``qd1187_comparison`` / ``qd1187_discrepancies``: QĐ 1187 criteria recomputed
  from the counts of a quarterly report and checked against the published
  criterion scores within the printed precision.

Run ``python -m chiso.compare gialai FILE.json`` or ``python -m chiso.compare qd1187
DIR`` to write the tables under ``data/processed/``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from . import methodology as _methodology
from .cliparse import ArgumentParser, print_rows
from .counts import (BASIS_CARRIED, indicator_points, read_counts, read_qd1187, read_qd1187_forms, unit_table)
from .io import atomic_write_text, write_parquet
from .numbers import fmt_count, fmt_num, fmt_signed, round_half_up_expr
from .stages import check_table_id

DEFAULT_OUT = Path("data/processed/portal_gialai")


# ---------------------------------------------------------------------------
# National (QĐ 766) vs provincial (QĐ 459)
# ---------------------------------------------------------------------------
def _ranked(units: pl.DataFrame, prefix: str) -> pl.DataFrame:
    return units.with_columns(
        pl.col("converted_rounded").rank(method="min", descending=True).over("period").cast(pl.Int32).alias("rank_all"),
    ).select(
        "period", "unit_code",
        pl.col("total_rounded").alias(f"{prefix}_total"),
        pl.col("applicable_max").alias(f"{prefix}_max"),
        pl.col("converted_rounded").alias(f"{prefix}_converted"),
        pl.col("tier").alias(f"{prefix}_tier"),
        pl.col("rank").alias(f"{prefix}_rank"),
        pl.col("rank_all").alias(f"{prefix}_rank_all"),
        pl.col("excluded").alias(f"{prefix}_excluded"),
        pl.col("n_carried").alias(f"{prefix}_n_carried"),
    )


def national_vs_provincial(counts: pl.DataFrame, overrides_766: dict[str, Any] | None = None,
                           overrides_459: dict[str, Any] | None = None,
                           portal_units: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per unit: QĐ 766 total, tier and ranks next to the QĐ 459 converted score, tier and ranks.

    Ranks are within the unit's group (``*_rank``) and over all units (``*_rank_all``);
    ``rank_change`` = QĐ 459 rank − QĐ 766 rank within the group (positive: the unit
    ranks lower under QĐ 459). ``portal_units`` (``chiso.portal.read_units``) adds the
    portal's printed total and ranks.
    """
    m766 = _methodology.load("qd766-2022", overrides_766)
    m459 = _methodology.load("qd459-2023", overrides_459)
    return _side_by_side(unit_table(indicator_points(counts, m766), m766),
                         unit_table(indicator_points(counts, m459), m459), portal_units)


def _side_by_side(u766: pl.DataFrame, u459: pl.DataFrame, portal_units: pl.DataFrame | None) -> pl.DataFrame:
    """``national_vs_provincial`` from the two unit tables."""
    names = u766.select("period", "unit_code", "unit", "unit_group")
    out = (
        names.join(_ranked(u766, "qd766"), on=["period", "unit_code"], how="left")
        .join(_ranked(u459, "qd459"), on=["period", "unit_code"], how="left")
        .with_columns((pl.col("qd459_rank") - pl.col("qd766_rank")).alias("rank_change"))
    )
    if portal_units is not None:
        out = out.join(portal_units.select("period", "unit_code", "portal_total", "portal_rank", "portal_group_rank"),
                       on=["period", "unit_code"], how="left")
    return out.sort("period", "unit_group", "qd766_rank", "unit", nulls_last=True)


def write_national_vs_provincial(source: str | Path, out_dir: str | Path = DEFAULT_OUT,
                                 overrides_766: dict[str, Any] | None = None,
                                 overrides_459: dict[str, Any] | None = None) -> dict[str, Path]:
    """Score a portal capture under both decisions and write every table under ``out_dir``."""
    from .portal import read_units, reproduction_report

    out_dir = Path(out_dir)
    counts = read_counts(source)
    m766 = _methodology.load("qd766-2022", overrides_766)
    m459 = _methodology.load("qd459-2023", overrides_459)
    p766 = indicator_points(counts, m766)
    p459 = indicator_points(counts, m459)
    u766, u459 = unit_table(p766, m766), unit_table(p459, m459)
    table = _side_by_side(u766, u459, read_units(source))
    written = {
        "counts": write_parquet(counts, out_dir / "counts.parquet"),
        "points_qd766": write_parquet(p766, out_dir / "points_qd766.parquet"),
        "points_qd459": write_parquet(p459, out_dir / "points_qd459.parquet"),
        "units_qd766": write_parquet(u766, out_dir / "units_qd766.parquet"),
        "units_qd459": write_parquet(u459, out_dir / "units_qd459.parquet"),
        "comparison": write_parquet(table, out_dir / "qd766_vs_qd459.parquet"),
        "reproduction": write_parquet(reproduction_report(source, m766, points=p766), out_dir / "reproduction_qd766.parquet"),
    }
    written["comparison_csv"] = atomic_write_text(out_dir / "qd766_vs_qd459.csv", table.write_csv())
    return written


# ---------------------------------------------------------------------------
# QĐ 1187: recomputed criteria vs published criterion scores
# ---------------------------------------------------------------------------
STATUS_MATCH = "khớp"
STATUS_MISMATCH = "lệch"
STATUS_CARRIED = "giữ theo số công bố"
STATUS_NO_INPUT = "không tính lại được"
STATUS_NO_PUBLISHED = "không có số công bố"


def _printed_decimals(folder: Path) -> int:
    meta = folder / "metadata.yaml"
    if meta.exists():
        return int((yaml.safe_load(meta.read_text(encoding="utf-8")) or {}).get("printed_decimals", 2))
    return 2


def _published_units(folder: Path, codes: list[str]) -> pl.DataFrame:
    units = pl.read_csv(folder / "units.csv", infer_schema=False).with_columns(
        (pl.col("group") + pl.lit("-") + pl.col("stt")).alias("unit_code"))
    return units.unpivot(index=["unit_code"], on=[*codes, "total"], variable_name="indicator",
                         value_name="published_text").with_columns(
        pl.col("published_text").cast(pl.Float64, strict=False).alias("published"))


def _published_forms(folder: Path, codes: list[str]) -> pl.DataFrame:
    forms = pl.read_csv(folder / "forms.csv", infer_schema=False)
    crit = forms.filter(pl.col("line") == "0").select(
        (pl.lit("bieu-mau-03-") + pl.col("form")).alias("unit_code"),
        (pl.lit("tc") + pl.col("criterion")).alias("indicator"),
        pl.col("self_score").alias("published_text"))
    summary = pl.read_csv(folder / "forms_summary.csv", infer_schema=False)
    total = summary.filter((pl.col("source") == "total_row") & (pl.col("measure") == "self_score_total")).select(
        (pl.lit("bieu-mau-03-") + pl.col("form")).alias("unit_code"), pl.lit("total").alias("indicator"),
        pl.col("value").alias("published_text"))
    return pl.concat([crit, total]).filter(pl.col("indicator").is_in([*codes, "total"])).with_columns(
        pl.col("published_text").cast(pl.Float64, strict=False).alias("published"))


def _declared_levels(folder: Path) -> pl.DataFrame:
    """Forms: the weight of the line marked ``x`` for criteria 6–9 (a declared level)."""
    forms = pl.read_csv(folder / "forms.csv", infer_schema=False)
    return forms.filter(pl.col("count").str.strip_chars() == "x").select(
        (pl.lit("bieu-mau-03-") + pl.col("form")).alias("unit_code"),
        (pl.lit("tc") + pl.col("criterion")).alias("indicator"),
        pl.col("max_points").cast(pl.Float64).alias("declared_level"))


def qd1187_comparison(folder: str | Path, overrides: dict[str, Any] | None = None) -> pl.DataFrame:
    """Every criterion (and total) of every unit and of both forms: published vs recomputed.

    Columns: ``level`` (đơn vị | biểu mẫu), ``unit_group, unit_code, unit, indicator,
    published, recomputed, recomputed_rounded, diff, basis, status, reason``. A value
    matches when the recomputed value rounded half up to the printed decimals equals
    the published one.
    """
    folder = Path(folder)
    meth = _methodology.load("qd1187-2019", overrides)
    decimals = _printed_decimals(folder)
    codes = meth.indicator_codes
    parts = []
    for level, counts, published in (
        ("đơn vị", read_qd1187(folder), _published_units(folder, codes)),
        ("biểu mẫu", read_qd1187_forms(folder), _published_forms(folder, codes)),
    ):
        pts = indicator_points(counts, meth)
        units = unit_table(pts, meth)
        crit = pts.select("unit_group", "unit_code", "unit", "indicator", pl.col("points_exact").alias("recomputed"),
                          "basis", "rule", "order")
        ctx = counts.pivot(on="indicator", index="unit_code", values="numerator", aggregate_function="first")
        for col in ("resolved_late", "online_late", "online_submission"):
            if col not in ctx.columns:
                ctx = ctx.with_columns(pl.lit(None, dtype=pl.Float64).alias(col))
        tot = units.select("unit_group", "unit_code", "unit", pl.lit("total").alias("indicator"),
                           pl.when(~pl.col("excluded")).then(pl.col("total")).alias("recomputed"),
                           pl.lit(None, dtype=pl.String).alias("basis"), pl.lit("sum").alias("rule"),
                           pl.lit(99.0).alias("order"))
        parts.append(pl.concat([crit, tot], how="vertical_relaxed")
                     .join(published, on=["unit_code", "indicator"], how="left")
                     .join(ctx.select("unit_code", "resolved_late", pl.col("online_late").alias("_online_late"),
                                      pl.col("online_submission").alias("_online")), on="unit_code", how="left")
                     .with_columns(pl.lit(level).alias("level")))
    df = pl.concat(parts, how="vertical_relaxed").join(_declared_levels(folder), on=["unit_code", "indicator"], how="left")
    rounded = round_half_up_expr(pl.col("recomputed"), decimals)
    matches = (rounded - pl.col("published")).abs() < 0.5 * 10 ** -decimals
    # criteria whose rule has the "no late online dossier" condition (tc9 in the decision's file)
    online_late_rule = [i.code for i in meth.indicators if (i.rule.get("condition") or {}).get("metric") == "online_late"]
    cond_unchecked = pl.col("indicator").is_in(online_late_rule) & pl.col("_online_late").is_null() & (pl.col("_online") > 0)
    declared_off = pl.col("declared_level").is_not_null() & pl.col("published").is_not_null() & (
        pl.col("declared_level") != pl.col("published"))
    status = (
        pl.when(pl.col("basis") == BASIS_CARRIED).then(pl.lit(STATUS_CARRIED))
        .when(pl.col("recomputed").is_null()).then(pl.lit(STATUS_NO_INPUT))
        .when(pl.col("published").is_null()).then(pl.lit(STATUS_NO_PUBLISHED))
        .when(matches & ~declared_off).then(pl.lit(STATUS_MATCH))
        .otherwise(pl.lit(STATUS_MISMATCH))
    )
    # a criterion that does not match: the methodology file's assumption for it says why it may differ
    hints = pl.col("indicator").replace_strict(dict(meth.assumptions()),
                                               default=None, return_dtype=pl.String)
    reason = (
        pl.when(declared_off).then(
            pl.lit("Dấu x ở mức ") + pl.col("declared_level").cast(pl.Int64).cast(pl.String)
            + pl.lit(" điểm nhưng điểm tự chấm là ") + pl.col("published_text") + pl.lit("."))
        .when(pl.col("basis") == BASIS_CARRIED).then(pl.lit("Báo cáo không cho số liệu đầu vào: giữ điểm đã công bố."))
        .when(pl.col("recomputed").is_null() & (pl.col("indicator") == "total")).then(
            pl.lit("Đơn vị không có hồ sơ phát sinh: không chấm điểm."))
        .when((pl.col("indicator") == "total") & (pl.col("_blocked") != "")).then(
            pl.lit("Không kiểm tra được tổng: thiếu số liệu để tính lại ") + pl.col("_blocked") + pl.lit("."))
        .when(pl.col("recomputed").is_null() & pl.col("published").is_null()).then(
            pl.lit("Ô điểm công bố để trống và báo cáo không cho số liệu để tính lại."))
        .when(pl.col("recomputed").is_null()).then(pl.lit("Ghi chú của đơn vị không nêu số liệu cần cho tiêu chí này."))
        .when(pl.col("published").is_null() & pl.col("declared_level").is_not_null()).then(
            pl.lit("Ô điểm tự chấm để trống, dấu x ở mức ") + pl.col("declared_level").cast(pl.Int64).cast(pl.String)
            + pl.lit(" điểm."))
        .when(pl.col("published").is_null()).then(pl.lit("Ô điểm công bố để trống."))
        .when(cond_unchecked & ~matches).then(
            pl.lit("Chưa kiểm tra được điều kiện không có hồ sơ trực tuyến quá hạn: đơn vị có ")
            + pl.col("resolved_late").cast(pl.Int64).cast(pl.String) + pl.lit(" hồ sơ trễ hạn, không rõ có hồ sơ trực tuyến."))
        .when(~matches & (pl.col("indicator") == "total")).then(
            pl.when(pl.col("_issues").is_not_null())
            .then(pl.lit("Tổng công bố khác tổng các tiêu chí tính lại; tiêu chí liên quan: ") + pl.col("_issues")
                  + pl.lit("."))
            .otherwise(pl.lit("Tổng công bố khác tổng các tiêu chí tính lại (cộng từ giá trị chưa làm tròn).")))
        .when(~matches).then(hints)
    )
    # A total cannot be checked when a published criterion has no input to recompute it.
    blocked = (pl.col("indicator") != "total") & pl.col("recomputed").is_null() & pl.col("published").is_not_null()
    df = df.with_columns(
        pl.when(blocked).then(pl.col("indicator")).otherwise(None)
        .str.join(", ").over("level", "unit_code").alias("_blocked"))
    df = df.with_columns(
        pl.when((pl.col("indicator") == "total") & (pl.col("_blocked") != ""))
        .then(pl.lit(STATUS_NO_INPUT)).otherwise(status).alias("status"))
    issue_label = (
        pl.when((pl.col("status") == STATUS_NO_INPUT) & pl.col("published").is_null()).then(pl.lit("ô công bố trống"))
        .otherwise(pl.col("status").replace_strict(
            {STATUS_MISMATCH: "lệch", STATUS_NO_PUBLISHED: "ô công bố trống", STATUS_NO_INPUT: "không tính lại được"},
            default=None, return_dtype=pl.String)))
    issues = (df.filter((pl.col("indicator") != "total") & issue_label.is_not_null())
              .group_by("level", "unit_code")
              .agg((pl.col("indicator") + pl.lit(" (") + issue_label + pl.lit(")")).sort_by("order")
                   .str.join(", ").alias("_issues")))
    df = df.join(issues, on=["level", "unit_code"], how="left")
    return (
        df.with_columns(
            rounded.alias("recomputed_rounded"),
            (pl.col("recomputed") - pl.col("published")).alias("diff"),
            reason.alias("reason"),
        )
        .select("level", "unit_group", "unit_code", "unit", "indicator", "published", "recomputed",
                "recomputed_rounded", "diff", "basis", "status", "reason", "order")
        .sort("level", "unit_group", "unit_code", "order", descending=[True, False, False, False])
        .drop("order")
    )


def mismatches(comparison: pl.DataFrame) -> pl.DataFrame:
    """The rows of a ``qd1187_comparison`` whose published score the counts do not reproduce."""
    return comparison.filter(pl.col("status") == STATUS_MISMATCH)


MISMATCH_COLUMNS = ("Đơn vị", "Tiêu chí", "Công bố", "Tính lại", "Chênh lệch", "Giải thích")


def criterion_label(code: str) -> str:
    """"tc3" → "TC 3", "total" → "Tổng"."""
    return "Tổng" if code == "total" else code.replace("tc", "TC ") if code.startswith("tc") else code


def mismatch_rows(mismatched: pl.DataFrame) -> list[list[str]]:
    """One row of text per mismatch (``mismatches``), under ``MISMATCH_COLUMNS``."""
    return [[r["unit"], criterion_label(r["indicator"]), fmt_num(r["published"]), fmt_num(r["recomputed_rounded"]),
             fmt_signed(r["diff"]), r["reason"] or ""] for r in mismatched.iter_rows(named=True)]


def qd1187_discrepancies(folder: str | Path, overrides: dict[str, Any] | None = None) -> pl.DataFrame:
    """Only the published criterion scores (and totals) that the counts do not reproduce."""
    return mismatches(qd1187_comparison(folder, overrides))


def write_qd1187(comparison: pl.DataFrame, out: str | Path) -> pl.DataFrame:
    """``comparison.parquet`` and ``discrepancies.csv`` (the mismatches) in ``out``; returns the mismatches."""
    out = Path(out)
    write_parquet(comparison, out / "comparison.parquet")
    disc = mismatches(comparison)
    atomic_write_text(out / "discrepancies.csv", disc.write_csv())
    return disc


# ---------------------------------------------------------------------------
# Pipeline stages (dvc.yaml: national_portal, qd1187)
# ---------------------------------------------------------------------------
def national_portal_dir(capture: str, root: str | Path = ".") -> Path:
    """Where the national_portal stage writes the tables of one capture (the id checked
    as a safe file name under data/raw/national-portal/)."""
    capture = check_table_id(capture, "data/raw/national-portal/", "details_GiaLai_10102026")
    return Path(root) / "data" / "processed" / "national-portal" / capture


def qd1187_dir(report_id: str, root: str | Path = ".") -> Path:
    """Where the qd1187 stage writes the comparison of one quarterly report (the id
    checked as a safe folder name under data/raw/qd1187/)."""
    report_id = check_table_id(report_id, "data/raw/qd1187/", "dienbienphu_2022-Q1")
    return Path(root) / "data" / "processed" / "qd1187" / report_id


def national_portal_stage(capture: str, params_file: str | Path = "params.yaml", root: str | Path = ".") -> dict[str, Path]:
    """Score ``data/raw/national-portal/<capture>.json`` under both decisions (with the knobs of params.yaml)."""
    from .params import load_params, methodology_overrides

    out = national_portal_dir(capture, root)      # (checks the id first)
    params = load_params(Path(root) / params_file)
    return write_national_vs_provincial(Path(root) / "data" / "raw" / "national-portal" / f"{capture}.json", out,
                                        methodology_overrides(params, "qd766-2022"),
                                        methodology_overrides(params, "qd459-2023"))


def qd1187_stage(report_id: str, params_file: str | Path = "params.yaml", root: str | Path = ".") -> pl.DataFrame:
    """Recompute ``data/raw/qd1187/<report_id>`` and write it (``write_qd1187``)."""
    from .params import load_params, methodology_overrides

    out = qd1187_dir(report_id, root)             # (checks the id first)
    overrides = methodology_overrides(load_params(Path(root) / params_file), "qd1187-2019")
    comparison = qd1187_comparison(Path(root) / "data" / "raw" / "qd1187" / report_id, overrides)
    write_qd1187(comparison, out)
    return comparison


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(prog="python -m chiso.compare",
                       description="So sánh điểm tính lại từ số liệu với điểm đã công bố.")
    sub = p.add_subparsers(dest="what", required=True, metavar="LOẠI")
    g = sub.add_parser("gialai", help="chấm số liệu Cổng DVCQG theo QĐ 766 và QĐ 459, so sánh điểm và thứ hạng")
    g.add_argument("file", help="tệp JSON của Cổng DVCQG")
    g.add_argument("--out", default=str(DEFAULT_OUT), help=f"thư mục ghi kết quả (mặc định: {DEFAULT_OUT})")
    q = sub.add_parser("qd1187", help="tính lại các tiêu chí QĐ 1187 và liệt kê chỗ lệch với điểm công bố")
    q.add_argument("folder", help="thư mục bản chép báo cáo quý (data/raw/qd1187/<mã>)")
    q.add_argument("--out", help="thư mục ghi kết quả (mặc định: data/processed/qd1187/<mã>)")
    return p.run_command(argv, _command)


def _command(args) -> int:
    if args.what == "gialai":
        written = write_national_vs_provincial(args.file, args.out)
        for name, path in written.items():
            print(f"Đã ghi {name}: {path}")
    else:
        folder = Path(args.folder)
        out = Path(args.out) if args.out else Path("data/processed/qd1187") / folder.name
        table = qd1187_comparison(folder)
        disc = write_qd1187(table, out)
        atomic_write_text(out / "comparison.csv", table.write_csv())
        print(f"{fmt_count(disc.height)} chỗ lệch giữa điểm tính lại và điểm công bố; đã ghi {out / 'comparison.csv'}")
        print_rows(MISMATCH_COLUMNS, mismatch_rows(disc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
