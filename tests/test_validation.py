"""Great Expectations suites on good and bad published tables."""

from __future__ import annotations

import json

import pytest

from chiso import published, validation
from chiso.errors import InputError

from .conftest import RAW


def validate(path, meth):
    return validation.validate_published(published.read_published(path, meth), meth)


@pytest.mark.parametrize("table_id", ["huyen-dienbien_2023-07", "dienbiendong_2024-06"])
def test_real_tables_pass_critical_expectations(table_id, qd459):
    outcome = validate(RAW / f"{table_id}.csv", qd459)
    assert outcome.success
    validation.raise_on_failure(outcome)  # no exception


def test_value_above_max_is_a_warning_naming_the_unit(qd459):
    outcome = validate(RAW / "huyen-dienbien_2023-07.csv", qd459)
    w = outcome.warnings
    assert w.height == 1
    row = w.row(0, named=True)
    assert row["column"] == "sohoa_2" and row["units"] == ["UBND xã Núa Ngam"] and row["values"] == ["11.5"]


def test_unparseable_cell_stops_with_file_unit_and_column(qd459, table_copy):
    path = table_copy("dienbiendong_2024-06", edit=lambda s: s.replace('"9,3","9,3"', '"9,3","9;3"'))
    outcome = validate(path, qd459)
    assert not outcome.success
    with pytest.raises(InputError) as exc:
        validation.raise_on_failure(outcome)
    msg = str(exc.value)
    assert str(path) in msg and "UBND Na Son" in msg and "dvctt_2" in msg and "9;3" in msg


def test_duplicate_unit_and_unknown_tier_fail(qd459, table_copy):
    def edit(s):
        lines = s.splitlines()
        lines.append(lines[1].replace("Xuất sắc", "Giỏi"))
        return "\n".join(lines) + "\n"

    outcome = validate(table_copy("dienbiendong_2024-06", edit=edit), qd459)
    failed = set(outcome.critical_failures["expectation"])
    assert {"expect_compound_columns_to_be_unique", "expect_column_values_to_be_in_set"} <= failed


def test_missing_column_is_an_input_error(qd459, table_copy):
    path = table_copy("dienbiendong_2024-06", edit=lambda s: s.replace("hailong_3,", "hailong3,", 1))
    with pytest.raises(InputError) as exc:
        published.read_published(path, qd459)
    assert "hailong_3" in str(exc.value)


def test_outcome_json_is_deterministic(qd459):
    a = validate(RAW / "dienbiendong_2024-06.csv", qd459).to_json()
    b = validate(RAW / "dienbiendong_2024-06.csv", qd459).to_json()
    assert a == b
    data = json.loads(a)
    assert data["success"] is True and len(data["results"]) == 31


def test_suite_parameters_follow_methodology(table_copy):
    from chiso.methodology import load

    meth = load("qd459-2023", {"max": {"sohoa_2": 12}})
    outcome = validate(RAW / "huyen-dienbien_2023-07.csv", meth)
    assert outcome.warnings.height == 0  # 11,5 ≤ 12
