"""Paths and small builders shared by the test modules."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import polars as pl

from chiso import counts

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw" / "published"
CAPTURE = ROOT / "data" / "raw" / "national-portal" / "details_GiaLai_10102026.json"
TABLES = ("huyen-dienbien_2023-07", "dienbiendong_2024-06")
BENCH = ROOT / "benchmarks"


def benchmark_module(name: str) -> ModuleType:
    """A script of benchmarks/ as a module (they import each other by name)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module(name)


def make_counts(rows: list[tuple], period: str = "2024-06", group: str = "UBND các xã",
                unit_name: Callable[[str], str] = str) -> pl.DataFrame:
    """A counts table; rows: (unit, indicator, numerator, denominator[, source_score, source_max])."""
    data = []
    for r in rows:
        unit, ind, num, den, *rest = r
        data.append({"period": period, "unit_code": unit, "unit_name": unit_name(unit), "unit_group": group,
                     "indicator": ind, "numerator": num, "denominator": den,
                     "source_score": rest[0] if rest else None, "source_max": rest[1] if len(rest) > 1 else None})
    return counts.normalize_counts(pl.DataFrame(data, schema_overrides={
        "numerator": pl.Float64, "denominator": pl.Float64, "source_score": pl.Float64, "source_max": pl.Float64}))
