"""The pipeline's stages as functions; notebooks call these and display the results.

Each stage reads its inputs, writes its outputs atomically and returns what the
notebook shows. Paths follow one layout:

* ``data/raw/published/<id>.csv`` (+ ``.meta.yaml``): a published table, immutable;
* ``data/processed/<id>/``: Parquet, JSON and CSV results of that table;
* ``reports/<id>/``: what reviewers read (validation report, monthly report).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from . import audit as _audit
from . import published as _published
from . import scoring, validation
from .errors import InputError
from .io import atomic_write_text, write_parquet
from .params import load_methodology, load_params


TABLE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$")


def check_table_id(table_id: str, folder: str = "data/raw/published/", example: str = "dienbiendong_2024-06") -> str:
    """An id of params.yaml names files under ``folder`` (a published table, a portal
    capture, a QĐ 1187 report): letters, digits, "-", "_" and inner dots only (no "/",
    no "..": no path traversal through params.yaml)."""
    table_id = str(table_id)
    if not TABLE_ID_RE.fullmatch(table_id) or ".." in table_id or len(table_id) > 120:
        raise InputError(
            f"Mã \"{table_id}\" không hợp lệ: chỉ dùng chữ, số, \"-\", \"_\" (ví dụ {example}), "
            f"không có \"/\" hay \"..\" (mã là tên tệp hoặc thư mục trong {folder}).",
            f"Invalid id {table_id!r}: letters, digits, '-' and '_' only (no path).", rule="table_id")
    return table_id


@dataclass(frozen=True)
class Layout:
    """Where a published table's inputs and outputs live."""

    table_id: str
    root: Path = Path(".")

    def __post_init__(self) -> None:
        check_table_id(self.table_id)

    @property
    def raw_csv(self) -> Path:
        return self.root / "data" / "raw" / "published" / f"{self.table_id}.csv"

    @property
    def processed(self) -> Path:
        return self.root / "data" / "processed" / self.table_id

    @property
    def reports(self) -> Path:
        return self.root / "reports" / self.table_id


def _methodology_for(table_id: str, params: dict, root: Path):
    meta = _published.read_meta(Layout(table_id, root).raw_csv)
    meth_id = meta.get("methodology") or (params.get("published") or {}).get("methodology")
    return load_methodology(meth_id, params)


def validate_published(table_id: str, params_file: str | Path = "params.yaml", root: str | Path = ".") -> validation.ValidationOutcome:
    """Validate a published table; on success write its tidy points table."""
    root = Path(root)
    params = load_params(root / params_file)
    lay = Layout(table_id, root)
    meth = _methodology_for(table_id, params, root)
    table = _published.read_published(lay.raw_csv, meth)
    outcome = validation.validate_published(table, meth)
    atomic_write_text(lay.processed / "validation.json", outcome.to_json())
    from .reports.validation import write_validation_report

    write_validation_report(outcome, table, meth, lay.reports / "validation.html")
    validation.raise_on_failure(outcome)
    write_parquet(_published.points_long(table, meth), lay.processed / "points.parquet")
    return outcome


@dataclass
class ScoreResult:
    units: pl.DataFrame
    groups: pl.DataFrame
    tiers: pl.DataFrame
    audit: pl.DataFrame
    metrics: dict


def score_published(table_id: str, params_file: str | Path = "params.yaml", root: str | Path = ".") -> ScoreResult:
    """Score a validated published table and audit its printed figures."""
    root = Path(root)
    params = load_params(root / params_file)
    lay = Layout(table_id, root)
    meth = _methodology_for(table_id, params, root)
    points = pl.read_parquet(lay.processed / "points.parquet")
    units = scoring.unit_scores(points, meth)
    groups = scoring.group_scores(points, meth)
    tiers = scoring.tier_counts(units, meth)
    # the published table followed the decision itself: audit it against the decision, not the knobs
    from .methodology import load as load_decision

    decision = load_decision(meth.id)
    findings = _audit.audit_table(_published.read_published(lay.raw_csv, decision), decision)
    write_parquet(units, lay.processed / "units.parquet")
    write_parquet(groups, lay.processed / "groups.parquet")
    write_parquet(findings, lay.processed / "audit.parquet")
    _audit.write_findings(findings, lay.processed / "audit.csv", lay.processed / "audit.json")
    metrics = build_metrics(units, findings, meth)
    atomic_write_text(lay.processed / "metrics.json", json.dumps(metrics, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    return ScoreResult(units=units, groups=groups, tiers=tiers, audit=findings, metrics=metrics)


def build_metrics(units: pl.DataFrame, findings: pl.DataFrame, meth) -> dict:
    """Headline figures DVC tracks (``dvc metrics diff`` between experiments)."""
    counts = dict(units.group_by("tier").len().iter_rows())
    return {
        "units_scored": units.height,
        "mean_converted": round(float(units["converted"].mean() or 0.0), 4),
        "tiers": {t.code: int(counts.get(t.name, 0)) for t in meth.tiers},
        "audit_errors": int(findings.filter(pl.col("severity") == "error").height),
        "audit_warnings": int(findings.filter(pl.col("severity") == "warning").height),
    }
