"""The catalogue of bad inputs: one entry per way an export can be broken.

Each case says which input kind it breaks (``kind``: the reader that is run, see
``tests/test_bad_inputs.py``), how to build the bad file (``build``: a function of a
temporary folder returning the path to read), and the expected outcome:

* ``error``: an ``InputError`` in Vietnamese and English naming the file, the rule
  (``rule``) and, where the case gives them, the row and the column;
* ``repair``: the input is read, the repair ``rule`` is recorded (shown in
  validation.json / validation.html), and ``check`` holds on the data read;
* ``warning``: the input is read; validation or the audit flags ``rule`` (a
  published table's own error is audited and reported, not hidden);
* ``accepted``: read as is (``check`` holds).

``xfail``: a case the code does not handle yet; the reason is stated and the test is
``xfail(strict=True)``, so that it turns red once the code is fixed (no case uses it today).
"""

from __future__ import annotations

import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from . import builders as b
from .builders import DOSSIERS, HEADER_VI, TEMPLATE, period_root, portal, published, replace_row, set_in, write

ANY = object()  # the field is not checked


@dataclass(frozen=True)
class Case:
    id: str
    kind: str                 # template | xlsx | published | portal | period | names | dossiers | annual
    what: str                 # the bad input, in words
    build: Callable[[Any], Any]
    expect: str               # error | repair | warning | accepted
    rule: str | tuple[str, ...] | None = None
    row: Any = ANY            # expected row (int, tuple of acceptable ints, None = must be absent, ANY)
    column: Any = ANY
    check: Callable[[Any], None] | None = None
    xfail: str | None = None


def require(condition: bool, message: object = "") -> None:
    if not condition:
        raise AssertionError(message)


def _names(df: pl.DataFrame) -> set[str]:
    return set(df["unit_name"].unique().to_list())


def names_are(expected: set[str]) -> Callable[[pl.DataFrame], None]:
    def check(df: pl.DataFrame) -> None:
        assert _names(df) == expected, _names(df)
    return check


def value_is(indicator: str, column: str, value: float, unit: str | None = None) -> Callable[[pl.DataFrame], None]:
    def check(df: pl.DataFrame) -> None:
        hit = df.filter(pl.col("indicator") == indicator)
        if unit:
            hit = hit.filter(pl.col("unit_code") == unit)
        assert hit.height >= 1 and abs(hit[column][0] - value) < 1e-9, hit
    return check


def all_of(*checks: Callable[[Any], None]) -> Callable[[Any], None]:
    def check(x: Any) -> None:
        for c in checks:
            c(x)
    return check


GOOD = names_are(b.UNIT_NAMES)


def _read_clean(build: Callable[[Path], Path], read: Callable[[Path], Any]) -> Any:
    """What a reader gives for the clean input of a builder."""
    with tempfile.TemporaryDirectory() as tmp:
        return read(build(Path(tmp)))


def same_as_clean(build: Callable[[Path], Path], read: Callable[[Path], Any],
                  view: Callable[[Any], pl.DataFrame] = lambda x: x,
                  view_result: Callable[[Any], pl.DataFrame] | None = None) -> Callable[[Any], None]:
    """The repaired input reads as the clean input of ``build`` does: ``view`` of what
    ``read`` gives is equal for both (``view_result``: how to take it from the case's
    result, when that holds more than the reader's value)."""
    def check(result: Any) -> None:
        got, want = (view_result or view)(result), view(_read_clean(build, read))
        require(got.equals(want), (got, want))
    return check


def _read_published(path: Path) -> Any:
    from chiso import published as _published
    from chiso.methodology import load

    return _published.read_published(path, load("qd459-2023"))


def _published_values(table: Any) -> pl.DataFrame:
    """The values read from a published table (not where they were in the file)."""
    return table.wide.select(c for c in table.wide.columns if "__" not in c)


def _read_counts(path: Path) -> pl.DataFrame:
    from chiso import counts

    return counts.read_counts(path).drop("source_file", strict=False)


def _read_dossiers(path: Path) -> pl.DataFrame:
    from chiso import dossiers

    return dossiers.read_dossiers(path)


def _read_annual(root: Path) -> Any:
    from chiso import annual

    return annual.load_tables("2024", root)


def same_published(table_id: str = "dienbiendong_2024-06") -> Callable[[Any], None]:
    """The repaired table reads as the clean one, unit by unit, cell by cell."""
    return same_as_clean(published(table_id), _read_published, _published_values, lambda r: _published_values(r[0]))


def same_counts(build: Callable[[Path], Path]) -> Callable[[Any], None]:
    return same_as_clean(build, _read_counts, view_result=lambda df: df.drop("source_file", strict=False))


def same_dossiers(text: str) -> Callable[[Any], None]:
    return same_as_clean(write("d.csv", text), _read_dossiers)


def same_annual(table: str) -> Callable[[Any], None]:
    """The repaired annual table reads as the clean transcription."""
    return same_as_clean(b.annual_root(), _read_annual, lambda t: getattr(t, table))


def published_cell(unit: str, column: str, value: float | None) -> Callable[[Any], None]:
    def check(result: Any) -> None:
        wide = result[0].wide.filter(pl.col("unit") == unit)
        require(wide.height == 1 and wide[column][0] == value, wide.select("unit", column))
    return check


def raw_read_as(raw: str, value: float) -> Callable[[Any], None]:
    """Every cell printed ``raw`` (in any column) is read as ``value``; there is one at least."""
    def check(result: Any) -> None:
        wide = result[0].wide
        hits = [wide.filter(pl.col(f"{c}__raw") == raw)[c].to_list()
                for c in wide.columns if f"{c}__raw" in wide.columns]
        found = [v for h in hits for v in h]
        require(found and all(v == value for v in found), found)
    return check


def period_counts(check_df: Callable[[pl.DataFrame], None]) -> Callable[[Any], None]:
    """A check of the counts a month's stage wrote (data/processed/periods/<month>/counts.parquet)."""
    def check(value: Any) -> None:
        from chiso import periods

        _, root = value
        check_df(pl.read_parquet(periods.processed_dir(b.PERIOD, root) / "counts.parquet"))
    return check


XLSX = b.xlsx_bytes
T = b.template_rows

CASES: list[Case] = [
    # ------------------------------------------------------------------ counts template (CSV)
    Case("tpl-missing-header", "template", "required column 'Chỉ tiêu' missing",
         write("c.csv", "Kỳ,Tên đơn vị,Tử số\n2024-06,Sở Nội vụ,1\n"), "error", "required_columns", 1, "indicator"),
    Case("tpl-wrong-headers", "template", "headers of another export (none known)",
         write("c.csv", "STT,Họ tên,Địa chỉ\n1,A,B\n"), "error", "required_columns", 1, "period"),
    Case("tpl-merged-header", "template", "two header rows from Excel: group labels above, names below",
         write("c.csv", 'Thông tin đơn vị,,,,,Số liệu,,,Điểm,,\n' + TEMPLATE), "repair", "merged_header",
         check=GOOD),
    Case("tpl-merged-header-split", "template", "merged header: 'Số hồ sơ' spans 'Tử số' and 'Mẫu số' on the row below",
         write("c.csv", TEMPLATE.replace(HEADER_VI, HEADER_VI.replace("Tử số,Mẫu số", "Số hồ sơ,") + "\n,,,,,Tử số,Mẫu số,,,,")),
         "repair", "merged_header", check=value_is("on_time", "denominator", 50, "H18.01")),
    Case("tpl-title-rows", "template", "report title rows above the header",
         write("c.csv", "BIỂU MẪU SỐ LIỆU CHẤM ĐIỂM,,,,\nTháng 6/2024,,,,\n" + TEMPLATE), "repair", "title_rows",
         check=GOOD),
    Case("tpl-header-only", "template", "header row and no data", write("c.csv", HEADER_VI + "\n"),
         "error", "empty_file", 1),
    Case("tpl-zero-bytes", "template", "0-byte file", write("c.csv", b""), "error", "empty_file", None),
    Case("tpl-blank-lines", "template", "only blank lines and spaces", write("c.csv", "\n  \n\t\n"), "error",
         "empty_file", None),
    Case("tpl-bom", "template", "UTF-8 with a byte-order mark", write("c.csv", TEMPLATE, "utf-8-sig"), "repair", "bom",
         check=GOOD),
    Case("tpl-utf16", "template", "UTF-16 (Excel 'Unicode text')", write("c.csv", TEMPLATE, "utf-16"), "repair",
         "encoding", check=GOOD),
    Case("tpl-cp1258", "template", "Windows-1258 (Excel CSV on Vietnamese Windows)", write("c.csv", TEMPLATE, "cp1258"),
         "repair", "encoding", check=GOOD),
    Case("tpl-latin1", "template", "Latin-1 file (canonical headers, names Latin-1 can hold)",
         write("c.csv", "period,unit_code,unit_name,indicator,numerator,denominator\n2024-06,X1,Tà Lèng,on_time,1,2\n",
               "latin-1"), "repair", "encoding", check=names_are({"Tà Lèng"})),
    Case("tpl-tcvn3", "template", "TCVN3 (ABC) legacy encoding", write("c.csv", TEMPLATE, "tcvn3"), "repair",
         "legacy_encoding", check=GOOD),
    Case("tpl-vni", "template", "VNI legacy encoding", write("c.csv", TEMPLATE, "vni"), "repair", "legacy_encoding",
         check=GOOD),
    Case("tpl-tcvn3-mojibake", "template", "TCVN3 text once read as Windows-1252 and saved as UTF-8 ('Ph\u00adêng')",
         write("c.csv", b.sniff.encode_legacy(TEMPLATE, "tcvn3").decode("cp1252", errors="replace")),
         "repair", "legacy_encoding", check=GOOD),
    Case("tpl-nfd", "template", "decomposed (NFD) Vietnamese", write("c.csv", unicodedata.normalize("NFD", TEMPLATE)),
         "repair", "nfc", check=GOOD),
    Case("tpl-semicolon", "template", "semicolon-delimited CSV with decimal commas",
         write("c.csv", b.redelimit(TEMPLATE)),
         "repair", "delimiter", check=value_is("group_ckmb", "source_score", 11.79)),
    Case("tpl-trailing-empty", "template", "trailing empty rows and columns from Excel",
         write("c.csv", "\n".join(line + ",," for line in TEMPLATE.splitlines()) + "\n,,,,,,,,,,,,\n,,,,,,,,,,,,\n"),
         "repair", ("empty_rows", "empty_columns"), check=lambda df: require(df.height == 4, df.height)),
    Case("tpl-percent-score", "template", "score printed as percentage text '82,96%'",
         write("c.csv", b.template(replace_row(4, '"11,79",18', '"82,96%",100'))),
         "repair", "percent", check=value_is("group_ckmb", "source_score", 82.96)),
    Case("tpl-percent-count", "template", "a percentage where a count is expected",
         write("c.csv", b.template(replace_row(1, "on_time,45,50", 'on_time,"90%",50'))), "error", "percent_in_count",
         2, "numerator"),
    Case("tpl-thousands-dot", "template", "thousands dots in counts: '1.234'",
         write("c.csv", b.template(replace_row(3, "on_time,120,130", "on_time,1.234,2.000"))), "repair", "thousands",
         check=value_is("on_time", "numerator", 1234, "H18.D01.C01")),
    Case("tpl-ambiguous-comma", "template", "'1,234' in a count column (thousands or decimal?)",
         write("c.csv", b.template(replace_row(3, "on_time,120,130", 'on_time,"1,234",2000'))), "error", "ambiguous",
         4, "numerator"),
    Case("tpl-mixed-decimals", "template", "'8.32' next to '4,81' in one column",
         write("c.csv", b.template(lambda t: t.replace('on_time,45,50,không,,,', 'on_time,45,50,không,8.32,10,')
                                   .replace('on_time,120,130,không,,,', 'on_time,120,130,không,"4,81",10,'))),
         "repair", "mixed_decimal", check=value_is("on_time", "source_score", 8.32, "H18.01")),
    Case("tpl-num-gt-den", "template", "numerator above denominator",
         write("c.csv", b.template(replace_row(2, "29,81", "91,81"))), "error", "numerator_le_denominator", 3,
         "numerator"),
    Case("tpl-negative", "template", "negative count",
         write("c.csv", b.template(replace_row(1, "on_time,45,50", "on_time,-45,50"))), "error", "non_negative", 2,
         "numerator"),
    Case("tpl-score-above-max", "template", "source score above its maximum (21 of 18)",
         write("c.csv", b.template(replace_row(4, '"11,79",18', "21,18"))), "error", "score_le_max", 5,
         "source_score"),
    Case("tpl-duplicate-unit", "template", "the same unit and indicator twice",
         write("c.csv", TEMPLATE + b.ROWS[0] + "\n"), "error", "unique_rows", (2, 6), "indicator"),
    Case("tpl-period-formats", "template", "periods written '6/2024' and 'T6/2024'",
         write("c.csv", TEMPLATE.replace("2024-06,H18.01", "6/2024,H18.01").replace("2024-06,H18.D01", "T6/2024,H18.D01")),
         "repair", "period_format",
         check=lambda df: require(df["period"].unique().to_list() == ["2024-06"], df["period"].unique())),
    Case("tpl-bad-period", "template", "impossible period '13/2024'",
         write("c.csv", TEMPLATE.replace("2024-06,H18.01,Sở Nội vụ,\"Sở, ban, ngành cấp tỉnh\",on_time",
                                         "13/2024,H18.01,Sở Nội vụ,\"Sở, ban, ngành cấp tỉnh\",on_time")),
         "error", "period_format", 2, "period"),
    Case("tpl-huge-cell", "template", "a 20.000-character cell",
         write("c.csv", b.template(replace_row(1, "không,,,", "không,,," + "x" * 20_000))), "error", "cell_too_long", 2,
         "Ghi chú"),
    Case("tpl-unclosed-quote", "template", "file cut inside a quoted cell",
         write("c.csv", TEMPLATE + '2024-06,H18.02,Sở Tư pháp,"Sở, ban'), "error", "csv_format", 6),
    Case("tpl-truncated", "template", "last row cut off (no line break, cells missing)",
         write("c.csv", TEMPLATE + "2024-06,H18.02,Sở Tư pháp"), "error", "truncated_file", 6, "Nhóm đơn vị"),
    Case("tpl-ragged-row", "template", "a row with more cells than the header",
         write("c.csv", b.template(replace_row(2, "không,,,", "không,,,,lạc cột"))), "error", "ragged_row", 3),
    Case("tpl-excel-error", "template", "an Excel error value '#DIV/0!' in a cell",
         write("c.csv", b.template(replace_row(4, '"11,79"', "#DIV/0!"))), "error", "excel_error", 5, "source_score"),
    Case("tpl-half-filled", "template", "half-filled month: numerators left blank",
         write("c.csv", b.template(lambda t: t.replace("on_time,120,130", "on_time,,130")
                                   .replace("online_submission,29,81", "online_submission,,"))),
         "repair", "no_data",
         check=lambda df: require(df.filter(pl.col("numerator").is_null() & pl.col("source_score").is_null())
                                  .select("unit_code", "indicator", "available").sort("unit_code").rows()
                                  == [("H18.01", "online_submission", False), ("H18.D01.C01", "on_time", False)])),
    Case("tpl-xls", "template", "an Excel 97-2003 .xls (binary) file", write("c.csv", b"\xd0\xcf\x11\xe0" + b"\0" * 60),
         "error", "xls_format", None),
    Case("tpl-binary", "template", "binary content (NUL bytes)", write("c.csv", b"\x00\x01\x02abc\x00" * 10),
         "error", "binary_content", None),
    # ------------------------------------------------------------------ counts template (XLSX)
    Case("xlsx-zero-bytes", "xlsx", "0-byte .xlsx", write("c.xlsx", b""), "error", "empty_file", None),
    Case("xlsx-truncated", "xlsx", "truncated .xlsx (download cut off)",
         lambda tmp: write("c.xlsx", XLSX(T())[:700])(tmp), "error", "xlsx_corrupt", None),
    Case("xlsx-formulas", "xlsx", "formulas without stored values (openpyxl data_only gives None)",
         lambda tmp: write("c.xlsx", XLSX(T()[:2] + [[*T()[2][:5], "=F2-16", *T()[2][6:]]]))(tmp),
         "error", "formula_without_value", 3, "F"),
    Case("xlsx-formulas-cached", "xlsx", "formulas with the values Excel stored",
         lambda tmp: write("c.xlsx", b.with_cached_formula_values(
             XLSX(T()[:2] + [[*T()[2][:5], "=F2-16", *T()[2][6:]]]), {"F3": "29"}))(tmp),
         "repair", "formula_value", check=value_is("online_submission", "numerator", 29)),
    Case("xlsx-percent-format", "xlsx", "score cell 0,8296 formatted as a percentage",
         lambda tmp: write("c.xlsx", XLSX(T()[:4] + [[*T()[4][:8], 0.8296, 100, None]], formats={(5, 9): "0.00%"}))(tmp),
         "repair", "percent", check=value_is("group_ckmb", "source_score", 82.96)),
    Case("xlsx-merged-header", "xlsx", "two header rows with merged group cells",
         lambda tmp: write("c.xlsx", XLSX([["Thông tin đơn vị", None, None, None, None, "Số liệu", None, None, "Điểm",
                                            None, None]] + T(), merged=["A1:E1", "F1:H1", "I1:K1"]))(tmp),
         "repair", "merged_header", check=GOOD),
    Case("xlsx-date-period", "xlsx", "period typed as a date (Excel turned '6/2024' into 01/06/2024)",
         lambda tmp: write("c.xlsx", XLSX([T()[0]] + [[__import__("datetime").datetime(2024, 6, 1), *r[1:]]
                                                       for r in T()[1:]]))(tmp),
         "repair", "period_format",
         check=lambda df: require(df["period"].unique().to_list() == ["2024-06"], df["period"].unique())),
    Case("xlsx-empty-sheet", "xlsx", "workbook with an empty sheet", lambda tmp: write("c.xlsx", XLSX([]))(tmp),
         "error", "empty_file", None),
    # ------------------------------------------------------------------ published tables (CSV + .meta.yaml)
    Case("pub-missing-column", "published", "column hailong_3 renamed",
         published(edit=lambda s: s.replace("hailong_3,", "hailong3,", 1)), "error", "required_columns", 1, "hailong_3"),
    Case("pub-merged-header", "published", "group labels row (merged cells) above the column names",
         published(edit=lambda s: ",,Công khai minh bạch,,,Tiến độ,DVCTT,,Số hóa,,Hài lòng,,,Tổng,,,\n" + s),
         "repair", "merged_header", check=same_published()),
    Case("pub-title-rows", "published", "report title rows above the header",
         published(edit=lambda s: "PHỤ LỤC,,,\nKẾT QUẢ ĐÁNH GIÁ THÁNG 6/2024,,,\n" + s), "repair", "title_rows",
         check=same_published()),
    Case("pub-semicolon-cp1258", "published", "semicolon-delimited Windows-1258 export",
         published(edit=b.redelimit, encoding="cp1258"), "repair", ("delimiter", "encoding"),
         check=lambda r: require(r[0].wide["unit"][0] == "UBND Luân Giới" and r[0].wide["dvctt_1"][1] == 9.3)),
    Case("pub-bom-nfd", "published", "UTF-8 with BOM, decomposed (NFD) names",
         published(edit=lambda s: unicodedata.normalize("NFD", s), encoding="utf-8-sig"), "repair", ("bom", "nfc"),
         check=same_published()),
    Case("pub-tcvn3", "published", "TCVN3 (ABC) legacy encoding", published(encoding="tcvn3"), "repair",
         "legacy_encoding", check=same_published()),
    Case("pub-vni", "published", "VNI legacy encoding", published(encoding="vni"), "repair", "legacy_encoding",
         check=same_published()),
    Case("pub-mixed-decimals", "published", "'8.32' next to '4,81' (as printed in the seed)",
         published("huyen-dienbien_2023-07"), "repair", "mixed_decimal", check=raw_read_as("8.32", 8.32)),
    Case("pub-percent", "published", "converted score printed '94,1%'",
         published(edit=lambda s: s.replace('"94,1",Xuất sắc', '"94,1%",Xuất sắc')), "repair", "percent",
         check=published_cell("UBND Luân Giới", "published_converted", 94.1)),
    Case("pub-long-dash", "published", "'–' (long dash) for not applicable",
         published(edit=lambda s: s.replace("UBND Luân Giới,\"UBND các xã, thị trấn\",-,0,-",
                                            "UBND Luân Giới,\"UBND các xã, thị trấn\",–,0,–")), "repair", "dash",
         check=same_published()),
    Case("pub-trailing-empty", "published", "trailing empty rows and columns",
         published(edit=lambda s: "\n".join(line + ",," for line in s.splitlines()) + "\n,,,,\n,,,,\n"), "repair",
         ("empty_rows", "empty_columns"), check=same_published()),
    Case("pub-duplicate-unit", "published", "a unit listed twice in its group",
         published(edit=lambda s: s + s.splitlines()[1] + "\n"), "error", "expect_compound_columns_to_be_unique",
         (2, 16), ANY),
    Case("pub-negative", "published", "negative indicator points",
         published(edit=lambda s: s.replace('UBND Luân Giới,"UBND các xã, thị trấn",-,0,-',
                                            'UBND Luân Giới,"UBND các xã, thị trấn",-,-5,-')),
         "error", "expect_column_values_to_match_regex", 2, "ckmb_2"),
    Case("pub-text-in-cell", "published", "text in a score cell ('9;3')",
         published(edit=lambda s: s.replace('"9,3","9,3"', '"9,3","9;3"')), "error",
         "expect_column_values_to_match_regex", 3, "dvctt_2"),
    Case("pub-above-max", "published", "indicator above its maximum (11,5 of 10, as in the seed)",
         published("huyen-dienbien_2023-07"), "warning", "indicator_above_max"),
    Case("pub-zero-bytes", "published", "0-byte table", published(raw_bytes=b""), "error", "empty_file", None),
    Case("pub-header-only", "published", "header only, no unit",
         published(edit=lambda s: s.splitlines()[0] + "\n"), "error", "expect_table_row_count_to_be_between"),
    Case("pub-no-meta", "published", "missing .meta.yaml", published(meta=False), "error", "metadata_missing"),
    Case("pub-bad-meta", "published", "broken YAML in .meta.yaml",
         published(meta_edit=lambda m: m.replace("period: \"2024-06\"", "period: [2024-06")), "error", "meta_format"),
    Case("pub-meta-period", "published", "period '6/2024' in .meta.yaml",
         published(meta_edit=lambda m: m.replace('period: "2024-06"', 'period: "6/2024"')), "repair", "period_format",
         check=lambda r: require(r[0].meta["period"] == "2024-06", r[0].meta["period"])),
    Case("pub-unknown-tier", "published", "a tier the decision does not have ('Giỏi')",
         published(edit=lambda s: s.replace('"94,1",Xuất sắc', '"94,1",Giỏi')), "error",
         "expect_column_values_to_be_in_set", 2, "published_tier"),
    # ------------------------------------------------------------------ national portal JSON
    Case("portal-not-schema", "portal", "JSON that is not the portal's capture", write("p.json", '{"data": []}'),
         "error", "portal_format", None, "unitsDetail"),
    Case("portal-list", "portal", "a JSON list at the top", write("p.json", "[1, 2, 3]"), "error", "portal_format"),
    Case("portal-truncated", "portal", "truncated JSON", portal(text_edit=lambda t: t[: len(t) // 2]), "error",
         "json_format", 1),
    Case("portal-group-score-only", "portal", "a group holding only its score (no metrics): accepted",
         portal(set_in(["unitsDetail", 0, "componentIndicators", "CKMB_CongKhaiMinhBach"], {"score": 11.79, "maxScore": 18})),
         "accepted", check=lambda df: _group_only(df)),
    Case("portal-duplicate-unit", "portal", "a unit listed twice",
         portal(lambda d: d["unitsDetail"].append(d["unitsDetail"][0])), "error", "duplicate_unit", 4, "departmentCode"),
    Case("portal-negative", "portal", "negative count",
         portal(set_in(["unitsDetail", 1, "componentIndicators", "TDGQ_TienDoGiaiQuyet", "totalOnTime"], -3)),
         "error", "non_negative", 2, "totalOnTime"),
    Case("portal-num-gt-den", "portal", "numerator above denominator",
         portal(set_in(["unitsDetail", 2, "componentIndicators", "CKMB_CongKhaiMinhBach", "metrics", 0, "numerator"], 30)),
         "error", "numerator_le_denominator", 3, "PUBLISH_ON_TIME.numerator"),
    Case("portal-score-above-max", "portal", "a metric's score above its maxScore",
         portal(set_in(["unitsDetail", 1, "componentIndicators", "CKMB_CongKhaiMinhBach", "metrics", 0, "score"], 50)),
         "error", "score_le_max", 2, "PUBLISH_ON_TIME.score"),
    Case("portal-text-number", "portal", "a count given as text '12'",
         portal(set_in(["unitsDetail", 0, "componentIndicators", "CKMB_CongKhaiMinhBach", "metrics", 1, "denominator"], "83")),
         "error", "portal_number", 1, "denominator"),
    Case("portal-no-unit-code", "portal", "a unit without code or name",
         portal(lambda d: d["unitsDetail"][1].update(departmentCode=None, departmentId=None)),
         "error", "portal_unit", 2, "departmentCode"),
    Case("portal-bom", "portal", "JSON with a UTF-8 BOM", portal(encoding="utf-8-sig"), "repair", "bom",
         check=same_counts(portal())),
    Case("portal-utf16", "portal", "JSON saved as UTF-16", portal(encoding="utf-16"), "repair", "encoding",
         check=same_counts(portal())),
    Case("portal-nfd", "portal", "unit names in NFD (escaped in JSON)",
         portal(lambda d: [u.update(departmentName=unicodedata.normalize("NFD", u["departmentName"]))
                           for u in d["unitsDetail"]], ascii_escapes=True), "repair", "nfc",
         check=lambda df: require("UBND phường Mường Thanh" in _names(df), _names(df))),
    Case("portal-zero-bytes", "portal", "0-byte JSON", write("p.json", b""), "error", "empty_file", None),
    # ------------------------------------------------------------------ period folders (data/raw/<YYYY-MM>/)
    Case("period-wrong-period", "period", "template says 2024-07 inside the folder 2024-06",
         period_root({"c": write("bieu_mau.csv", TEMPLATE.replace("2024-06,H18.D01.C01", "2024-07,H18.D01.C01"))}),
         "error", "expect_column_values_to_be_in_set", (4, 5), "period"),
    Case("period-unknown-unit", "period", "unit code not in the registry",
         period_root({"c": write("bieu_mau.csv", TEMPLATE.replace("H18.D01.C01", "H18.X99"))}),
         "error", "expect_column_values_to_be_in_set", (4, 5), "unit_code"),
    Case("period-duplicate-across-files", "period", "the same unit and metric in the JSON and in the template",
         period_root({"p": portal(), "c": write("bieu_mau.csv", HEADER_VI + "\n2024-06,H18.02,Sở Tư pháp,\"Sở, ban, "
                                                "ngành cấp tỉnh\",on_time,1,2,không,,,\n")}),
         "error", "expect_compound_columns_to_be_unique", (1, 2), "indicator"),
    Case("period-num-gt-den-json", "period", "numerator above denominator in the portal JSON",
         period_root({"p": portal(set_in(["unitsDetail", 0, "componentIndicators", "TDGQ_TienDoGiaiQuyet",
                                          "totalOnTime"], 250))}),
         "error", "numerator_le_denominator", 1, "totalOnTime"),
    Case("period-half-filled", "period", "half-filled month: most registry units have no data", period_root(
        {"c": write("bieu_mau.csv", TEMPLATE)}), "warning", "chiso_units_reported"),
    Case("period-missing-indicators", "period", "a unit lacks indicators the others in the file have",
         period_root({"c": write("bieu_mau.csv", TEMPLATE + '2024-06,H18.02,Sở Tư pháp,"Sở, ban, ngành cấp tỉnh",'
                                                "on_time,1,2,không,,,\n")}),
         "warning", "chiso_indicators_complete"),
    Case("period-repairs-reported", "period", "BOM, '6/2024' and '82,96%' in the month's template",
         period_root({"c": write("bieu_mau.csv", TEMPLATE.replace("2024-06,", "6/2024,").replace('"11,79",18', '"82,96%",100'),
                                 "utf-8-sig")}),
         "repair", ("bom", "period_format", "percent"),
         check=period_counts(all_of(GOOD, value_is("group_ckmb", "source_score", 82.96),
                                    lambda df: require(df["period"].unique().to_list() == ["2024-06"])))),
    Case("period-empty-folder", "period", "the month's folder has no data file", period_root({}), "error",
         "period_folder", None),
    Case("period-zero-byte-file", "period", "a 0-byte file among the month's exports",
         period_root({"p": portal(), "c": write("bieu_mau.csv", b"")}), "error", "empty_file", None),
    # ------------------------------------------------------------------ names (params.yaml)
    Case("names-period-traversal", "names", "'../2024-06' as a period in params.yaml",
         lambda tmp: ("period", "../2024-06"), "error", "period_name"),
    Case("names-table-traversal", "names", "'../../etc/passwd' as a table id in params.yaml",
         lambda tmp: ("table", "../../etc/passwd"), "error", "table_id"),
    # ------------------------------------------------------------------ dossier exports (chiso.dossiers: read-only here)
    Case("dos-missing-received-date", "dossiers", "no 'Ngày tiếp nhận' column",
         write("d.csv", DOSSIERS.replace("Ngày tiếp nhận", "Ngày X")), "error", "required_columns", ANY, "Ngày tiếp nhận"),
    Case("dos-bad-date", "dossiers", "impossible date 31/02/2024",
         write("d.csv", DOSSIERS.replace("07/06/2024", "31/02/2024")), "error", "date_format", 2, "Ngày hoàn thành"),
    Case("dos-semicolon", "dossiers", "semicolon-delimited export", write("d.csv", DOSSIERS.replace(",", ";")),
         "accepted", check=lambda df: require(df.height == 2, df.height)),
    Case("dos-bom-nfd", "dossiers", "BOM and NFD names",
         write("d.csv", unicodedata.normalize("NFD", DOSSIERS), "utf-8-sig"), "accepted",
         check=lambda df: require("Sở Nội vụ" in _names(df), _names(df))),
    Case("dos-utf16", "dossiers", "UTF-16 export", write("d.csv", DOSSIERS, "utf-16"), "error", "encoding"),
    Case("dos-zero-bytes", "dossiers", "0-byte export", write("d.csv", b""), "error", "empty_file", None),
    Case("dos-tcvn3", "dossiers", "TCVN3 legacy encoding", write("d.csv", DOSSIERS, "tcvn3"), "repair",
         "legacy_encoding", check=same_dossiers(DOSSIERS)),
    Case("dos-huge-cell", "dossiers", "a 20.000-character cell",
         write("d.csv", DOSSIERS.replace("Sở Nội vụ", "x" * 20_000)), "error", "cell_too_long"),
    Case("dos-xlsx-truncated", "dossiers", "truncated .xlsx export",
         lambda tmp: write("d.xlsx", XLSX([DOSSIERS.splitlines()[0].split(",")])[:700])(tmp), "error", "xlsx_corrupt"),
    Case("dos-units-duplicate", "dossiers", "a unit code twice in the unit list (read_units)",
         write("units.csv", "Mã đơn vị,Tên đơn vị\nH1,A\nH1,B\n"), "error", "unique_units", 3, "Mã đơn vị"),
    # ------------------------------------------------------------------ annual tables (chiso.annual: read-only here)
    Case("ann-above-100", "annual", "a SIPAS percentage above 100",
         b.annual_root(edit=lambda s: s.replace("82.88,80.03", "182.88,80.03", 1)), "error",
         "expect_column_values_to_be_between", ANY, "pct_cur"),
    Case("ann-duplicate", "annual", "a SIPAS criterion listed twice",
         b.annual_root(edit=lambda s: s + s.splitlines()[1] + "\n"), "error", "expect_compound_columns_to_be_unique"),
    Case("ann-percent-text", "annual", "'82,88%' as text in a SIPAS percentage",
         b.annual_root(edit=lambda s: s.replace("82.88,80.03", '"82,88%",80.03', 1)), "repair", "percent",
         check=same_annual("sipas")),
    Case("ann-zero-bytes", "annual", "0-byte sipas_2024.csv", b.annual_root(raw_bytes=b""), "error", "empty_file"),
    Case("ann-missing-column", "annual", "column pct_2024 renamed",
         b.annual_root(edit=lambda s: s.replace("pct_2024", "pct_x", 1)), "error", "required_columns"),
]


def _group_only(df: pl.DataFrame) -> None:
    from chiso import counts, methodology

    meth = methodology.load("qd766-2022")
    pts = counts.indicator_points(df, meth)
    unit = pts.filter(pl.col("unit_code") == "H18.02")
    group = unit.filter(pl.col("indicator") == "group_ckmb").row(0, named=True)
    assert group["points"] == 11.79 and group["basis"] == counts.BASIS_CARRIED, group
    ckmb = unit.filter((pl.col("group") == "CKMB") & (pl.col("indicator") != "group_ckmb"))
    assert ckmb.height and (ckmb["basis"] == counts.BASIS_NOT_AVAILABLE).all(), ckmb


CASES_BY_ID = {c.id: c for c in CASES}
assert len(CASES_BY_ID) == len(CASES), "duplicate case id"
