"""Methodology files: one YAML file per decision, interpreted by the scoring code.

A methodology is data (groups, indicators, max points, rules, tiers, rounding,
policies and the assumptions behind them). `load()` reads one and applies the
overrides a researcher sets in ``params.yaml`` so that ``dvc exp run -S`` can
change any rule without touching code.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

METHODOLOGY_DIR = Path(__file__).parent / "methodologies"

NOT_APPLICABLE_POLICIES = ("remove_from_max", "count_as_zero")
NO_DOSSIER_POLICIES = ("exclude", "zero")
RULE_KINDS = ("linear", "threshold", "weighted_levels", "bands", "carried")
# What a 0/0 indicator gets: full points, zero points, or not applicable (see counts.py).
ZERO_DENOMINATOR_POLICIES = ("full", "zero", "not_applicable")
# When the counts of an indicator are not available: carry the source's printed score or not.
FALLBACK_POLICIES = ("none", "source")


class MethodologyError(ValueError):
    """A methodology file or override is inconsistent."""


@dataclass(frozen=True)
class Tier:
    name: str
    min: float
    code: str = ""


@dataclass(frozen=True)
class Indicator:
    code: str
    group: str
    label: str
    name: str
    max: float
    dossier_based: bool
    rule: dict[str, Any]
    metric: str | None = None
    source: str = "assumed"
    assumption: str | None = None


@dataclass(frozen=True)
class Methodology:
    id: str
    short_name: str
    title: str
    decision: str
    issuer: str
    period: str
    scale: float
    not_applicable: str
    no_dossier_policy: str
    rounding: dict[str, int]
    tier_basis: str
    tiers: tuple[Tier, ...]
    tier_aliases: dict[str, str]
    groups: tuple[dict[str, Any], ...]
    indicators: tuple[Indicator, ...]
    ranking: dict[str, str]
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    # Counts-level scoring (counts.py); defaults keep the published-table path unchanged.
    sum_rounded_points: bool = False      # totals add points rounded to rounding["indicator"]
    fallback: str = "none"                # "source": carry the source's score when counts are missing
    no_dossier_metric: str = "dossiers_received"
    general_assumptions: tuple[str, ...] = ()

    # -- lookups ---------------------------------------------------------
    def indicator(self, code: str) -> Indicator:
        for ind in self.indicators:
            if ind.code == code:
                return ind
        raise KeyError(code)

    @property
    def indicator_codes(self) -> list[str]:
        return [i.code for i in self.indicators]

    @property
    def max_total(self) -> float:
        return float(sum(i.max for i in self.indicators))

    def group_name(self, code: str) -> str:
        for g in self.groups:
            if g["code"] == code:
                return g["name"]
        raise KeyError(code)

    def canonical_tier(self, name: str | None) -> str | None:
        """Map a printed tier (``XS``, ``xuất sắc``) to its name in the decision."""
        if name is None:
            return None
        stripped = name.strip()
        names = {t.name for t in self.tiers}
        if stripped in names:
            return stripped
        return self.tier_aliases.get(stripped, self.tier_aliases.get(stripped.lower()))

    def indicator_frame(self) -> pl.DataFrame:
        """The indicator specification as a table (one row per indicator)."""
        return pl.DataFrame(
            {
                "indicator": [i.code for i in self.indicators],
                "group": [i.group for i in self.indicators],
                "max": [float(i.max) for i in self.indicators],
                "dossier_based": [i.dossier_based for i in self.indicators],
                "rule": [i.rule.get("kind", "linear") for i in self.indicators],
                "threshold": [float(i.rule.get("threshold", 1.0)) for i in self.indicators],
                "zero_denominator": [i.rule.get("zero_denominator", "not_applicable") for i in self.indicators],
                "metric": [i.metric for i in self.indicators],
                "order": list(range(len(self.indicators))),
            },
            schema_overrides={"metric": pl.String},
        )

    def tier_expr(self, score: pl.Expr) -> pl.Expr:
        """Expression giving the tier name of a converted score."""
        tiers = sorted(self.tiers, key=lambda t: t.min, reverse=True)
        expr = pl.when(score.is_null()).then(pl.lit(None, dtype=pl.String))
        for t in tiers:
            expr = expr.when(score >= t.min).then(pl.lit(t.name))
        return expr.otherwise(pl.lit(tiers[-1].name))

    def tier_of(self, score: float) -> str:
        for t in sorted(self.tiers, key=lambda t: t.min, reverse=True):
            if score >= t.min:
                return t.name
        return sorted(self.tiers, key=lambda t: t.min)[0].name

    def group_max(self, code: str) -> float:
        """Max points of a group: the sum of its indicators' max (after overrides)."""
        return float(sum(i.max for i in self.indicators if i.group == code))

    def assumptions(self) -> list[tuple[str, str]]:
        """(indicator code, assumption text) for every assumption a report must print."""
        return [(i.code, i.assumption) for i in self.indicators if i.assumption]


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of ``base`` with ``extra`` merged in, nested mappings key by key."""
    out = copy.deepcopy(base)
    for key, value in (extra or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Apply researcher overrides to a raw methodology mapping.

    Recognised keys: any top-level scalar (``not_applicable``, ``no_dossier_policy``,
    ``tier_basis``, ``scale``), ``rounding`` (merged), ``tiers`` as
    ``{tier code or name: min}``, ``max`` as ``{indicator: points}``, ``rules`` as
    ``{indicator: {rule fields}}`` (merged into the indicator's rule).
    """
    if not overrides:
        return raw
    out = copy.deepcopy(raw)
    overrides = copy.deepcopy(overrides)
    tiers = overrides.pop("tiers", None) or {}
    maxes = overrides.pop("max", None) or {}
    rules = overrides.pop("rules", None) or {}
    known = {t["name"] for t in out["tiers"]} | {t.get("code") for t in out["tiers"]}
    for name, minimum in tiers.items():
        if name not in known:
            raise MethodologyError(f"Hạng '{name}' không có trong phương pháp {out['id']}.")
        for t in out["tiers"]:
            if name in (t["name"], t.get("code")):
                t["min"] = float(minimum)
    codes = {i["code"] for i in out["indicators"]}
    for code in list(maxes) + list(rules):
        if code not in codes:
            raise MethodologyError(f"Chỉ số '{code}' không có trong phương pháp {out['id']}.")
    for ind in out["indicators"]:
        if ind["code"] in maxes:
            ind["max"] = float(maxes[ind["code"]])
        if ind["code"] in rules:
            ind["rule"] = deep_merge(ind.get("rule", {}), rules[ind["code"]])
    return deep_merge(out, overrides)


def _validate(raw: dict[str, Any]) -> None:
    mid = raw.get("id", "?")
    if raw.get("not_applicable") not in NOT_APPLICABLE_POLICIES:
        raise MethodologyError(f"{mid}: not_applicable phải là một trong {NOT_APPLICABLE_POLICIES}.")
    if raw.get("no_dossier_policy") not in NO_DOSSIER_POLICIES:
        raise MethodologyError(f"{mid}: no_dossier_policy phải là một trong {NO_DOSSIER_POLICIES}.")
    groups = {g["code"] for g in raw["groups"]}
    seen = set()
    for ind in raw["indicators"]:
        if ind["code"] in seen:
            raise MethodologyError(f"{mid}: chỉ số '{ind['code']}' bị lặp.")
        seen.add(ind["code"])
        if ind["group"] not in groups:
            raise MethodologyError(f"{mid}: chỉ số '{ind['code']}' thuộc nhóm không tồn tại '{ind['group']}'.")
        if float(ind["max"]) < 0:
            raise MethodologyError(f"{mid}: điểm tối đa của '{ind['code']}' âm.")
        rule = ind.get("rule", {}) or {}
        kind = rule.get("kind", "linear")
        if kind not in RULE_KINDS:
            raise MethodologyError(f"{mid}: quy tắc '{kind}' của '{ind['code']}' không được hỗ trợ.")
        _validate_rule(mid, ind["code"], rule)
    if raw.get("fallback", "none") not in FALLBACK_POLICIES:
        raise MethodologyError(f"{mid}: fallback phải là một trong {FALLBACK_POLICIES}.")
    mins = [float(t["min"]) for t in raw["tiers"]]
    if len(set(mins)) != len(mins):
        raise MethodologyError(f"{mid}: hai hạng có cùng ngưỡng.")


def _validate_rule(mid: str, code: str, rule: dict[str, Any]) -> None:
    """Fields of the counts-level rules (all optional except what a kind needs)."""
    kind = rule.get("kind", "linear")
    zd = rule.get("zero_denominator", "not_applicable")
    if zd not in ZERO_DENOMINATOR_POLICIES:
        raise MethodologyError(f"{mid}: zero_denominator của '{code}' phải là một trong {ZERO_DENOMINATOR_POLICIES}.")
    if rule.get("fallback", "none") not in FALLBACK_POLICIES:
        raise MethodologyError(f"{mid}: fallback của '{code}' phải là một trong {FALLBACK_POLICIES}.")
    if kind == "threshold" and not float(rule.get("threshold", 0)) > 0:
        raise MethodologyError(f"{mid}: quy tắc ngưỡng của '{code}' cần threshold > 0.")
    if kind == "weighted_levels" and not rule.get("levels"):
        raise MethodologyError(f"{mid}: quy tắc weighted_levels của '{code}' cần levels (chỉ tiêu: trọng số).")
    if kind == "bands":
        bands = rule.get("bands") or []
        if not bands or any("min" not in b or "points" not in b for b in bands):
            raise MethodologyError(f"{mid}: quy tắc bands của '{code}' cần danh sách bands gồm min và points.")
    cond = rule.get("condition")
    if cond is not None and (not isinstance(cond, dict) or "metric" not in cond):
        raise MethodologyError(f"{mid}: điều kiện (condition) của '{code}' cần metric.")


def load_raw(name_or_path: str | Path) -> dict[str, Any]:
    path = Path(name_or_path)
    if not path.suffix:
        path = METHODOLOGY_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        available = ", ".join(sorted(p.stem for p in METHODOLOGY_DIR.glob("*.yaml")))
        raise MethodologyError(f"Không tìm thấy phương pháp '{name_or_path}'. Có sẵn: {available}.")
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> Methodology:
    """Load a methodology by id (``qd459-2023``) or path, with optional overrides."""
    return from_raw(load_raw(name_or_path), overrides)


def from_raw(raw: dict[str, Any], overrides: dict[str, Any] | None = None) -> Methodology:
    """A methodology from its decoded YAML mapping, with optional overrides (validated as ``load``)."""
    raw = apply_overrides(raw, overrides)
    _validate(raw)
    return Methodology(
        id=raw["id"],
        short_name=raw.get("short_name", raw["id"]),
        title=" ".join(str(raw.get("title", "")).split()),
        decision=raw.get("decision", ""),
        issuer=raw.get("issuer", ""),
        period=raw.get("period", "month"),
        scale=float(raw.get("scale", 100)),
        not_applicable=raw["not_applicable"],
        no_dossier_policy=raw["no_dossier_policy"],
        rounding={k: int(v) for k, v in raw.get("rounding", {}).items()},
        tier_basis=raw.get("tier_basis", "rounded"),
        tiers=tuple(Tier(t["name"], float(t["min"]), t.get("code", t["name"])) for t in raw["tiers"]),
        tier_aliases=dict(raw.get("tier_aliases", {})),
        groups=tuple(raw["groups"]),
        indicators=tuple(
            Indicator(
                code=i["code"],
                group=i["group"],
                label=i.get("label", i["code"]),
                name=i.get("name", i["code"]),
                max=float(i["max"]),
                dossier_based=bool(i.get("dossier_based", True)),
                rule=dict(i.get("rule", {"kind": "linear"})),
                metric=i.get("metric"),
                source=i.get("source", "assumed"),
                assumption=(" ".join(i["assumption"].split()) if i.get("assumption") else None),
            )
            for i in raw["indicators"]
        ),
        ranking=dict(raw.get("ranking", {"within": "unit_group", "method": "min"})),
        raw=raw,
        sum_rounded_points=bool(raw.get("sum_rounded_points", False)),
        fallback=raw.get("fallback", "none"),
        no_dossier_metric=raw.get("no_dossier_metric", "dossiers_received"),
        general_assumptions=tuple(" ".join(str(a).split()) for a in raw.get("assumptions", []) or []),
    )
