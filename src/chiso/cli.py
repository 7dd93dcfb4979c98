"""Command line: ``chiso audit``, ``chiso validate``, ``chiso score``, ``chiso render``.

Help texts and messages are in Vietnamese: the users are provincial analysts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

from .cliparse import ArgumentParser, print_rows
from .numbers import fmt_num, fmt_units


UNIT_COLUMNS = ("Hạng", "Đơn vị", "Nhóm đơn vị", "Điểm", "Điểm tối đa", "Điểm quy đổi", "Xếp loại")


def unit_rows(units: pl.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The scored units as ``chiso score`` prints them: headings and rows of text, with
    the period first when there are several and the reason when a unit is not ranked."""
    several = units["period"].n_unique() > 1 if "period" in units.columns else False
    reason = "reason" in units.columns and units["reason"].null_count() < units.height
    columns = ["Kỳ"] * several + list(UNIT_COLUMNS) + ["Ghi chú"] * reason
    rows = [[r["period"]] * several
            + ["-" if r["rank"] is None else str(r["rank"]), r["unit"], r["unit_group"], fmt_num(r["total_rounded"]),
               fmt_num(r["applicable_max"], strip=True), fmt_num(r["converted_rounded"]), r["tier"] or "-"]
            + [r["reason"] or ""] * reason
            for r in units.iter_rows(named=True)]
    return columns, rows


def cmd_audit(args: argparse.Namespace) -> int:
    from . import audit, published
    from .params import load_methodology, load_params

    path = Path(args.file)
    meta = published.read_meta(path)
    meth = load_methodology(args.methodology or meta.get("methodology") or "qd459-2023", load_params(args.params))
    table = published.read_published(path, meth)
    findings = audit.audit_table(table, meth)
    out = Path(args.out) if args.out else path.parent
    csv_path, json_path = out / f"{path.stem}.audit.csv", out / f"{path.stem}.audit.json"
    audit.write_findings(findings, csv_path, json_path)
    errors = findings.filter(pl.col("severity") == "error").height
    print(f"Kiểm tra bảng {path.name}: {table.wide.height} dòng, {errors} lỗi, "
          f"{findings.filter(pl.col('severity') == 'warning').height} cảnh báo, "
          f"{findings.filter(pl.col('severity') == 'info').height} thông tin.")
    if findings.height:
        print_rows(["Dòng", *audit.FINDING_COLUMNS],
                   [["-" if row is None else str(row), *cells]
                    for row, cells in zip(findings["row"], audit.finding_rows(findings, meth), strict=True)])
    print(f"Đã ghi: {csv_path} và {json_path}")
    return 1 if (errors and args.strict) else 0


def cmd_validate(args: argparse.Namespace) -> int:
    from . import published, validation
    from .params import load_methodology, load_params

    path = Path(args.file)
    meta = published.read_meta(path)
    meth = load_methodology(args.methodology or meta.get("methodology") or "qd459-2023", load_params(args.params))
    outcome = validation.validate_published(published.read_published(path, meth), meth)
    failed = outcome.results.filter(~pl.col("success"))
    print(f"Kiểm tra {path.name} bằng bộ {outcome.suite}: {'ĐẠT' if outcome.success else 'KHÔNG ĐẠT'} "
          f"({outcome.results.height} quy tắc, {failed.height} không đạt).")
    if failed.height:
        from .reports.validation import RULE_COLUMNS, rule_rows

        print_rows(RULE_COLUMNS, rule_rows(failed))
    return 0 if outcome.success else 2


def cmd_score(args: argparse.Namespace) -> int:
    from .params import load_params

    path = Path(args.file)
    if path.suffix.lower() == ".csv" and path.with_name(path.stem + ".meta.yaml").exists():
        from . import published, scoring
        from .params import load_methodology

        meth = load_methodology(args.methodology, load_params(args.params))
        points = published.points_long(published.read_published(path, meth), meth)
        result = points.select("unit_group", "unit", "indicator", "printed", "points", "max", "applicable")
        units = scoring.unit_scores(points, meth)
    else:
        from . import counts
        from .params import load_methodology, methodology_overrides

        params = load_params(args.params)
        result = counts.score_file(path, args.methodology, overrides=methodology_overrides(params, args.methodology))
        units = counts.unit_table(result, load_methodology(args.methodology, params))
    if args.out:
        from .io import atomic_write_text, write_parquet

        out = Path(args.out)
        if out.suffix == ".parquet":
            write_parquet(result, out)
        else:
            atomic_write_text(out, result.write_csv())
        print(f"Đã ghi điểm từng chỉ số: {out}")
    if args.units_out:
        from .io import atomic_write_text

        atomic_write_text(args.units_out, units.write_csv())
        print(f"Đã ghi điểm từng đơn vị: {args.units_out}")
    columns, rows = unit_rows(units)
    print(f"{fmt_units(len(rows))} đơn vị được chấm theo {args.methodology}:")
    print_rows(columns, rows, limit=args.limit)
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from .render import render_documents, render_notebook

    if args.others_dir:
        written = render_documents(args.notebook, args.html, args.pdf, args.others_dir, engine=args.engine)
        print(f"Đã kết xuất {len(written) // 2} báo cáo: {args.html} và {len(written) // 2 - 1} báo cáo trong {args.others_dir}")
        return 0
    engine = render_notebook(args.notebook, args.html, args.pdf, engine=args.engine)
    print(f"Đã kết xuất báo cáo ({engine}): {args.html}" + (f", {args.pdf}" if args.pdf else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="chiso", description="Chấm điểm, kiểm tra và lập báo cáo chất lượng phục vụ người dân, doanh nghiệp.")
    p.add_argument("--params", default="params.yaml", help="tệp tham số (mặc định: params.yaml)")
    sub = p.add_subparsers(dest="command", required=True, metavar="LỆNH")

    a = sub.add_parser("audit", help="kiểm tra số học của một bảng kết quả đã công bố (CSV)")
    a.add_argument("file", help="tệp CSV bảng công bố, có tệp .meta.yaml đi kèm")
    a.add_argument("--methodology", help="mã phương pháp (mặc định: theo tệp .meta.yaml)")
    a.add_argument("--out", help="thư mục ghi kết quả CSV/JSON (mặc định: cạnh tệp đầu vào)")
    a.add_argument("--strict", action="store_true", help="trả mã lỗi 1 nếu có lỗi")
    a.set_defaults(func=cmd_audit)

    v = sub.add_parser("validate", help="kiểm tra dữ liệu đầu vào bằng bộ Great Expectations")
    v.add_argument("file", help="tệp CSV bảng công bố, có tệp .meta.yaml đi kèm")
    v.add_argument("--methodology", help="mã phương pháp (mặc định: theo tệp .meta.yaml)")
    v.set_defaults(func=cmd_validate)

    s = sub.add_parser("score", help="tính điểm từng chỉ số và từng đơn vị")
    s.add_argument("file", help="bảng số liệu (mẫu CSV/XLSX, JSON của Cổng DVCQG, hoặc bảng công bố CSV)")
    s.add_argument("--methodology", required=True, help="mã phương pháp, ví dụ qd766-2022, qd459-2023")
    s.add_argument("--out", help="ghi điểm từng chỉ số ra CSV hoặc Parquet")
    s.add_argument("--units-out", help="ghi điểm từng đơn vị ra CSV")
    s.add_argument("--limit", type=int, default=40, help="số dòng in ra màn hình")
    s.set_defaults(func=cmd_score)

    r = sub.add_parser("render", help="kết xuất notebook báo cáo đã chạy thành HTML và PDF")
    r.add_argument("notebook", help="notebook đã chạy (.ipynb)")
    r.add_argument("--html", required=True, help="tệp HTML cần ghi")
    r.add_argument("--pdf", help="tệp PDF cần ghi (không nêu: chỉ ghi HTML)")
    r.add_argument("--engine", default="auto", choices=["auto", "builtin", "quarto"],
                   help="cách kết xuất: quarto (cần Quarto trên PATH), builtin (có sẵn trong chiso) hoặc auto: "
                        "Quarto khi có, không thì builtin (mặc định: auto)")
    r.add_argument("--others-dir", help="thư mục cho các báo cáo tiếp theo khi notebook chứa nhiều báo cáo (ví dụ báo cáo từng huyện)")
    r.set_defaults(func=cmd_render)
    from . import whatif

    c = sub.add_parser("compare-runs", help="liệt kê đơn vị đổi xếp loại hoặc đổi hạng giữa hai lần chạy (thư mục, phiên bản git hoặc thử nghiệm DVC)")
    whatif.add_compare_runs_arguments(c)
    c.set_defaults(func=whatif.cmd_compare_runs)
    return p


def main(argv: list[str] | None = None) -> int:
    return build_parser().run_command(argv, lambda args: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
