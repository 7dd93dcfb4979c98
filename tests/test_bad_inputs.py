"""Bad input never becomes a wrong report: every case of ``tests/bad_inputs/catalogue.py``
ends in a clear error (Vietnamese and English, naming file, row, column and rule) or
in a repair that is reported."""

from __future__ import annotations

import json
import re
import warnings
from html import escape as html_escape
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from chiso import sniff
from chiso.errors import InputError

from .bad_inputs.catalogue import ANY, CASES, Case

VI_MARKS = set("ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ")


@dataclass
class Result:
    value: Any
    repairs: list[sniff.Repair] = field(default_factory=list)
    warnings: set[str] = field(default_factory=set)   # failed warning expectations and audit checks
    root: Path | None = None


def _repairs(frame: pl.DataFrame) -> list[sniff.Repair]:
    """The repairs a reader reported as a table (``sniff.repairs_frame``), back as records."""
    return [sniff.Repair(**{k: (tuple(v) if k == "rows" else v) for k, v in r.items()}) for r in frame.to_dicts()]


def run(case: Case, tmp: Path) -> Result:
    """Build the bad input and read it with the reader of its kind."""
    target = case.build(tmp)
    with sniff.collect_repairs() as repairs, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case.kind in ("template", "xlsx", "portal"):
            from chiso import counts

            value = counts.read_counts(target)
            return Result(value, list(repairs))
        if case.kind == "published":
            from chiso import audit, published, validation
            from chiso.methodology import load

            meth = load("qd459-2023")
            table = published.read_published(target, meth)
            outcome = validation.validate_published(table, meth)
            validation.raise_on_failure(outcome)
            findings = audit.audit_table(table, meth)
            flagged = set(outcome.warnings["expectation"]) | set(
                findings.filter(pl.col("severity") != "info")["check"].to_list())
            return Result((table, outcome), _repairs(table.repairs), flagged)
        if case.kind == "period":
            from chiso import periods

            try:
                outcome = periods.ingest_period(b_period(), "params.yaml", target)
            finally:
                _check_validation_files(target)
            flagged = set(outcome.warnings["expectation"])
            return Result((outcome, target), _repairs(outcome.repairs), flagged, root=target)
        if case.kind == "names":
            what, name = target
            if what == "period":
                from chiso.periods import check_period

                return Result(check_period(name))
            from chiso.stages import Layout

            return Result(Layout(name))
        if case.kind == "dossiers":
            from chiso import dossiers

            if Path(target).name.startswith("units"):
                return Result(dossiers.read_units(target), list(repairs))
            return Result(dossiers.read_dossiers(target), list(repairs))
        if case.kind == "annual":
            from chiso import annual, validation

            tables = annual.load_tables("2024", target)
            outcomes = annual.validate(tables)
            for o in outcomes:
                validation.raise_on_failure(o)
            return Result(tables, list(repairs))
    raise ValueError(case.kind)


def b_period() -> str:
    from .bad_inputs.builders import PERIOD

    return PERIOD


def _check_validation_files(root: Path) -> None:
    """A period stage that stops still says why: validation.json and validation.html exist."""
    from chiso import periods

    period = b_period()
    folder = periods.raw_dir(period, root)
    if not any(folder.iterdir()):
        return  # nothing to validate
    data = json.loads((periods.processed_dir(period, root) / "validation.json").read_text(encoding="utf-8"))
    html = (periods.reports_dir(period, root) / "validation.html").read_text(encoding="utf-8")
    assert "Dữ liệu đã được tự động sửa" in html
    assert ("KHÔNG ĐẠT" in html) == (not data["success"])
    assert "tham số lấy từ các phương pháp trong params.yaml." in html


def _as_set(x) -> set:
    return set(x) if isinstance(x, tuple) else {x}


def _params(case: Case):
    marks = [pytest.mark.xfail(reason=case.xfail, strict=True)] if case.xfail else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_params(c) for c in CASES])
def test_bad_input(case: Case, tmp_path: Path):
    if case.expect == "error":
        with pytest.raises(InputError) as info:
            run(case, tmp_path)
        exc = info.value
        assert exc.rule in _as_set(case.rule), f"rule {exc.rule!r}, expected {case.rule!r}: {exc}"
        # Vietnamese (with diacritics) and English, and the file named
        assert exc.message_vi and set(exc.message_vi.lower()) & VI_MARKS, exc.message_vi
        assert exc.message_en and exc.message_en != exc.message_vi, exc.message_en
        # numbers read as analysts write them: 20.000, not 20000 or 20_000
        assert not re.search(r"\d_\d|(?<![\d.,])\d{5,}(?![\d.,])", exc.message_vi), exc.message_vi
        if case.kind not in ("names",):
            assert exc.file, f"no file named: {exc}"
            assert "tệp " in str(exc)
        if case.row is not ANY:
            if case.row is None:
                assert exc.row is None, exc.row
            else:
                assert exc.row in _as_set(case.row), f"row {exc.row}, expected {case.row}: {exc}"
                assert f"dòng {exc.row}" in str(exc)
        if case.column is not ANY:
            assert exc.column == case.column, f"column {exc.column!r}, expected {case.column!r}: {exc}"
            if case.column:
                assert f"cột {case.column}" in str(exc)
        assert f"[{exc.rule}]" in str(exc)
        return
    result = run(case, tmp_path)
    kinds = {r.kind for r in result.repairs}
    if case.expect == "repair":
        missing = _as_set(case.rule) - kinds
        assert not missing, f"repair {missing} not reported (reported: {kinds})"
        for r in result.repairs:
            assert r.message_vi and r.message_en and r.file, r
        if result.root is not None:  # a period: written to validation.json and shown in validation.html
            from chiso import periods

            data = json.loads((periods.processed_dir(b_period(), result.root) / "validation.json").read_text("utf-8"))
            assert _as_set(case.rule) <= {r["kind"] for r in data["repairs"]}
            html = (periods.reports_dir(b_period(), result.root) / "validation.html").read_text("utf-8")
            assert "Dữ liệu đã được tự động sửa" in html
            for r in data["repairs"]:
                assert html_escape(r["message_vi"][:30], quote=True) in html, r["message_vi"]
    elif case.expect == "warning":
        assert case.rule in result.warnings, f"{case.rule} not flagged (flagged: {result.warnings})"
    else:
        assert case.expect == "accepted", case.expect
    if case.check is not None:
        case.check(result.value)


def test_catalogue_covers_every_input_kind():
    kinds = {c.kind for c in CASES}
    assert {"template", "xlsx", "published", "portal", "period", "dossiers", "annual", "names"} <= kinds
    assert len(CASES) >= 40
    required = {"tpl-missing-header", "tpl-merged-header", "tpl-header-only", "tpl-zero-bytes", "period-wrong-period",
                "tpl-duplicate-unit", "period-unknown-unit", "tpl-num-gt-den", "tpl-negative", "pub-above-max",
                "tpl-percent-score", "tpl-tcvn3", "tpl-vni", "xlsx-zero-bytes", "xlsx-truncated", "tpl-huge-cell",
                "xlsx-formulas", "tpl-cp1258", "tpl-latin1", "tpl-semicolon", "tpl-trailing-empty", "portal-not-schema",
                "portal-group-score-only", "tpl-period-formats", "tpl-nfd", "tpl-mixed-decimals", "tpl-bom",
                "tpl-thousands-dot"}
    assert required <= {c.id for c in CASES}


def test_repairs_are_listed_in_the_published_validation_report(tmp_path):
    """The real table with "8.32" among "4,81": the repair is in validation.json and validation.html."""
    from chiso import published, validation
    from chiso.methodology import load
    from chiso.reports.validation import write_validation_report

    from .bad_inputs.builders import published as build

    meth = load("qd459-2023")
    table = published.read_published(build("huyen-dienbien_2023-07")(tmp_path), meth)
    outcome = validation.validate_published(table, meth)
    data = json.loads(outcome.to_json())
    mixed = [r for r in data["repairs"] if r["kind"] == "mixed_decimal"]
    assert mixed and mixed[0]["before"] == "8.32" and mixed[0]["after"] == "8,32"
    html = write_validation_report(outcome, table, meth, tmp_path / "validation.html").read_text(encoding="utf-8")
    assert "Dữ liệu đã được tự động sửa" in html and "8.32 → 8,32" in html


def test_errors_name_the_file_row_and_rule_in_the_period_report(tmp_path):
    """A month whose template says 2024-07: the error names the template and its row; validation.html says KHÔNG ĐẠT."""
    from chiso import periods

    from .bad_inputs.catalogue import CASES_BY_ID

    root = CASES_BY_ID["period-wrong-period"].build(tmp_path)
    with pytest.raises(InputError) as info:
        periods.ingest_period("2024-06", "params.yaml", root)
    assert info.value.file == str(root / "data/raw/2024-06/bieu_mau.csv") and info.value.row in (4, 5)
    html = (root / "reports/2024-06/validation.html").read_text(encoding="utf-8")
    assert "KHÔNG ĐẠT" in html and "bieu_mau.csv: dòng 4, 5" in html
