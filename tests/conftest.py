from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .helpers import CAPTURE, RAW, ROOT, TABLES

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def qd459():
    from chiso.methodology import load

    return load("qd459-2023")


@pytest.fixture(scope="session")
def qd766():
    from chiso.methodology import load

    return load("qd766-2022")


@pytest.fixture(scope="session")
def published_points(qd459):
    """The points (long table) of the two embedded published tables, by table id."""
    from chiso import published

    return {t: published.points_long(published.read_published(RAW / f"{t}.csv", qd459), qd459) for t in TABLES}


@pytest.fixture(scope="session")
def gialai_counts():
    """The counts of the embedded national-portal capture (149 units of Gia Lai)."""
    from chiso import counts

    return counts.read_counts(CAPTURE)


@pytest.fixture()
def table_copy(tmp_path):
    """Copy a published table (CSV + metadata) into tmp_path so a test can break it."""

    def make(table_id: str, edit=None, meta_edit=None) -> Path:
        csv = tmp_path / f"{table_id}.csv"
        shutil.copy(RAW / f"{table_id}.csv", csv)
        shutil.copy(RAW / f"{table_id}.meta.yaml", tmp_path / f"{table_id}.meta.yaml")
        if edit:
            csv.write_text(edit(csv.read_text(encoding="utf-8")), encoding="utf-8")
        if meta_edit:
            m = tmp_path / f"{table_id}.meta.yaml"
            m.write_text(meta_edit(m.read_text(encoding="utf-8")), encoding="utf-8")
        return csv

    return make
