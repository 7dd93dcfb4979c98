"""Annual SIPAS / PAR INDEX analysis: figures, seed audit, suites and the report notebook.

The notebook runs once (papermill, in a throw-away copy of ``data/raw/annual``) and is
rendered once; the tests then read the executed notebook, its HTML and the tidy tables.
The seed's own figures (82,96 %, 40/63, 88,23 …) appear only here, as expectations.
"""

from __future__ import annotations

import json
import shutil
import unicodedata
from pathlib import Path

import polars as pl
import pytest

from chiso import annual, doc, validation
from chiso.errors import InputError

from .helpers import ROOT

RAW = ROOT / "data" / "raw" / "annual"
NOTEBOOK = ROOT / "notebooks" / "10_annual_report.ipynb"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Execute the notebook with papermill on a copy of the raw inputs, then render it."""
    import papermill as pm

    from chiso.render import blocks_from_notebook, render_notebook

    root = tmp_path_factory.mktemp("annual")
    shutil.copytree(RAW, root / "data" / "raw" / "annual")
    out = root / "reports" / "annual-2024" / "notebooks" / "10_annual_report.ipynb"
    out.parent.mkdir(parents=True)
    pm.execute_notebook(str(NOTEBOOK), str(out), parameters={"year": "2024", "params_file": str(ROOT / "params.yaml"),
                                                             "root": str(root)},
                        kernel_name="python3", progress_bar=False, cwd=str(root))
    html, pdf = root / "reports" / "annual-2024" / "report.html", root / "reports" / "annual-2024" / "report.pdf"
    render_notebook(out, html, pdf, engine="builtin")
    meta, blocks = blocks_from_notebook(out)
    from chiso.reports.annual import report_text

    return {"root": root, "nb": out, "html": html.read_text(encoding="utf-8"), "pdf": pdf, "blocks": blocks,
            "text": report_text([meta, *blocks]), "processed": root / "data" / "processed" / "annual-2024"}


def _tables(blocks, prefix):
    found = []

    def walk(b):
        if isinstance(b, doc.Table) and b.caption.startswith(prefix):
            found.append(b)
        for inner in getattr(b, "blocks", []) or []:
            walk(inner)

    for b in blocks:
        walk(b)
    assert found, f"no table whose caption starts with {prefix!r}"
    return found[0]


def _flat(text: str) -> str:
    return " ".join(text.split())


# ----------------------------------------------------------------------------------
# Overall figures, read from the report (blocks and HTML)
# ----------------------------------------------------------------------------------
def test_sipas_overall_figures_in_report(run):
    text, html = _flat(run["text"]), _flat(run["html"])
    sentence = ("nói chung năm 2024 của tỉnh đạt 82,96%, xếp thứ 40/63 tỉnh, thành phố; tăng 2,86 điểm phần trăm "
                "và tăng 09 bậc so với năm 2023 (80,10%, xếp thứ 49/63)")
    assert sentence in text.replace("**", "")
    assert "<strong>82,96%</strong>" in html and "<strong>40/63</strong>" in html
    assert "39/39 tiêu chí thuộc 09 nhóm tiêu chí đều tăng điểm so với năm 2023" in text
    table = _tables(run["blocks"], "Bảng 1.")
    overall = [r for r in table.rows if isinstance(r, list) and r[0].startswith("SỰ PHỤC VỤ")]
    assert overall == [[overall[0][0], "82,96", "80,10", "+2,86"]]
    assert len([r for r in table.rows if isinstance(r, list) and r[0].split(".")[0].isdigit()]) == 39


def test_par_overall_figures_in_report(run):
    text = _flat(run["text"]).replace("**", "")
    assert ("Điểm Chỉ số CCHC năm 2024 của tỉnh Điện Biên đạt 88,23/100, tăng 0,21 điểm so với năm 2023 (88,02/100), "
            "là năm tỉnh đạt số điểm cao nhất từ năm 2012 đến nay; xếp thứ 35/63 tỉnh, thành phố, giảm 15 bậc "
            "so với năm 2023 (20/63)") in text
    assert "vị trí xếp hạng giảm 15 bậc (từ 20/63 năm 2023 xuống 35/63 năm 2024)" in text
    comp = _tables(run["blocks"], "Bảng 2.")
    assert ["Tổng điểm Chỉ số CCHC", "88,23", "100", "88,23"] in comp.rows
    assert ["Điểm tự đánh giá qua TLKC (sau thẩm định)", "58,904", "66,5", "88,58"] in comp.rows


def test_fields_rise_and_fall_from_the_tables(run):
    fc = pl.read_parquet(run["processed"] / "par_field_change.parquet")
    assert fc.filter(pl.col("direction") == "down")["field"].to_list() == [2, 5, 7, 8]
    assert fc.filter(pl.col("direction") == "up")["field"].to_list() == [1, 3, 4, 6]
    text = _flat(run["text"])
    assert "04 lĩnh vực giảm điểm so với năm 2023:" in text
    assert "Cải cách thể chế giảm 0,30 điểm, đạt 9,43/10 điểm (94,30%)." in text
    hist = pl.read_parquet(run["processed"] / "par_history.parquet")
    assert hist["year"].to_list() == list(range(2012, 2025))


def test_sipas_movers_are_computed(run):
    items = pl.read_parquet(run["processed"] / "sipas_items.parquet").filter(pl.col("level") == "criterion")
    assert items.height == 39
    top = items.sort("change", descending=True).row(0, named=True)
    assert top["code"] == "13"  # 82,98 − 79,25 = 3,73
    text = _flat(run["text"])
    assert "Tiêu chí 13 (C). Chính quyền tổ chức thực hiện tốt CS cải cách hành chính ở địa phương: 82,98% " \
           "(năm 2023: 79,25%), tăng 3,73 điểm phần trăm." in text
    # the doubtful criterion 2 carries the printed change as a warning
    assert "82,21% (năm 2023: 80,68%), tăng 1,53 điểm phần trăm (bản gốc in mức tăng +1,59, xem Phụ lục)." in text


# ----------------------------------------------------------------------------------
# The table of criteria below their maximum
# ----------------------------------------------------------------------------------
def test_criteria_table_lists_transcribed_rows_with_department_totals(run):
    raw = pl.read_csv(RAW / "par_criteria_2024.csv", schema_overrides={"code": pl.String})
    table = _tables(run["blocks"], "Bảng 5.")
    rows = {r[0]: r for r in table.rows if isinstance(r, list) and r[0]}
    assert set(rows) == set(raw["code"].to_list()) and len(rows) == 18
    assert rows["7.1.4"][2:7] == ["1", "1", "0,688", "0,313", "0,312"]
    assert rows["6.1.1"][2:7] == ["1 (s)", "0,961", "0,785", "0,176", "0,215"]
    assert rows["8.2"][2:7] == ["…"] * 5  # nothing printed, nothing invented
    sections = [r.text for r in table.rows if isinstance(r, doc.SectionRow)]
    assert sections[0] == "Sở Thông tin và Truyền thông (05 TC, TCTP)"
    assert any(s.startswith("Chưa xác định đơn vị chủ trì") for s in sections)
    # per-department totals, recomputed here from the raw CSV
    ict = raw.filter(pl.col("responsible") == "Sở Thông tin và Truyền thông")
    i = table.rows.index(next(r for r in table.rows if isinstance(r, doc.SectionRow) and r.text.startswith("Sở Thông tin")))
    subtotal = table.rows[i + ict.height + 1]
    assert subtotal[1] == "Cộng"
    assert subtotal[2] == "5,5" == f"{ict['max_points'].sum():.1f}".replace(".", ",")
    assert subtotal[4] == "3,775"
    assert subtotal[5] == "≥\u00a00,813"  # 3 of its 5 rows print no deduction
    assert subtotal[6] == "1,725"
    printed = [r for r in table.rows if isinstance(r, list) and r[1].startswith("Dòng TỔNG ĐIỂM")][0]
    assert printed[2:6] == ["19", "13,371", "11,332", "2,239"] and "2,039 ≠ 2,239" in printed[7]
    deps = pl.read_parquet(run["processed"] / "par_departments.parquet")
    assert deps.filter(pl.col("responsible") == "Sở Thông tin và Truyền thông")["shortfall"].round(4).item() == 1.725


def test_report_says_19_stated_18_read(run):
    text = _flat(run["text"])
    assert "Bảng gốc nêu 19 TC, TCTP; bản OCR chỉ đọc được 18 dòng" in text
    assert "Dòng 8.2 không có số liệu nào đọc được" in text


def test_personal_names_redacted_by_default(run):
    for name in ("Đặng Thị Hương", "Đỗ Trung Kiên", "Trương Thị Thanh Huệ", "Tòng Văn Trung", "Lê Xuân Hồng"):
        assert name not in run["text"] and name not in run["html"], name
    assert "[05 trường hợp, họ tên được lược bỏ]" in run["text"]


# ----------------------------------------------------------------------------------
# Seed audit
# ----------------------------------------------------------------------------------
def test_seed_audit_files_and_columns(run):
    p = run["processed"]
    csv = pl.read_csv(p / "seed_audit.csv")
    assert csv.columns == ["check", "item", "printed", "recomputed", "difference", "verdict", "note"]
    js = json.loads((p / "seed_audit.json").read_text(encoding="utf-8"))
    assert len(js) == csv.height > 150
    assert set(csv["verdict"].unique()) <= set(annual.VERDICTS)


def test_seed_audit_finds_documented_inconsistencies(run):
    a = pl.read_parquet(run["processed"] / "seed_audit.parquet")
    bad = a.filter(pl.col("verdict") == "mismatch")

    def find(check, item_part):
        return bad.filter((pl.col("check") == check) & pl.col("item").str.contains(item_part, literal=True))

    assert sorted(find("sipas_change", "Tiêu chí")["item"].to_list()) == ["Tiêu chí 17", "Tiêu chí 2", "Tiêu chí 23",
                                                                        "Tiêu chí 34"]
    line = find("par_criteria_total", "tự đánh giá − thẩm định").row(0, named=True)
    assert (line["printed"], round(line["recomputed"], 3)) == (2.239, 2.039)
    assert find("par_criteria_total", "tiêu đề so với số dòng").row(0, named=True)["recomputed"] == 18
    assert find("par_criteria_total", "văn bản").row(0, named=True)["recomputed"] == pytest.approx(1.738)
    pct = find("par_field_pct", "Lĩnh vực")["item"].to_list()
    assert pct == ["Lĩnh vực 5: 13,33/15", "Lĩnh vực 7: 11,23/13,5"]
    assert find("par_reason_formula", "44.399/50.328").height == 1  # 1,3223 printed, 1,3233 exact
    assert find("par_reason_points_sum", "7.3.7").height == 1  # 0,5 + 0,431 + 0,336 = 1,267 ≠ 1,264
    assert find("par_reason_pct", "3/1339").height == 1  # 0,22 % printed 0,25 %
    assert find("par_reason_ratio", "13/16").row(0, named=True)["note"].startswith("Điểm thẩm định tương ứng với 11/16")
    # group means: A and I are off because of criteria 2 and 34; the diagnosis is computed
    means = find("sipas_mean_of_criteria", "năm 2024")["item"].to_list()
    assert {"Nhóm A – năm 2024", "Nhóm I – năm 2024"} <= set(means)
    note34 = bad.filter(pl.col("item") == "Tiêu chí 34")["note"].item()
    assert "83,27" in note34 and "khớp số in 83,01" in note34


def test_seed_audit_confirms_what_adds_up(run):
    a = pl.read_parquet(run["processed"] / "seed_audit.parquet")
    ok = a.filter(pl.col("verdict").is_in(["ok", "rounding"]))
    items = set(ok["item"].to_list())
    assert {"Mức tăng tổng điểm", "Số bậc thay đổi", "Mức tăng chung (điểm phần trăm)", "Số bậc tăng"} <= items
    assert a.filter(pl.col("check") == "sipas_change", pl.col("verdict") == "ok").height == 47
    agg = pl.read_parquet(run["processed"] / "sipas_aggregation.parquet")
    by = agg.group_by("hypothesis").agg(pl.col("n_match").sum(), pl.col("n").sum()).sort("hypothesis")
    crit = by.filter(pl.col("hypothesis") == "mean_of_criteria").row(0, named=True)
    groups = by.filter(pl.col("hypothesis") == "mean_of_groups").row(0, named=True)
    assert crit["n_match"] == crit["n"] - 4  # all but A, II, I and overall (2024), see README
    assert groups["n_match"] < groups["n"] / 2
    assert "Kết quả kiểm tra số liệu của Báo cáo số 661/BC-SNV" in run["text"]


# ----------------------------------------------------------------------------------
# Great Expectations suites
# ----------------------------------------------------------------------------------
def test_suites_pass_critical_rules_on_the_real_data(run):
    results = json.loads((run["processed"] / "validation.json").read_text(encoding="utf-8"))
    assert {r["suite"] for r in results} == set(annual.SUITES)
    for r in results:
        assert r["success"], r["suite"]
        n_expected = len(validation.load_suite_dict(r["suite"])["expectations"])
        assert len(r["results"]) == n_expected  # no expectation silently dropped by GX
    sipas = next(r for r in results if r["suite"] == "annual_sipas")
    warn = [x for x in sipas["results"] if not x["success"]]
    assert all(x["severity"] == "warning" for x in warn)
    assert sorted(next(x for x in warn if x["column"] == "change_printed")["units"]) == \
        ["criterion:17", "criterion:2", "criterion:23", "criterion:34"]


def test_reading_repairs_go_to_validation_json_and_the_report(run, tmp_path):
    """The real transcription needs no repair, and the report says so; a copy with "77,8%"
    in the wishes table and "98,83%" in the fields table is read (the % dropped), and each
    repair is kept in validation.json with the suite of its file."""
    assert "Không có ô hoặc tệp nào phải tự động sửa" in _flat(run["text"])
    results = json.loads((run["processed"] / "validation.json").read_text(encoding="utf-8"))
    assert all(r["repairs"] == [] for r in results)

    raw = tmp_path / "data" / "raw" / "annual"
    shutil.copytree(RAW, raw)
    wishes = raw / "sipas_wishes.csv"
    wishes.write_text(wishes.read_text(encoding="utf-8").replace("1,77.8,", '1,"77,8%",', 1), encoding="utf-8")
    fields = raw / "par_fields.csv"
    fields.write_text(fields.read_text(encoding="utf-8").replace(",98.83,", ',"98,83%",', 1), encoding="utf-8")
    annual.build("2024", tmp_path)
    results = {r["suite"]: r for r in json.loads(
        (tmp_path / "data" / "processed" / "annual-2024" / "validation.json").read_text(encoding="utf-8"))}
    got = {suite: [(Path(x["file"]).name, x["kind"], x["column"], x["rows"]) for x in r["repairs"]]
           for suite, r in results.items() if r["repairs"]}
    assert got == {"annual_sipas": [("sipas_wishes.csv", "percent", "pct", [2])],
                   "annual_par_fields": [("par_fields.csv", "percent", "pct_full_2024_printed", [2])]}
    t = annual.load_tables("2024", tmp_path)
    assert t.sipas_wishes["pct"][0] == 77.8


def test_every_transcription_file_reports_its_repairs_with_one_suite():
    csvs = {k for k, f in annual.AnnualLayout("2024", ROOT).raw_files().items() if f.suffix == ".csv"}
    listed = [k for files in annual.SUITE_FILES.values() for k in files]
    assert sorted(listed) == sorted(csvs)
    assert set(annual.SUITES) == {p.stem for p in (ROOT / "expectations").glob("annual_*.json")}


def test_broken_copy_fails_critical_rule_naming_the_row():
    t = annual.load_tables("2024", ROOT)
    t.par_criteria = t.par_criteria.with_columns(
        pl.when(pl.col("code") == "7.1.4").then(1.25).otherwise(pl.col("appraised")).alias("appraised"))
    df, params, file, idx = annual.validation_frames(t)["annual_par_criteria"]
    outcome = validation.run_suite(df, "annual_par_criteria", params, file, index_column=idx)
    assert not outcome.success
    failed = outcome.critical_failures.row(0, named=True)
    assert failed["column"] == "appraised" and failed["units"] == ["7.1.4"]
    with pytest.raises(InputError) as exc:
        validation.raise_on_failure(outcome)
    assert "7.1.4" in str(exc.value) and "par_criteria_2024.csv" in str(exc.value)


# ----------------------------------------------------------------------------------
# Notebook and rendering
# ----------------------------------------------------------------------------------
def test_notebook_committed_thin_and_without_outputs():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", [])
    assert 'year = "2024"' in "".join(code[0]["source"])
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert nb["metadata"]["kernelspec"]["name"] == "python3" and nb["metadata"]["language_info"]["name"] == "python"


def test_notebook_ran_and_rendered(run):
    nb = json.loads(run["nb"].read_text(encoding="utf-8"))
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert run["pdf"].read_bytes()[:5] == b"%PDF-" and run["pdf"].stat().st_size > 50_000
    assert run["html"].count("data:image/svg+xml;base64,") == 4  # groups, changes, fields, history
    assert unicodedata.is_normalized("NFC", run["text"])
    for name in annual.OUTPUTS:
        assert (run["processed"] / f"{name}.parquet").exists()
    lineage = [b for b in run["blocks"] if isinstance(b, doc.Lineage)][0]
    keys = [k for k, _ in lineage.items]
    assert any(k.startswith("Tệp đầu vào") and "par_criteria_2024.csv" in k for k in keys)
    assert "Phiên bản mã" in keys and "Thời điểm tạo" in keys


def test_processed_outputs_are_deterministic(run):
    """data/processed holds only deterministic data: a second build gives identical bytes."""
    from chiso.io import sha256

    p = run["processed"]
    before = {f.name: sha256(f) for f in sorted(p.iterdir()) if f.is_file()}
    assert "seed_audit.csv" in before and "validation.json" in before
    annual.build("2024", run["root"])
    assert {f.name: sha256(f) for f in sorted(p.iterdir()) if f.is_file()} == before
