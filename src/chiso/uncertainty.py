"""How robust are tiers and ranks to the assumptions behind them?

Three studies over one scored table (any period, any number of units and periods):

* **Monte Carlo** (`monte_carlo`): every draw perturbs the assumptions within the
  ranges of ``uncertainty.yaml`` (indicator maxima, not-applicable policy, no-dossier
  policy, thresholds of threshold rules, tier cut-offs) and recomputes converted
  scores, tiers and ranks of every unit. Result per unit: nominal rank, median rank,
  5–95 % rank interval, probability of each tier.
* **Remove one indicator** (`remove_one`): the mean absolute rank shift when one
  indicator is dropped from the index.
* **Sobol indices** (`sobol_indices`, SALib): first-order and total variance-based
  indices of two scalar summaries of a draw (mean absolute rank shift, share of
  units whose tier changes) with respect to each uncertain assumption.

Representation: a table is a dense *rows × indicators* matrix (one row per period ×
unit group × unit; numpy arrays built from the long points table), draws are
matrices (draws × indicators factors, draws × rows results). Nothing loops over
units or draws except the chunking of draws, so 10.000 draws over all units of a
province take well under a second. Randomness comes from one
``numpy.random.Generator`` seeded by the caller: the same seed gives the same result.

Inputs: the long points table of ``chiso.scoring`` (published tables) or a counts
table (``chiso.counts``), from which the points table is computed and which makes
threshold variants and the alternative no-dossier policy exact.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import polars as pl
import yaml

from .methodology import NO_DOSSIER_POLICIES, NOT_APPLICABLE_POLICIES, Methodology, MethodologyError, deep_merge
from .scoring import UNIT_KEYS

ASSUMPTIONS_FILE = Path(__file__).with_name("uncertainty.yaml")
ROW_KEYS = UNIT_KEYS                              # one row of the dense model = one scored unit of scoring
NA_POLICIES = tuple(NOT_APPLICABLE_POLICIES)      # index 0: remove_from_max, 1: count_as_zero
DEFAULT_QUANTILES = (0.05, 0.5, 0.95)
# Target number of cells (draws × rows) of one chunk of draws: bounds peak memory.
CHUNK_CELLS = 400_000

# ---------------------------------------------------------------------------
# Assumption ranges (uncertainty.yaml + params)
# ---------------------------------------------------------------------------
def load_assumptions(methodology_id: str, overrides: Mapping[str, Any] | None = None,
                     path: str | Path | None = None) -> dict[str, Any]:
    """The assumption ranges for a methodology: ``default`` of the YAML file, merged
    with its ``methodologies.<id>`` block, then with ``overrides`` (``params.yaml``,
    block ``uncertainty.assumptions``)."""
    with Path(path or ASSUMPTIONS_FILE).open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    out = deep_merge(raw.get("default") or {}, (raw.get("methodologies") or {}).get(methodology_id))
    out = deep_merge(out, overrides)
    _check_assumptions(out)
    return out


def zero_assumptions() -> dict[str, Any]:
    """Ranges that hold every assumption at its nominal value (each draw = nominal)."""
    return {
        "weights": {"relative": 0.0, "per_indicator": {}},
        "not_applicable": {"alternatives": []},
        "no_dossier_policy": {"alternatives": []},
        "thresholds": {"relative": 0.0, "values": {}},
        "tiers": {"shift": 0.0},
    }


def _check_assumptions(a: Mapping[str, Any]) -> None:
    w = a.get("weights") or {}
    for name, r in [("weights.relative", w.get("relative", 0.0)), *[
            (f"weights.per_indicator.{k}", v) for k, v in (w.get("per_indicator") or {}).items()]]:
        if not 0.0 <= float(r) < 1.0:
            raise MethodologyError(f"Khoảng biến thiên {name} = {r} phải trong [0; 1).")
    t = a.get("thresholds") or {}
    if not 0.0 <= float(t.get("relative", 0.0)) < 1.0:
        raise MethodologyError("Khoảng biến thiên thresholds.relative phải trong [0; 1).")
    if float((a.get("tiers") or {}).get("shift", 0.0)) < 0:
        raise MethodologyError("Độ dịch ngưỡng xếp loại (tiers.shift) không được âm.")
    for key, allowed in (("not_applicable", NA_POLICIES), ("no_dossier_policy", NO_DOSSIER_POLICIES)):
        for name in _alternatives(a, key):
            if name not in allowed:
                raise MethodologyError(f"Phương án '{name}' của {key} không hợp lệ; chọn trong {allowed}.")


def _alternatives(a: Mapping[str, Any], key: str) -> dict[str, float]:
    """Alternatives of a policy as {name: probability} (a list: equally likely)."""
    alts = (a.get(key) or {}).get("alternatives") or []
    if isinstance(alts, Mapping):
        probs = {str(k): float(v) for k, v in alts.items() if float(v) > 0}
    else:
        probs = {str(k): 1.0 for k in alts}
    total = sum(probs.values())
    return {k: v / total for k, v in probs.items()} if total > 0 else {}


# ---------------------------------------------------------------------------
# The dense model of a table
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Input:
    """One uncertain input. A draw maps u ~ U(0, 1) to its value."""

    name: str              # weight:<code> | not_applicable | no_dossier_policy | threshold:<code> | tier:<code>
    kind: str              # weight | not_applicable | no_dossier | threshold | tier
    label: str             # Vietnamese, for reports
    column: int            # indicator / threshold / cut-off column it drives
    low: float = 0.0
    high: float = 0.0
    choices: tuple = ()    # categorical inputs: the values (policy index, threshold value)
    cum_probs: tuple = ()  # cumulative probabilities of `choices`

    def value(self, u: np.ndarray) -> np.ndarray:
        if self.choices:
            idx = np.searchsorted(np.asarray(self.cum_probs), u, side="right")
            return np.asarray(self.choices)[np.minimum(idx, len(self.choices) - 1)]
        return self.low + (self.high - self.low) * u

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "label": self.label, "low": self.low, "high": self.high,
                "choices": [c.item() if hasattr(c, "item") else c for c in self.choices]}


@dataclass
class Model:
    """A scored table as dense arrays (V variants × rows × indicators)."""

    meth: Methodology
    rows: pl.DataFrame                 # ROW_KEYS (+ unit_code), in array order
    indicators: list[str]
    labels: dict[str, str]
    w0: np.ndarray                     # (K,) nominal max of each indicator
    P: np.ndarray                      # (V, U, K) points counted (0 where not applicable)
    A: np.ndarray                      # (V, U, K) 1.0 where applicable
    M: np.ndarray                      # (V, U, K) max of the row (0: not in the unit's max at all)
    variants: list[str]                # no-dossier policy of each variant; variants[0] is nominal
    thr_cols: np.ndarray               # (T,) indicator columns with a threshold rule
    thr0: np.ndarray                   # (T,) nominal thresholds
    ratio: np.ndarray                  # (V, U, T) ratio behind threshold points (NaN: not recomputable)
    group_id: np.ndarray               # (U,) rank group of each row
    sorted_start: np.ndarray           # (U,) start of the group owning sorted position p
    tier_names: list[str]              # ascending by min
    tier_codes: list[str]
    cuts0: np.ndarray                  # (J,) ascending mins of the tiers above the lowest
    na_nominal: int                    # index into NA_POLICIES
    decimals: int                      # decimals of the converted score (rounding, ranking)
    inputs: list[Input] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    assumptions: dict[str, Any] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return self.P.shape[1]

    @property
    def n_tiers(self) -> int:
        return len(self.tier_names)


def is_counts(df: pl.DataFrame) -> bool:
    """A counts table (numerator/denominator per metric) rather than a points table."""
    return "points" not in df.columns and {"numerator", "indicator"} <= set(df.columns)


def _indicator_label(meth: Methodology, code: str, fallback: str | None = None) -> str:
    try:
        ind = meth.indicator(code)
    except KeyError:
        return fallback or code
    if ind.label.startswith("Chỉ số"):
        return f"{ind.label} – {meth.group_name(ind.group).lower()}"
    return ind.name


def infer_no_dossier(points: pl.DataFrame) -> pl.DataFrame:
    """Rows (period, unit_group, unit) of units without dossiers in the period.

    Uses the ``no_dossier`` column of a counts-level points table; a published table
    has none, so a unit is taken as without dossiers when it has 0 points on every
    applicable dossier-based indicator whose 0/0 does not give full points (the same
    reading as the audit's ``zero_on_dossier_indicators`` warning).
    """
    keys = list(ROW_KEYS)
    if "no_dossier" in points.columns:
        return points.group_by(keys).agg(pl.col("no_dossier").any()).filter(pl.col("no_dossier")).select(keys)
    if "dossier_based" not in points.columns:
        return points.select(keys).head(0)
    zd = pl.col("zero_denominator") != "full" if "zero_denominator" in points.columns else pl.lit(True)
    return (points.filter(pl.col("applicable") & pl.col("dossier_based") & zd)
            .group_by(keys).agg((pl.col("points").fill_null(0) == 0).all().alias("z"), pl.len().alias("n"))
            .filter(pl.col("z") & (pl.col("n") > 1)).select(keys))


def given_no_dossier_policy(points: pl.DataFrame, flagged: pl.DataFrame, meth: Methodology) -> str:
    """The no-dossier policy a points table was scored under (``exclude`` when it has
    excluded rows, ``zero`` when units without dossiers are scored)."""
    if "excluded" in points.columns:
        return "exclude" if points["excluded"].any() else ("zero" if flagged.height else meth.no_dossier_policy)
    return "zero" if flagged.height else meth.no_dossier_policy


def exclude_no_dossier(points: pl.DataFrame, flagged: pl.DataFrame) -> pl.DataFrame:
    """The points table with units without dossiers excluded (not scored)."""
    mark = flagged.with_columns(pl.lit(True).alias("_nd"))
    return (points.join(mark, on=list(ROW_KEYS), how="left")
            .with_columns(pl.col("_nd").fill_null(False))
            .with_columns(pl.when(pl.col("_nd")).then(0.0).otherwise(pl.col("max")).alias("max"),
                          (pl.col("applicable") & ~pl.col("_nd")).alias("applicable"))
            .drop("_nd"))


def _variant_tables(source: pl.DataFrame, meth: Methodology, assumptions: Mapping[str, Any],
                    notes: list[str]) -> tuple[list[str], list[pl.DataFrame]]:
    """Points tables of the nominal no-dossier policy (first) and of its alternatives."""
    alts = list(_alternatives(assumptions, "no_dossier_policy"))
    if is_counts(source):
        from . import counts as _counts
        from .whatif import derive_methodology

        given = meth.no_dossier_policy
        tables = {given: _counts.indicator_points(source, meth)}
        for alt in alts:
            if alt not in tables:
                tables[alt] = _counts.indicator_points(source, derive_methodology(meth, {"no_dossier_policy": alt}))
        return list(tables), list(tables.values())
    points = source
    flagged = infer_no_dossier(points)
    given = given_no_dossier_policy(points, flagged, meth)
    tables = {given: points}
    for alt in alts:
        if alt in tables:
            continue
        if alt == "exclude":
            tables[alt] = exclude_no_dossier(points, flagged)
        elif flagged.height:
            notes.append("Không dựng được phương án 'zero' cho đơn vị không phát sinh hồ sơ từ bảng điểm đã loại "
                         "các đơn vị này (cần bảng số liệu tử số, mẫu số); giữ phương án của bảng.")
    if "no_dossier" not in points.columns and flagged.height:
        notes.append(f"Bảng điểm không ghi đơn vị nào không phát sinh hồ sơ; {flagged.height} đơn vị được nhận "
                     "biết qua 0 điểm ở mọi chỉ số tính từ hồ sơ.")
    return list(tables), list(tables.values())


def build_model(source: pl.DataFrame, meth: Methodology, assumptions: Mapping[str, Any] | None = None) -> Model:
    """Dense arrays of a points table (or of a counts table, scored here) and the
    uncertain inputs that `assumptions` (see `load_assumptions`) define for it."""
    a = dict(assumptions) if assumptions is not None else load_assumptions(meth.id)
    _check_assumptions(a)
    notes: list[str] = []
    policies, tables = _variant_tables(source, meth, a, notes)
    nominal = tables[0]
    for i, t in enumerate(tables):
        dup = t.group_by([*ROW_KEYS, "indicator"]).len().filter(pl.col("len") > 1)
        if dup.height:
            raise ValueError(f"Bảng điểm có dòng trùng (đơn vị × chỉ số): {dup.row(0)}")

    within = [k for k in ROW_KEYS if k != "unit"] if meth.ranking.get("within") == "unit_group" else ["period"]
    extra = ["unit_code"] if "unit_code" in nominal.columns else []
    rows = (nominal.select(*ROW_KEYS, *extra).unique(subset=list(ROW_KEYS), keep="first")
            .sort(*within, "unit").with_row_index("_row")
            .with_columns(pl.struct(within).rle_id().cast(pl.Int64).alias("_group")))
    order = {c: i for i, c in enumerate(meth.indicator_codes)}
    seen = nominal.group_by("indicator").agg(
        pl.col("max").max().alias("w0"),
        (pl.col("name").first() if "name" in nominal.columns else pl.lit(None, pl.String)).alias("name"),
        (pl.col("order").min() if "order" in nominal.columns else pl.lit(None, pl.Float64)).cast(pl.Float64).alias("o"),
    )
    seen = seen.with_columns(
        pl.col("indicator").replace_strict(order, default=None, return_dtype=pl.Float64).fill_null(pl.col("o"))
        .fill_null(1e9).alias("o")).sort("o", "indicator")
    indicators = seen["indicator"].to_list()
    col = pl.DataFrame({"indicator": indicators, "_col": np.arange(len(indicators))})
    U, K, V = rows.height, len(indicators), len(tables)
    w0 = seen["w0"].fill_null(0.0).to_numpy().astype(float)
    labels = {c: _indicator_label(meth, c, n) for c, n in zip(indicators, seen["name"].to_list())}

    thr_codes = [i.code for i in meth.indicators
                 if i.rule.get("kind") == "threshold" and i.code in indicators and w0[indicators.index(i.code)] > 0]
    thr_cols = np.array([indicators.index(c) for c in thr_codes], dtype=np.int64)
    thr0 = np.array([float(meth.indicator(c).rule.get("threshold", 1.0)) for c in thr_codes])

    P = np.zeros((V, U, K))
    A = np.zeros((V, U, K))
    M = np.zeros((V, U, K))
    R = np.full((V, U, len(thr_codes)), np.nan)
    for v, t in enumerate(tables):
        cells = (t.join(rows.select(*ROW_KEYS, "_row"), on=list(ROW_KEYS)).join(col, on="indicator")
                 .select("_row", "_col", pl.col("applicable").fill_null(False), pl.col("max").fill_null(0.0),
                         pl.col("points").fill_null(0.0),
                         *([pl.col("ratio"), pl.col("points_exact"), pl.col("rule")] if "ratio" in t.columns else [])))
        r_i, c_i = cells["_row"].to_numpy(), cells["_col"].to_numpy()
        app = cells["applicable"].to_numpy().astype(float)
        M[v, r_i, c_i] = cells["max"].to_numpy()
        A[v, r_i, c_i] = app
        P[v, r_i, c_i] = cells["points"].to_numpy() * app
        if len(thr_codes) and "ratio" in cells.columns:
            thr_of = dict(zip(thr_codes, thr0))
            th = cells.filter(pl.col("_col").is_in(thr_cols.tolist()) & (pl.col("rule") == "threshold")
                              & pl.col("ratio").is_not_null())
            if th.height:
                code_of = {int(c): code for c, code in zip(thr_cols, thr_codes)}
                tcol = {int(c): j for j, c in enumerate(thr_cols)}
                cc = th["_col"].to_numpy()
                ratio = th["ratio"].to_numpy()
                thr = np.array([thr_of[code_of[int(c)]] for c in cc])
                spec = w0[cc]
                explained = np.abs(np.minimum(1.0, ratio / thr) * spec - th["points_exact"].to_numpy()) < 1e-6
                rr, tc = th["_row"].to_numpy()[explained], np.array([tcol[int(c)] for c in cc])[explained]
                R[v, rr, tc] = ratio[explained]

    gid = rows["_group"].to_numpy().astype(np.int64)
    sizes = np.bincount(gid)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    sorted_start = np.repeat(starts, sizes)
    tiers = sorted(meth.tiers, key=lambda t: t.min)
    model = Model(
        meth=meth, rows=rows.drop("_row"), indicators=indicators, labels=labels, w0=w0, P=P, A=A, M=M,
        variants=policies, thr_cols=thr_cols, thr0=thr0, ratio=R, group_id=gid, sorted_start=sorted_start,
        tier_names=[t.name for t in tiers], tier_codes=[t.code for t in tiers],
        cuts0=np.array([t.min for t in tiers[1:]], dtype=float),
        na_nominal=NA_POLICIES.index(meth.not_applicable), decimals=int(meth.rounding.get("converted", 2)),
        notes=notes, assumptions=dict(a),
    )
    model.inputs = _inputs(model, a)
    return model


def _inputs(model: Model, a: Mapping[str, Any]) -> list[Input]:
    meth = model.meth
    out: list[Input] = []
    w = a.get("weights") or {}
    per = {str(k): float(v) for k, v in (w.get("per_indicator") or {}).items()}
    for k, code in enumerate(model.indicators):
        r = per.get(code, float(w.get("relative", 0.0)))
        if r > 0 and model.w0[k] > 0:
            out.append(Input(f"weight:{code}", "weight", f"Điểm tối đa: {model.labels[code]}", k, 1.0 - r, 1.0 + r))
    for key, kind, policies, nominal, label in (
        ("not_applicable", "not_applicable", list(NA_POLICIES), NA_POLICIES[model.na_nominal],
         "Quy tắc chỉ số không áp dụng"),
        ("no_dossier_policy", "no_dossier", model.variants, model.variants[0], "Đơn vị không phát sinh hồ sơ"),
    ):
        alts = {k: p for k, p in _alternatives(a, key).items() if k in policies}
        if len(alts) > 1 or (len(alts) == 1 and nominal not in alts):
            idx = tuple(policies.index(k) for k in alts)
            out.append(Input(key, kind, label, 0, choices=idx, cum_probs=tuple(np.cumsum(list(alts.values())))))
    t = a.get("thresholds") or {}
    values = {str(k): [float(x) for x in v] for k, v in (t.get("values") or {}).items()}
    rt = float(t.get("relative", 0.0))
    for j, c in enumerate(model.thr_cols):
        code = model.indicators[int(c)]
        if np.isnan(model.ratio[:, :, j]).all():
            continue
        name = f"Ngưỡng: {model.labels[code]}"
        if values.get(code):
            vals = tuple(values[code])
            out.append(Input(f"threshold:{code}", "threshold", name, j, min(vals), max(vals), choices=vals,
                             cum_probs=tuple(np.arange(1, len(vals) + 1) / len(vals))))
        elif rt > 0:
            out.append(Input(f"threshold:{code}", "threshold", name, j, model.thr0[j] * (1 - rt),
                             min(1.0, model.thr0[j] * (1 + rt))))
    unknown = set(values) - {model.indicators[int(c)] for c in model.thr_cols}
    if unknown:
        model.notes.append("Bỏ qua ngưỡng của chỉ số không có quy tắc ngưỡng: " + ", ".join(sorted(unknown)) + ".")
    s = float((a.get("tiers") or {}).get("shift", 0.0))
    if s > 0 and len(model.cuts0):
        gaps = np.diff(np.concatenate([[min(t.min for t in meth.tiers)], model.cuts0]))
        if s * 2 >= gaps.min():
            raise MethodologyError(f"Độ dịch ngưỡng xếp loại ±{s} không nhỏ hơn nửa khoảng cách nhỏ nhất giữa hai ngưỡng "
                                   f"({gaps.min() / 2:g}): các hạng có thể đổi thứ tự.")
        for j, (code, name, c) in enumerate(zip(model.tier_codes[1:], model.tier_names[1:], model.cuts0)):
            out.append(Input(f"tier:{code}", "tier", f"Ngưỡng xếp loại {name}", j, c - s, c + s))
    return out


# ---------------------------------------------------------------------------
# Evaluation of draws (vectorised over draws × rows)
# ---------------------------------------------------------------------------
@dataclass
class Draws:
    """Assumption values of a chunk of draws."""

    f: np.ndarray          # (D, K) indicator factors, renormalised
    na: np.ndarray         # (D,) index into NA_POLICIES
    nd: np.ndarray         # (D,) no-dossier variant
    thr: np.ndarray        # (D, T) thresholds
    cuts: np.ndarray       # (D, J) tier cut-offs, ascending


def nominal_draws(model: Model, n: int = 1) -> Draws:
    K, T = len(model.indicators), len(model.thr0)
    return Draws(f=np.ones((n, K)), na=np.full(n, model.na_nominal), nd=np.zeros(n, dtype=np.int64),
                 thr=np.tile(model.thr0, (n, 1)).reshape(n, T), cuts=np.tile(model.cuts0, (n, 1)))


def draws_from_unit(model: Model, u: np.ndarray, inputs: list[Input] | None = None) -> Draws:
    """Map points of the unit hypercube (draws × inputs) to assumption values."""
    inputs = model.inputs if inputs is None else inputs
    d = nominal_draws(model, u.shape[0])
    for i, inp in enumerate(inputs):
        val = inp.value(u[:, i])
        if inp.kind == "weight":
            d.f[:, inp.column] = val
        elif inp.kind == "not_applicable":
            d.na = val.astype(np.int64)
        elif inp.kind == "no_dossier":
            d.nd = val.astype(np.int64)
        elif inp.kind == "threshold":
            d.thr[:, inp.column] = val
        elif inp.kind == "tier":
            d.cuts[:, inp.column] = val
    total = model.w0.sum()
    if total > 0:
        d.f *= (total / (d.f @ model.w0))[:, None]
    return d


def _static(model: Model, v: int) -> dict[str, np.ndarray]:
    """Per-variant arrays that do not depend on the draw (computed once, cached)."""
    cache = model.__dict__.setdefault("_cache", {})
    if v not in cache:
        P, A, M = model.P[v], model.A[v], model.M[v]
        out = {"PT": np.ascontiguousarray(P.T), "AMT": np.ascontiguousarray((A * M).T), "MT": np.ascontiguousarray(M.T)}
        if len(model.thr_cols):
            cols = model.thr_cols
            r = model.ratio[v]
            ok = ~np.isnan(r)
            weight = np.where(ok, A[:, cols] * M[:, cols], 0.0)
            r0 = np.where(ok, r, 0.0)
            out["thr"] = []
            for j in range(len(cols)):
                rows = np.flatnonzero(weight[:, j] > 0)
                if rows.size > 0.5 * len(r0):   # dense: cheaper than gathering and scattering
                    rows = slice(None)
                out["thr"].append((rows, r0[rows, j], weight[rows, j], np.minimum(1.0, r0[rows, j] / model.thr0[j])))
        cache[v] = out
    return cache[v]


def converted_scores(model: Model, d: Draws) -> np.ndarray:
    """Converted score of every draw × row (NaN: not scored)."""
    D, U = d.f.shape[0], model.n_rows
    single = len(model.variants) == 1 or bool((d.nd == d.nd[0]).all())
    out = None if single else np.full((D, U), np.nan)
    zero_policy = NA_POLICIES.index("count_as_zero")
    for v in (range(len(model.variants)) if not single else [int(d.nd[0])]):
        sel = slice(None) if single else np.flatnonzero(d.nd == v)
        f = d.f[sel]
        if not f.shape[0]:
            continue
        st = _static(model, v)
        num = f @ st["PT"]
        for j, (rows, r0, weight, g0) in enumerate(st.get("thr", [])):
            if not r0.size:
                continue
            g = r0[None, :] / d.thr[sel, j][:, None]
            np.minimum(g, 1.0, out=g)
            g -= g0[None, :]
            g *= weight[None, :]
            g *= f[:, model.thr_cols[j]][:, None]
            if isinstance(rows, slice):
                num += g
            else:
                num[:, rows] += g
        na = d.na[sel]
        if (na == zero_policy).all():
            den = f @ st["MT"]
        elif (na != zero_policy).all():
            den = f @ st["AMT"]
        else:
            den = np.where((na == zero_policy)[:, None], f @ st["MT"], f @ st["AMT"])
        pos = den > 0
        np.divide(num, den, out=num, where=pos)
        num *= model.meth.scale
        num[~pos] = np.nan
        if single:
            return num
        out[sel] = num
    return out


def _round_units(model: Model, conv: np.ndarray) -> np.ndarray:
    """Converted scores rounded half up to the printed decimals, as integers (−1: not scored).

    ``numbers.round_half_up`` vectorised (same + 0,5 + 1e-9 rule), decimals from the
    methodology's ``rounding.converted`` (`Model.decimals`)."""
    factor = 10 ** model.decimals
    r = conv * factor          # scores are never negative
    r += 0.5 + 1e-9
    np.floor(r, out=r)
    r[np.isnan(r)] = -1
    return r.astype(np.int32)


def ranks_and_tiers(model: Model, conv: np.ndarray, d: Draws) -> tuple[np.ndarray, np.ndarray]:
    """Rank within the rank group (method "min" on the rounded converted score; 0 = not
    ranked) and tier index (ascending; ``n_tiers`` = not scored) of every draw × row.

    The vectorised counterpart of ``scoring.unit_scores`` / ``Methodology.tier_expr``:
    rank method and groups (``ranking``), scale, tier basis and cut-offs (drawn around
    ``tiers``) all come from the methodology; a rank method other than "min" is refused."""
    method = model.meth.ranking.get("method", "min")
    if method != "min":
        raise NotImplementedError(f"Phương pháp xếp hạng '{method}' chưa được hỗ trợ trong phân tích độ vững.")
    D, U = conv.shape
    ri = _round_units(model, conv)
    span = int(round(model.meth.scale * 10 ** model.decimals)) + 2
    base = (model.group_id * (2 * span)).astype(np.int64)
    dtype = np.int32 if base.max(initial=0) + 2 * span < 2**31 else np.int64
    key = np.where(ri < 0, 2 * span - 1, span - ri).astype(dtype)
    key += base.astype(dtype)[None, :]
    order = np.argsort(key, axis=1)
    skey = np.take_along_axis(key, order, axis=1)
    pos = np.arange(U, dtype=np.int32)
    start = model.sorted_start.astype(np.int32)
    is_new = np.empty((D, U), dtype=bool)
    is_new[:, 0] = True
    np.not_equal(skey[:, 1:], skey[:, :-1], out=is_new[:, 1:])
    is_new |= (pos == start)[None, :]
    first = np.where(is_new, pos[None, :], 0)
    np.maximum.accumulate(first, axis=1, out=first)
    first -= start[None, :] - 1
    sorted_sentinel = (base + 2 * span - 1).astype(dtype)   # rows are stored group by group
    first[skey == sorted_sentinel[None, :]] = 0
    rank = np.empty((D, U), dtype=np.int32)
    np.put_along_axis(rank, order, first.astype(np.int32, copy=False), axis=1)
    if model.meth.tier_basis == "rounded":
        basis, cuts = ri, d.cuts * 10 ** model.decimals
    else:
        basis, cuts = conv, d.cuts
    tier = np.zeros((D, U), dtype=np.int16)
    with np.errstate(invalid="ignore"):
        for j in range(cuts.shape[1]):
            tier += basis >= cuts[:, j][:, None]
    tier[ri < 0] = model.n_tiers
    return rank, tier


def evaluate(model: Model, d: Draws) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    conv = converted_scores(model, d)
    rank, tier = ranks_and_tiers(model, conv, d)
    return conv, rank, tier


def nominal(model: Model) -> pl.DataFrame:
    """Nominal converted score, rank and tier of every row, from the dense model."""
    conv, rank, tier = evaluate(model, nominal_draws(model))
    names = [*model.tier_names, None]
    return model.rows.select(*ROW_KEYS).with_columns(
        pl.Series("converted", conv[0]).fill_nan(None),
        pl.Series("rank", rank[0]).replace(0, None),
        pl.Series("tier", [names[i] for i in tier[0]], dtype=pl.String),
    )


# ---------------------------------------------------------------------------
# Monte Carlo
# ---------------------------------------------------------------------------
@dataclass
class UncertaintyResult:
    summary: pl.DataFrame          # one row per unit: nominal, median, 5–95 % rank, tier probability…
    tiers: pl.DataFrame            # unit × tier: probability
    settings: dict[str, Any]
    draws: dict[str, np.ndarray] | None = None   # converted, rank, tier (draws × rows) when kept
    seconds: float = 0.0           # wall time of the simulation (printed, never written to data/processed)


def _chunk_size(model: Model, chunk: int | None) -> int:
    if chunk:
        return int(chunk)
    return max(1, CHUNK_CELLS // max(model.n_rows, 1))


def _blas_single_thread():
    """Small matrix products are slower with BLAS threads (and the Monte Carlo runs its
    own threads over chunks): limit BLAS to one thread when threadpoolctl is installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _chunk_stats(model: Model, u: np.ndarray, R: int, keep: bool) -> dict[str, Any]:
    """Everything the Monte Carlo keeps from one chunk of draws (histograms, sums)."""
    U, n_t = model.n_rows, model.n_tiers
    d = draws_from_unit(model, u)
    conv, rank, tier = evaluate(model, d)
    rows_idx = np.arange(U)
    valid = ~np.isnan(conv)
    c0 = np.where(valid, conv, 0.0)
    out = {
        "rank_hist": np.bincount((rows_idx[None, :] * R + rank).ravel(), minlength=U * R),
        "tier_hist": np.bincount((rows_idx[None, :] * (n_t + 1) + tier).ravel(), minlength=U * (n_t + 1)),
        "s1": c0.sum(axis=0),
        "s2": (c0 * c0).sum(axis=0),
        "cmin": np.where(valid, conv, np.inf).min(axis=0),
        "cmax": np.where(valid, conv, -np.inf).max(axis=0),
    }
    if keep:
        out["kept"] = (conv.astype(np.float32), rank, tier)
    return out


def monte_carlo(source: pl.DataFrame | Model, meth: Methodology | None = None, *, draws: int = 10_000,
                seed: int = 0, assumptions: Mapping[str, Any] | None = None, chunk: int | None = None,
                quantiles: tuple[float, float, float] = DEFAULT_QUANTILES, keep_draws: bool = False,
                workers: int | None = None) -> UncertaintyResult:
    """Monte Carlo over the assumptions: ranks and tiers of every unit under `draws`
    random variants of the methodology (see ``uncertainty.yaml``).

    `source` is a long points table, a counts table or a `Model`. The summary has one
    row per period × unit group × unit: ``converted`` (nominal), ``tier``, ``rank``
    (nominal), ``rank_median``, ``rank_p05``, ``rank_p95`` (interval of `quantiles`,
    observed ranks), ``rank_mean``, ``rank_shift_mean`` (mean |rank − nominal|),
    ``converted_mean``, ``converted_sd``, ``converted_min``, ``converted_max``,
    ``p_tier`` (probability of the nominal tier), ``modal_tier``, ``p_modal_tier``,
    ``p_not_scored``. ``tiers`` holds the probability of every tier for every unit.

    Draws come from ``numpy.random.default_rng(seed)`` in one stream, cut into chunks
    of `chunk` draws (default: about ``CHUNK_CELLS`` draw × row cells) evaluated by
    `workers` threads (default: up to 2) and reduced in chunk order: the result depends
    on the seed only. `keep_draws` also returns the draws × rows matrices.
    """
    t0 = time.perf_counter()
    model = source if isinstance(source, Model) else build_model(source, meth, assumptions)
    rng = np.random.default_rng(seed)
    U, n_t = model.n_rows, model.n_tiers
    R = int(np.bincount(model.group_id).max()) + 1
    nominal_rank = evaluate(model, nominal_draws(model))[1][0]
    step = _chunk_size(model, chunk)
    units = [rng.random((min(step, draws - s), len(model.inputs))) for s in range(0, draws, step)]
    workers = workers or min(2, os.cpu_count() or 1)
    acc = {"rank_hist": np.zeros(U * R, dtype=np.int64), "tier_hist": np.zeros(U * (n_t + 1), dtype=np.int64),
           "s1": np.zeros(U), "s2": np.zeros(U), "cmin": np.full(U, np.inf), "cmax": np.full(U, -np.inf)}
    kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    with _blas_single_thread():
        _static(model, 0)
        if workers > 1 and len(units) > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                parts = pool.map(lambda u: _chunk_stats(model, u, R, keep_draws), units)
                for part in parts:
                    _merge(acc, part, kept)
        else:
            for u in units:
                _merge(acc, _chunk_stats(model, u, R, keep_draws), kept)
    seconds = time.perf_counter() - t0
    summary, tiers = _summarise(model, acc["rank_hist"].reshape(U, R), acc["tier_hist"].reshape(U, n_t + 1),
                                acc["s1"], acc["s2"], acc["cmin"], acc["cmax"], nominal_rank, draws, quantiles)
    settings = settings_of(model, draws=draws, seed=seed, quantiles=quantiles)
    return UncertaintyResult(
        seconds=round(seconds, 3),
        summary=summary, tiers=tiers, settings=settings,
        draws={k: np.concatenate([x[i] for x in kept]) for i, k in enumerate(("converted", "rank", "tier"))}
        if keep_draws else None)


def _merge(acc: dict[str, np.ndarray], part: dict[str, Any], kept: list) -> None:
    for key in ("rank_hist", "tier_hist", "s1", "s2"):
        acc[key] += part[key]
    np.minimum(acc["cmin"], part["cmin"], out=acc["cmin"])
    np.maximum(acc["cmax"], part["cmax"], out=acc["cmax"])
    if "kept" in part:
        kept.append(part["kept"])


def _quantile_from_hist(hist: np.ndarray, q: float) -> np.ndarray:
    """Smallest rank r with P(rank ≤ r) ≥ q (inverted CDF), from rank counts (column 0 ignored)."""
    counts = hist[:, 1:]
    n = counts.sum(axis=1)
    cum = np.cumsum(counts, axis=1)
    idx = np.argmax(cum >= (q * n)[:, None] - 1e-9, axis=1) + 1
    return np.where(n > 0, idx, 0)


def _summarise(model: Model, rank_hist, tier_hist, s1, s2, cmin, cmax, nominal_rank, draws, quantiles):
    lo, mid, hi = quantiles
    n_ranked = rank_hist[:, 1:].sum(axis=1)
    ranks = np.arange(rank_hist.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_rank = (rank_hist * ranks).sum(axis=1) / n_ranked
        shift = (rank_hist[:, 1:] * np.abs(ranks[None, 1:] - nominal_rank[:, None])).sum(axis=1) / n_ranked
        mean = s1 / n_ranked
        sd = np.sqrt(np.maximum(s2 / n_ranked - mean ** 2, 0.0))
    probs = tier_hist / float(draws)
    nom = nominal(model)
    names = model.tier_names
    nom_idx = np.array([names.index(t) if t is not None else model.n_tiers for t in nom["tier"].to_list()])
    p_tier = probs[np.arange(model.n_rows), nom_idx]
    modal = probs[:, :-1].argmax(axis=1)

    def opt_int(x):
        return pl.Series(np.where(n_ranked > 0, x, 0)).replace(0, None).cast(pl.Int32)

    summary = nom.with_columns(
        opt_int(_quantile_from_hist(rank_hist, mid)).alias("rank_median"),
        opt_int(_quantile_from_hist(rank_hist, lo)).alias("rank_p05"),
        opt_int(_quantile_from_hist(rank_hist, hi)).alias("rank_p95"),
        pl.Series("rank_mean", mean_rank).fill_nan(None),
        pl.Series("rank_shift_mean", np.where(nominal_rank > 0, shift, np.nan)).fill_nan(None),
        pl.Series("converted_mean", mean).fill_nan(None),
        pl.Series("converted_sd", sd).fill_nan(None),
        pl.Series("converted_min", np.where(np.isfinite(cmin), cmin, np.nan)).fill_nan(None),
        pl.Series("converted_max", np.where(np.isfinite(cmax), cmax, np.nan)).fill_nan(None),
        pl.Series("p_tier", np.where(nom_idx < model.n_tiers, p_tier, np.nan)).fill_nan(None),
        pl.Series("modal_tier", [names[i] for i in modal], dtype=pl.String),
        pl.Series("p_modal_tier", probs[np.arange(model.n_rows), modal]),
        pl.Series("p_not_scored", probs[:, -1]),
        pl.lit(draws).cast(pl.Int64).alias("draws"),
    ).with_columns(
        pl.when(pl.col("rank").is_null()).then(None).otherwise(pl.col("modal_tier")).alias("modal_tier"),
    )
    if "unit_code" in model.rows.columns:
        summary = summary.with_columns(model.rows["unit_code"])
    summary = summary.sort("period", "unit_group", "rank", "unit", nulls_last=True)
    order = {n: i for i, n in enumerate(reversed(names))}  # best tier first
    tiers = (
        model.rows.select(*ROW_KEYS)
        .with_columns(pl.Series("_p", probs[:, :-1].tolist(), dtype=pl.List(pl.Float64)),
                      pl.lit(names, dtype=pl.List(pl.String)).alias("tier"))
        .explode("_p", "tier").rename({"_p": "probability"})
        .with_columns(pl.col("tier").replace_strict(order, return_dtype=pl.Int32).alias("tier_order"))
        .sort("period", "unit_group", "unit", "tier_order")
    )
    return summary, tiers


def settings_of(model: Model, **extra: Any) -> dict[str, Any]:
    """What a report needs to describe the study (JSON-serialisable)."""
    meth = model.meth
    return {
        "methodology": meth.id,
        "rows": model.n_rows,
        "periods": model.rows["period"].n_unique(),
        "not_applicable_nominal": NA_POLICIES[model.na_nominal],
        "no_dossier_nominal": model.variants[0],
        "inputs": [i.describe() for i in model.inputs],
        "assumptions": json.loads(json.dumps(model.assumptions)),
        "notes": list(model.notes),
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in extra.items()},
    }


# ---------------------------------------------------------------------------
# Sensitivity: remove one indicator; Sobol indices
# ---------------------------------------------------------------------------
def remove_one(source: pl.DataFrame | Model, meth: Methodology | None = None) -> pl.DataFrame:
    """Per period and scored indicator: ranks when that indicator is dropped from the index.

    Columns: period, indicator, label, mean_abs_rank_shift (over units ranked with and
    without it), max_abs_rank_shift, units_moved, tier_changes, units.
    """
    model = source if isinstance(source, Model) else build_model(source, meth, zero_assumptions())
    scored = np.flatnonzero(model.w0 > 0)
    d = nominal_draws(model, len(scored) + 1)
    d.f[np.arange(1, len(scored) + 1), scored] = 0.0
    _, rank, tier = evaluate(model, d)
    both = (rank[1:] > 0) & (rank[:1] > 0)
    shift = np.where(both, np.abs(rank[1:].astype(np.int64) - rank[:1]), 0)
    changed = (tier[1:] != tier[:1]) & (tier[:1] < model.n_tiers)
    periods = model.rows["period"].to_numpy()
    long = pl.DataFrame({
        "indicator": np.repeat([model.indicators[k] for k in scored], model.n_rows),
        "period": np.tile(periods, len(scored)),
        "shift": shift.ravel(), "both": both.ravel(), "changed": changed.ravel(),
    })
    order = {model.indicators[k]: i for i, k in enumerate(scored)}
    return (
        long.group_by("period", "indicator")
        .agg(
            (pl.col("shift").filter(pl.col("both")).mean()).fill_null(0.0).alias("mean_abs_rank_shift"),
            pl.col("shift").max().alias("max_abs_rank_shift"),
            (pl.col("shift") > 0).sum().alias("units_moved"),
            pl.col("changed").sum().alias("tier_changes"),
            pl.col("both").sum().alias("units"),
        )
        .with_columns(pl.col("indicator").replace_strict(model.labels, return_dtype=pl.String).alias("label"),
                      pl.col("indicator").replace_strict(order, return_dtype=pl.Int32).alias("_o"))
        .sort("period", "_o").drop("_o")
        .select("period", "indicator", "label", "mean_abs_rank_shift", "max_abs_rank_shift", "units_moved",
                "tier_changes", "units")
    )


def draw_summaries(model: Model, d: Draws, nominal_rank: np.ndarray, nominal_tier: np.ndarray) -> np.ndarray:
    """Two scalar outputs per draw: mean |rank − nominal| over units ranked in both, and
    the share of nominally scored units whose tier differs (not scored counts as a change)."""
    _, rank, tier = evaluate(model, d)
    both = (rank > 0) & (nominal_rank[None, :] > 0)
    n = np.maximum(both.sum(axis=1), 1)
    shift = np.where(both, np.abs(rank.astype(np.int64) - nominal_rank[None, :]), 0).sum(axis=1) / n
    scored = nominal_tier < model.n_tiers
    changed = ((tier != nominal_tier[None, :]) & scored[None, :]).sum(axis=1) / max(int(scored.sum()), 1)
    return np.stack([shift, changed], axis=1)


OUTPUTS_VI = {
    "mean_abs_rank_shift": "Độ dịch hạng trung bình (bậc)",
    "tier_change_share": "Tỷ lệ đơn vị đổi xếp loại",
}


def sobol_indices(source: pl.DataFrame | Model, meth: Methodology | None = None, *, n: int = 512, seed: int = 0,
                  assumptions: Mapping[str, Any] | None = None, num_resamples: int = 100,
                  chunk: int | None = None) -> pl.DataFrame:
    """Variance-based (Sobol) first-order and total indices of the two draw summaries
    (`draw_summaries`) with respect to each uncertain input, with SALib
    (Saltelli/Sobol' sampling, ``n`` base samples, n × (inputs + 2) model runs).

    Categorical inputs (policies, listed thresholds) enter as U(0, 1) mapped to their
    alternatives, as in the Monte Carlo. Columns: output, output_label, input, label,
    kind, S1, S1_conf, ST, ST_conf (an output with no variance gives 0 indices).
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    model = source if isinstance(source, Model) else build_model(source, meth, assumptions)
    inputs = model.inputs
    empty = pl.DataFrame(schema={"output": pl.String, "output_label": pl.String, "input": pl.String,
                                 "label": pl.String, "kind": pl.String, "S1": pl.Float64, "S1_conf": pl.Float64,
                                 "ST": pl.Float64, "ST_conf": pl.Float64})
    if not inputs:
        return empty
    problem = {"num_vars": len(inputs), "names": [i.name for i in inputs], "bounds": [[0.0, 1.0]] * len(inputs)}
    X = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
    _, nom_rank, nom_tier = evaluate(model, nominal_draws(model))
    step = _chunk_size(model, chunk)
    with _blas_single_thread():
        Y = np.concatenate([draw_summaries(model, draws_from_unit(model, X[s:s + step]), nom_rank[0], nom_tier[0])
                            for s in range(0, X.shape[0], step)])
    frames = []
    for j, out in enumerate(OUTPUTS_VI):
        y = Y[:, j]
        if np.ptp(y) == 0:
            res = {k: np.zeros(len(inputs)) for k in ("S1", "S1_conf", "ST", "ST_conf")}
        else:
            res = sobol_analyze.analyze(problem, y, calc_second_order=False, num_resamples=num_resamples, seed=seed)
        frames.append(pl.DataFrame({
            "output": out, "output_label": OUTPUTS_VI[out],
            "input": [i.name for i in inputs], "label": [i.label for i in inputs], "kind": [i.kind for i in inputs],
            **{k: np.asarray(res[k], dtype=float) for k in ("S1", "S1_conf", "ST", "ST_conf")},
        }))
    return pl.concat(frames).sort("output", "ST", descending=[False, True])


# ---------------------------------------------------------------------------
# Stage: read a scored table, write the results
# ---------------------------------------------------------------------------
OUTPUT_FILES = {
    "summary": "uncertainty_units.parquet",
    "tiers": "uncertainty_tiers.parquet",
    "remove_one": "sensitivity_remove_one.parquet",
    "sobol": "sensitivity_sobol.parquet",
    "settings": "uncertainty.json",
}
PARAM_DEFAULTS = {"draws": 10_000, "seed": 20230324, "robust_probability": 0.8, "sobol_n": 1024,
                  "interval": [0.05, 0.95], "assumptions": {}}


def uncertainty_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``uncertainty`` block of ``params.yaml`` with its defaults."""
    return {**PARAM_DEFAULTS, **dict(params.get("uncertainty") or {})}


def run_study(source: pl.DataFrame, meth: Methodology, knobs: Mapping[str, Any]) -> dict[str, Any]:
    """Monte Carlo, remove-one and Sobol over one table with the ``uncertainty`` knobs."""
    k = {**PARAM_DEFAULTS, **dict(knobs)}
    assumptions = load_assumptions(meth.id, k.get("assumptions"), k.get("assumptions_file"))
    model = build_model(source, meth, assumptions)
    lo, hi = (float(x) for x in k["interval"])
    mc = monte_carlo(model, draws=int(k["draws"]), seed=int(k["seed"]), quantiles=(lo, 0.5, hi))
    ro = remove_one(model)
    so = None
    if int(k["sobol_n"]) > 0:
        try:
            so = sobol_indices(model, n=int(k["sobol_n"]), seed=int(k["seed"]))
        except ImportError:   # SALib not installed: the Monte Carlo and remove-one results still stand
            mc.settings["notes"].append("Chưa cài SALib: bỏ qua chỉ số Sobol.")
    mc.settings["robust_probability"] = float(k["robust_probability"])
    return {"summary": mc.summary, "tiers": mc.tiers, "remove_one": ro, "sobol": so, "settings": mc.settings,
            "seconds": mc.seconds}


def write_results(results: Mapping[str, Any], folder: str | Path) -> list[Path]:
    from .io import atomic_write_text, write_parquet

    folder = Path(folder)
    written = []
    for key, name in OUTPUT_FILES.items():
        value = results.get(key)
        if value is None:
            continue
        if key == "settings":
            written.append(atomic_write_text(folder / name, json.dumps(value, ensure_ascii=False, indent=1,
                                                                       sort_keys=True) + "\n"))
        else:
            written.append(write_parquet(value, folder / name))
    return written


def read_results(folder: str | Path) -> UncertaintyResult:
    """The Monte Carlo results a stage wrote (for reports: `chiso.reports.robustness`)."""
    folder = Path(folder)
    settings = json.loads((folder / OUTPUT_FILES["settings"]).read_text(encoding="utf-8"))
    return UncertaintyResult(summary=pl.read_parquet(folder / OUTPUT_FILES["summary"]),
                             tiers=pl.read_parquet(folder / OUTPUT_FILES["tiers"]), settings=settings)


def uncertainty_stage(table_id: str, params_file: str | Path = "params.yaml", root: str | Path = ".",
                      methodology_id: str = "") -> dict[str, Any]:
    """Stage function: uncertainty and sensitivity of a scored table.

    A published table (``data/processed/<id>/points.parquet``; results written next
    to it) or a period (``data/processed/periods/<YYYY-MM>/counts.parquet`` scored
    under `methodology_id`; results in ``uncertainty_<methodology>/`` of that
    folder). Knobs: block ``uncertainty`` of ``params.yaml`` (`uncertainty_params`).
    Writes ``OUTPUT_FILES`` and returns the results.
    """
    from .params import load_params
    from .whatif import load_source

    root = Path(root)
    source, meth, folder = load_source(table_id, methodology_id=methodology_id, params_file=params_file, root=root)
    out = folder if (folder / "points.parquet").exists() else folder / f"uncertainty_{meth.id}"
    results = run_study(source, meth, uncertainty_params(load_params(root / params_file)))
    write_results(results, out)
    return results


def tier_probability_table(tiers: pl.DataFrame) -> pl.DataFrame:
    """Unit × tier probabilities as one row per unit, one column per tier (best first)."""
    order = tiers.sort("tier_order")["tier"].unique(maintain_order=True).to_list()
    keys = [k for k in ROW_KEYS if k in tiers.columns]
    return tiers.pivot(on="tier", index=keys, values="probability").select(*keys, *order)


__all__ = [
    "ASSUMPTIONS_FILE", "Draws", "Input", "Model", "UncertaintyResult", "build_model", "converted_scores",
    "draw_summaries", "draws_from_unit", "evaluate", "exclude_no_dossier", "given_no_dossier_policy",
    "infer_no_dossier", "is_counts", "load_assumptions", "monte_carlo",
    "nominal", "nominal_draws", "ranks_and_tiers", "read_results", "remove_one", "run_study", "settings_of",
    "sobol_indices", "tier_probability_table", "uncertainty_params", "uncertainty_stage", "write_results",
    "zero_assumptions",
]


def main(argv: list[str] | None = None) -> int:
    """``python -m chiso.uncertainty TABLE_ID [--methodology M] [--params P] [--root R]`` (a DVC stage)."""
    from .cliparse import ArgumentParser

    p = ArgumentParser(prog="python -m chiso.uncertainty",
                       description="Độ vững của xếp loại: mô phỏng Monte Carlo, bỏ từng chỉ số, chỉ số Sobol.")
    p.add_argument("table_id", help="bảng đã công bố (data/processed/<id>/) hoặc kỳ YYYY-MM")
    p.add_argument("--methodology", default="", help="mã phương pháp (bắt buộc với một kỳ có nhiều phương pháp)")
    p.add_argument("--params", default="params.yaml", help="tệp tham số (mặc định: params.yaml)")
    p.add_argument("--root", default=".", help="gốc dự án (mặc định: thư mục hiện tại)")
    return p.run_command(argv, _command)


def _command(args) -> int:
    res = uncertainty_stage(args.table_id, args.params, args.root, args.methodology)
    from .numbers import fmt_count, fmt_num, fmt_units

    s = res["settings"]
    flagged = res["summary"].filter(pl.col("p_tier") < s["robust_probability"]).height
    print(f"{args.table_id}: {fmt_count(s['draws'])} lần mô phỏng, {fmt_units(s['rows'])} đơn vị; "
          f"{fmt_units(flagged)} đơn vị có xếp loại chưa vững (xác suất giữ xếp loại dưới "
          f"{fmt_num(100 * s['robust_probability'], 0, strip=True)} %); {fmt_num(res['seconds'], 2)} giây.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
