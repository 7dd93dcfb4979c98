"""Reading ``params.yaml`` and turning its knobs into a methodology."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from . import methodology as _methodology


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def methodology_overrides(params: dict[str, Any], methodology_id: str) -> dict[str, Any]:
    return dict((params.get("methodologies") or {}).get(methodology_id) or {})


def load_methodology(methodology_id: str, params: dict[str, Any] | None = None) -> _methodology.Methodology:
    """The decision file with the knobs of ``params.yaml`` applied."""
    return _methodology.load(methodology_id, methodology_overrides(params or {}, methodology_id))
