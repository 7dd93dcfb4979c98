"""Calibrated synthetic Điện Biên (SYNTHETIC DATA): monthly counts of every unit in force.

For each month ``YYYY-MM`` the generator writes, into ``<out>/<YYYY-MM>/``, the files an
analyst would drop there:

* ``portal_H18_<YYYY-MM>.json``: the national portal's per-unit JSON (the keys of the
  real Gia Lai capture, ``metadata.timeType = "month"``, ``metadata.synthetic = true``),
  for the departments, the communes/wards and, before 7/2025, the district People's
  Committees (``childGroup = "DISTRICT"``). Every metric score, group score, total
  and rank is computed by our own engine (``chiso.counts.indicator_points`` under
  ``qd766-2022``), so the file is self-consistent;
* ``bieu_mau_<YYYY-MM>.csv``: our counts template for the metric QĐ 459 needs that the
  portal JSON does not give (``online_submission``);
* ``period.yaml``: period, ``synthetic: true``, generator, version, seed, the
  "DỮ LIỆU MÔ PHỎNG" statement and the unit set in force.

Model (all parameters below, documented in docs/synthetic-data.md):

* units and their validity come from ``data/raw/units/registry.csv``; on 1/7/2025 the
  129 old communes and 10 districts end and the 45 new communes start; a new
  commune's volume is the sum of its predecessors' (crosswalk shares) plus 75 % of
  the abolished district's workload over its territory (the other 25 % goes to the
  departments), its quality traits the dossier-weighted mean of its predecessors';
* volumes: each class (departments 35 %, districts 25 %, communes 40 % of the 2024
  total) scaled so that the expected 2024 total is 262.675 dossiers (Sở Nội vụ,
  SIPAS/PAR INDEX 2024 analysis); heavy-tailed unit sizes; Tết dip, year-end peak,
  +1,5 %/year growth, a dip in 7–8/2025 (reorganisation); gamma-Poisson unit-month
  counts, so small units have months without dossiers;
* rates: unit-level logits with a yearly trend and unit-month noise (on-time share
  mostly 95–100 % with late dossiers concentrated in a few units; online submission
  widely spread; online payment near zero for many communes; digitisation low for
  communes in 2023 and rising);
* randomness: unit traits from ``(seed, "units")``, each month's draws from
  ``(seed, year, month)`` only, so the same seed gives the same month whatever the
  range generated, and byte-identical files.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from . import methodology as _methodology
from .cliparse import ArgumentParser
from .counts import indicator_points, normalize_counts
from .errors import InputError
from .numbers import round_half_up
from .periods import check_period
from .units import load_crosswalk, load_registry, units_valid_on

GENERATOR = "chiso.synth"
VERSION = "1.0.0"
DEFAULT_SEED = 20241
PROVINCE = "Điện Biên"
PROVINCE_CODE = "H18"
TARGET_YEARLY = 262_675          # dossiers of the province in 2024 (Sở Nội vụ, BC 661/BC-SNV)  [seed]
CLASS_SHARE = {"so_nganh": 0.35, "huyen": 0.25, "commune": 0.40}   # [assumed]
DISTRICT_TO_COMMUNES = 0.75      # share of an abolished district's workload moved to its new communes  [assumed]
GROWTH_PER_YEAR = 0.015          # [assumed]
REFORM = _dt.date(2025, 7, 1)
STATEMENT = ("DỮ LIỆU MÔ PHỎNG: số liệu do chương trình sinh ra (chiso.synth), hiệu chỉnh theo số liệu công khai "
             "của tỉnh Điện Biên; không phải số liệu thật của bất kỳ đơn vị nào.")
SYNTH_NOTE = "Số liệu mô phỏng (DỮ LIỆU MÔ PHỎNG)."

# Seasonality: calendar-month factors, then the Tết dip of each year (lunar new year).  [assumed]
MONTH_FACTOR = np.array([1.00, 1.00, 1.03, 0.98, 1.00, 0.99, 0.97, 0.96, 1.00, 1.03, 1.06, 1.16])
TET = {2023: {1: 0.75, 2: 0.90}, 2024: {2: 0.70}, 2025: {1: 0.78, 2: 0.88}, 2026: {2: 0.72},
       2027: {2: 0.72}, 2028: {1: 0.75, 2: 0.90}}
TRANSITION = {(2025, 7): 0.88, (2025, 8): 0.95}          # reorganisation dip  [assumed]
LATE_TRANSITION = {(2025, 7): 3.0, (2025, 8): 2.0, (2025, 9): 1.5}   # late dossiers of new communes  [assumed]

# Relative yearly volume of the departments (by registry code) and districts.  [assumed]
DEPT_WEIGHT = {
    "H18.01": 1.5, "H18.02": 9.0, "H18.03": 5.0, "H18.04": 0.6, "H18.05": 2.5, "H18.06": 2.5, "H18.07": 16.0,
    "H18.08": 3.0, "H18.09": 30.0, "H18.10": 0.8, "H18.11": 6.0, "H18.12": 1.2, "H18.13": 0.5, "H18.14": 3.0,
    "H18.15": 5.0, "H18.16": 0.15, "H18.17": 0.05, "H18.18": 0.02, "H18.19": 0.3, "H18.20": 10.0,
}
DISTRICT_WEIGHT = {"H18.D01": 3.0, "H18.D02": 0.4, "H18.D03": 0.8, "H18.D04": 0.8, "H18.D05": 0.7,
                   "H18.D06": 1.3, "H18.D07": 1.6, "H18.D08": 0.8, "H18.D09": 0.8, "H18.D10": 0.8}
COMMUNE_DISTRICT_FACTOR = {"H18.D01": 1.5, "H18.D07": 1.3, "H18.D03": 0.7, "H18.D10": 0.7}
COMMUNE_LEVEL_FACTOR = {"phuong": 3.0, "thi_tran": 2.0, "xa": 1.0}

# Unit-level logit means/sds by class (departments, districts, communes) and yearly trend.  [assumed]
LOGIT = {
    #               so_nganh     huyen        commune      trend/yr
    "online":     ((1.5, 1.2), (0.8, 1.2), (0.8, 1.6), 0.35),
    "pay":        ((0.5, 1.0), (0.0, 1.0), (-0.3, 1.2), 0.50),
    "e_result":   ((2.0, 1.0), (1.5, 1.0), (1.0, 1.5), 0.30),
    "digitised":  ((2.6, 0.8), (1.8, 0.8), (0.5, 1.3), 1.20),
    "reuse":      ((1.0, 1.0), (0.6, 1.0), (0.2, 1.2), 0.40),
    "storage":    ((-2.5, 1.0), (-3.0, 1.0), (-3.5, 1.2), 0.60),
    "citizen":    ((-0.8, 0.8), (-1.0, 0.8), (-1.2, 1.0), 0.50),
    "sync":       ((4.0, 0.8), (3.5, 0.8), (3.5, 1.0), 0.20),
    "satisfied":  ((5.0, 0.8), (5.0, 0.8), (5.0, 1.0), 0.10),
    "online_q":   ((1.2, 0.8), (0.8, 0.8), (0.5, 1.0), 0.30),
    "pay_form":   ((0.0, 1.0), (-0.5, 1.0), (-1.0, 1.2), 0.60),
    "cit_form":   ((-2.0, 0.6), (-2.2, 0.6), (-2.4, 0.6), 0.80),
}
PAY_ZERO_SHARE = 0.45            # communes whose online payment is practically nil  [assumed]
LATE_CLASSES = (np.array([0.75, 0.17, 0.08]), np.array([0.002, 0.012, 0.06]))   # share of units, late rate
LATE_TREND = -0.20               # late rate × exp(LATE_TREND × years)
PETITIONS = {"so_nganh": 0.30, "huyen": 0.40, "commune": 0.04}                  # PAKN per unit-month
FIN_SHARE = {"so_nganh": (0.20, 0.70), "huyen": (0.30, 0.60), "commune": (0.15, 0.45)}
PROCEDURES = {"so_nganh": (30, 220), "huyen": (180, 260), "commune": (95, 130)}
GAMMA_SHAPE = 15.0               # unit-month volume overdispersion (cv ≈ 26 %)
NEW_COMMUNE_JITTER = 0.5      # sd of a new commune's logits around its predecessors' weighted mean  [assumed]

METRIC_NAMES = {
    "PUBLISH_ON_TIME": "Tỷ lệ TTHC công bố đúng hạn",
    "PUBLIC_UPDATE_ON_TIME": "Tỷ lệ TTHC cập nhật, công khai đúng hạn",
    "PUBLIC_CONTENT_FULL": "Tỷ lệ TTHC công khai đầy đủ nội dung",
    "DOSSIER_SYNC": "Tỷ lệ hồ sơ đồng bộ lên Cổng DVCQG",
    "ORIGINAL_RESULT_AVAILABLE": "Tỷ lệ hồ sơ thủ tục hành chính có cấp kết quả giải quyết thủ tục hành chính điện tử",
    "SO_HOA_GIAY_TO_GIAI_QUYET": "Tỷ lệ hồ sơ thủ tục hành chính thực hiện số hóa hồ sơ",
    "REUSED_DIGITIZED_DATA": "Tỷ lệ hồ sơ khai thác, sử dụng lại thông tin, dữ liệu số hóa",
    "SYNCED_WITH_DVCQG_PERSONAL_STORAGE": "Tỷ lệ hồ sơ TTHC được số hóa có kết nối, chia sẻ dữ liệu phục vụ tái sử dụng",
    "CITIZEN_DATA_CONNECTED_DOSSIER": "Tỷ lệ hồ sơ TTHC có sử dụng thông tin, dữ liệu dân cư",
    "CITIZEN_DATA_CONNECTED_FORMALITY": "Tỷ lệ TTHC triển khai kết nối, chia sẻ dữ liệu dân cư phục vụ GQ TTHC",
    "ELECTRONIC_CERTIFIED_COPY": "Tỷ lệ cung cấp dịch vụ chứng thực bản sao điện tử từ bản chính",
    "PETITION_CLASSIFICATION_TTHC": "Tỷ lệ PAKN về quy định, thủ tục hành chính",
    "DOSSIER_RECEIVING_SATISFACTION": "Tỷ lệ hài lòng trong tiếp nhận, giải quyết TTHC",
    "PETITION_PROCESSING_ON_TIME": "Tỷ lệ PAKN xử lý đúng hạn",
    "PETITION_HANDLING_SATISFACTION": "Tỷ lệ hài lòng trong xử lý PAKN",
    "PETITION_CLASSIFICATION_STAFF": "Tỷ lệ PAKN về hành vi cán bộ, công chức, viên chức",
}
# Portal metric code → (counts indicator, numerator column, denominator column) of the month frame.
PORTAL_METRICS = {
    "CKMB": [("PUBLISH_ON_TIME", "publish_on_time", "pub_num", "pub_den"),
             ("PUBLIC_UPDATE_ON_TIME", "public_update_on_time", "upd_num", "upd_den"),
             ("PUBLIC_CONTENT_FULL", "public_content_full", "full_num", "upd_den"),
             ("DOSSIER_SYNC", "dossier_sync", "sync_num", "sync_den")],
    "MDSH": [("ORIGINAL_RESULT_AVAILABLE", "e_result", "e_result", "received"),
             ("SO_HOA_GIAY_TO_GIAI_QUYET", "digitised", "digitised", "received"),
             ("REUSED_DIGITIZED_DATA", "reused_digitized_data", "reused", "received"),
             ("SYNCED_WITH_DVCQG_PERSONAL_STORAGE", "synced_with_dvcqg_personal_storage", "storage", "received"),
             ("CITIZEN_DATA_CONNECTED_DOSSIER", "citizen_data_connected_dossier", "citizen", "received"),
             ("CITIZEN_DATA_CONNECTED_FORMALITY", "citizen_data_connected_formality", "cit_form_num", "procedures"),
             ("ELECTRONIC_CERTIFIED_COPY", "electronic_certified_copy", None, None)],
    "MDHL": [("PETITION_CLASSIFICATION_TTHC", "petition_classification_tthc", "pet_tthc", "petitions"),
             ("DOSSIER_RECEIVING_SATISFACTION", "dossier_satisfaction", "satisfied", "received"),
             ("PETITION_PROCESSING_ON_TIME", "petition_on_time", "pet_on_time", "petitions"),
             ("PETITION_HANDLING_SATISFACTION", "petition_satisfaction", "pet_sat_num", "pet_sat_den"),
             ("PETITION_CLASSIFICATION_STAFF", "petition_classification_staff", "pet_staff", "petitions")],
}
GROUP_KEYS = {"CKMB": "CKMB_CongKhaiMinhBach", "TDGQ": "TDGQ_TienDoGiaiQuyet", "MDSH": "MDSH_SoHoaHoSo",
              "ONLINE": "ONLINE_DichVuTrucTuyen", "TTTT": "TTTT_ThanhToanTrucTuyen", "MDHL": "MDHL_MucDoHaiLong"}
COMPONENT_ORDER = ("TDGQ", "CKMB", "MDSH", "ONLINE", "TTTT", "MDHL")   # as in the capture
GROUP_ORDER = ("CKMB", "TDGQ", "ONLINE", "TTTT", "MDSH", "MDHL")
CHILD_GROUP = {"so_nganh": "AGENCY", "huyen": "DISTRICT", "xa": "COMMUNE", "phuong": "COMMUNE", "thi_tran": "COMMUNE"}
SYNC_STATUS = ("TEMP_NATIONAL_REPORT_DENOMINATOR",
               "Mẫu số BCQG/GRIS đang dùng số tạm, cần thay bằng dữ liệu crawl hệ thống cũ.")
SYNC_EMPTY = ("NO_NATIONAL_REPORT_DATA", "Không có dữ liệu báo cáo tổng hợp.")
TEMPLATE_HEADER = ["Kỳ", "Mã đơn vị", "Tên đơn vị", "Nhóm đơn vị", "Chỉ tiêu", "Tử số", "Mẫu số", "Ghi chú"]


# ---------------------------------------------------------------------------
# Periods and randomness
# ---------------------------------------------------------------------------
def seeded_rng(seed: int, *stream: int) -> np.random.Generator:
    """An independent random stream per (seed, stream numbers): the same draws on every run."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), *stream])))


def period_range(start: str, end: str) -> list[str]:
    """Every month ``YYYY-MM`` from ``start`` to ``end`` inclusive."""
    y0, m0 = map(int, check_period(start).split("-"))
    y1, m1 = map(int, check_period(end).split("-"))
    first, last = y0 * 12 + m0 - 1, y1 * 12 + m1 - 1
    if last < first:
        raise InputError(f"Tháng cuối {end} ở trước tháng đầu {start}.", f"End {end} before start {start}.",
                         rule="period_order")
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(first, last + 1)]


def _last_day(period: str) -> _dt.date:
    y, m = map(int, period.split("-"))
    return _dt.date(y + (m == 12), m % 12 + 1, 1) - _dt.timedelta(days=1)


def _years(period: str) -> float:
    y, m = map(int, period.split("-"))
    return (y - 2024) + (m - 1) / 12


def volume_factor(period: str) -> float:
    """Seasonality × growth × reorganisation dip of a month (1 = an average 2024 month)."""
    y, m = map(int, period.split("-"))
    f = MONTH_FACTOR[m - 1] * TET.get(y, {2: 0.72}).get(m, 1.0)
    return float(f * (1 + GROWTH_PER_YEAR) ** _years(period) * TRANSITION.get((y, m), 1.0))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------------------
# Unit traits
# ---------------------------------------------------------------------------
def _class_of(level: np.ndarray) -> np.ndarray:
    return np.where(level == "so_nganh", "so_nganh", np.where(level == "huyen", "huyen", "commune"))


def unit_traits(registry: pl.DataFrame, crosswalk: pl.DataFrame, seed: int = DEFAULT_SEED) -> pl.DataFrame:
    """Per registry unit: expected monthly volume (``base``, an average 2024 month) and
    the latent quality traits of the generator. New communes inherit the
    dossier-weighted traits of their predecessors."""
    rng = seeded_rng(seed, 1)
    n = registry.height
    codes = registry["unit_code"].to_numpy()
    level = registry["level"].to_numpy()
    cls = _class_of(level)
    parent = registry["parent_code"].to_numpy()
    is_new = (registry["valid_from"] >= REFORM).to_numpy() & (cls == "commune")
    is_old = ~is_new

    # Volumes: heavy-tailed within each class, class totals calibrated to the 2024 target.
    noise = rng.lognormal(0.0, 1.0, n)
    w = np.zeros(n)
    dept = cls == "so_nganh"
    w[dept] = np.array([DEPT_WEIGHT.get(c, 1.0) for c in codes[dept]]) * rng.lognormal(0, 0.15, dept.sum())
    dist = cls == "huyen"
    w[dist] = np.array([DISTRICT_WEIGHT.get(c, 1.0) for c in codes[dist]]) * rng.lognormal(0, 0.15, dist.sum())
    com = (cls == "commune") & is_old
    w[com] = (noise[com] ** 0.9 * np.array([COMMUNE_LEVEL_FACTOR[lv] for lv in level[com]])
              * np.array([COMMUNE_DISTRICT_FACTOR.get(p, 1.0) for p in parent[com]]))
    s2024 = sum(volume_factor(p) for p in period_range("2024-01", "2024-12"))
    base = np.zeros(n)
    for key, mask in (("so_nganh", dept), ("huyen", dist), ("commune", com)):
        base[mask] = CLASS_SHARE[key] * TARGET_YEARLY / s2024 * w[mask] / w[mask].sum()

    traits: dict[str, np.ndarray] = {}
    cls_index = np.select([cls == "so_nganh", cls == "huyen"], [0, 1], 2)
    for name, (*params, _trend) in LOGIT.items():
        mu = np.array([params[i][0] for i in cls_index])
        sd = np.array([params[i][1] for i in cls_index])
        traits[name] = rng.normal(mu, sd)
    nil_pay = (cls == "commune") & (rng.random(n) < PAY_ZERO_SHARE)
    traits["pay"] = np.where(nil_pay, rng.normal(-4.0, 0.6, n), traits["pay"])
    late_class = rng.choice(3, size=n, p=LATE_CLASSES[0])
    traits["late"] = LATE_CLASSES[1][late_class] * rng.lognormal(0, 0.3, n)
    lo, hi = np.array([FIN_SHARE[c][0] for c in cls]), np.array([FIN_SHARE[c][1] for c in cls])
    traits["fin"] = rng.uniform(lo, hi)
    lo, hi = np.array([PROCEDURES[c][0] for c in cls]), np.array([PROCEDURES[c][1] for c in cls])
    traits["procedures"] = rng.integers(lo, hi + 1).astype(float)
    traits["fee_share"] = rng.uniform(0.08, 0.20, n)
    traits["certified_copy"] = np.where(cls == "commune", (rng.random(n) < 0.8).astype(float), 1.0)
    traits["days"] = rng.gamma(4.0, 0.9, n)
    traits["petitions"] = np.array([PETITIONS[c] for c in cls]) * rng.lognormal(0, 0.5, n)

    frame = pl.DataFrame({"unit_code": codes, "base": base, **traits})
    new_codes = codes[is_new]
    if new_codes.size:
        frame = _inherit(frame, registry, crosswalk, new_codes, rng)
    return frame


def _inherit(frame: pl.DataFrame, registry: pl.DataFrame, crosswalk: pl.DataFrame, new_codes: np.ndarray,
             rng: np.random.Generator) -> pl.DataFrame:
    """New communes: volume = Σ share × predecessor + 75 % of the district workload over
    their territory; traits = dossier-weighted mean of the predecessors' traits."""
    old = (crosswalk.select("old_code", "new_code", "share")
           .join(frame, left_on="old_code", right_on="unit_code", how="inner")
           .join(registry.select(pl.col("unit_code").alias("old_code"), pl.col("parent_code").alias("district")),
                 on="old_code", how="left"))
    wb = pl.col("base") * pl.col("share")
    district_total = frame.select("unit_code", pl.col("base").alias("district_base"))
    old = (old.with_columns(wb.alias("_w"))
           .with_columns((pl.col("_w") / pl.col("_w").sum().over("district")).alias("_district_share"))
           .join(district_total, left_on="district", right_on="unit_code", how="left"))
    trait_cols = [c for c in frame.columns if c not in ("unit_code", "base")]
    agg = old.group_by("new_code").agg(
        (pl.col("_w").sum() + DISTRICT_TO_COMMUNES * (pl.col("_district_share") * pl.col("district_base").fill_null(0)).sum())
        .alias("base"),
        *[((pl.col(c) * pl.col("_w")).sum() / pl.col("_w").sum()).alias(c) for c in trait_cols],
    )
    order = pl.DataFrame({"new_code": new_codes})
    agg = order.join(agg, on="new_code", how="left")
    jitter = {c: rng.normal(0.0, NEW_COMMUNE_JITTER, len(new_codes)) for c in LOGIT}
    agg = agg.with_columns(
        *[(pl.col(c) + pl.Series(jitter[c])).alias(c) for c in LOGIT],
        pl.col("procedures").round(0) + 30.0,              # procedures devolved from the districts
        pl.col("certified_copy").round(0).clip(0, 1),
    ).rename({"new_code": "unit_code"}).select(frame.columns)
    return pl.concat([frame.filter(~pl.col("unit_code").is_in(list(new_codes))), agg]).join(
        frame.select("unit_code").with_row_index("_o"), on="unit_code").sort("_o").drop("_o")


def department_uplift(traits: pl.DataFrame, registry: pl.DataFrame) -> float:
    """Factor on department volumes after the reform (the districts' remaining workload)."""
    lv = registry.select("unit_code", "level").join(traits.select("unit_code", "base"), on="unit_code")
    dist = lv.filter(pl.col("level") == "huyen")["base"].sum()
    dept = lv.filter(pl.col("level") == "so_nganh")["base"].sum()
    return 1.0 + (1.0 - DISTRICT_TO_COMMUNES) * dist / dept


# ---------------------------------------------------------------------------
# One month
# ---------------------------------------------------------------------------
def simulate_month(period: str, registry: pl.DataFrame, traits: pl.DataFrame, seed: int = DEFAULT_SEED) -> pl.DataFrame:
    """The month's counts, one row per unit in force (wide), from (seed, period) only."""
    y, m = map(int, period.split("-"))
    rng = seeded_rng(seed, 2, y, m)
    units = units_valid_on(registry, _last_day(period)).select("unit_code", "unit_name", "level", "unit_group")
    t = traits.join(units, on="unit_code", how="inner", maintain_order="right")
    n = t.height
    g = lambda c: t[c].to_numpy().astype(float)  # noqa: E731
    years = _years(period)
    cls = _class_of(t["level"].to_numpy())
    new_commune = _last_day(period) >= REFORM

    mu = g("base") * volume_factor(period)
    if new_commune:
        mu = np.where(cls == "so_nganh", mu * department_uplift(traits, registry), mu)
    received = rng.poisson(mu * rng.gamma(GAMMA_SHAPE, 1.0 / GAMMA_SHAPE, n))

    def rate(name: str, sd: float = 0.15) -> np.ndarray:
        return _sigmoid(g(name) + LOGIT[name][3] * years + rng.normal(0.0, sd, n))

    late_mult = LATE_TRANSITION.get((y, m), 1.0) if new_commune else 1.0
    p_late = np.clip(g("late") * np.exp(LATE_TREND * years) * rng.lognormal(0, 0.5, n)
                     * np.where(cls == "commune", late_mult, 1.0), 0, 0.5)
    overdue = rng.binomial(received, p_late)
    online = rng.binomial(received, rate("online"))
    fin = rng.binomial(received, np.clip(g("fin"), 0, 1))
    paid = rng.binomial(fin, rate("pay"))
    e_result = rng.binomial(received, rate("e_result"))
    digitised = rng.binomial(received, rate("digitised"))
    reused = rng.binomial(received, rate("reuse"))
    storage = rng.binomial(received, rate("storage"))
    citizen = rng.binomial(received, rate("citizen"))
    sync_den = received - rng.binomial(received, 0.02)
    sync_num = rng.binomial(sync_den, rate("sync"))
    satisfied = rng.binomial(received, rate("satisfied", 0.3))
    procedures = np.maximum(1, np.round(g("procedures") * (1 + 0.02 * years))).astype(np.int64)
    fee = np.maximum(1, np.round(procedures * g("fee_share"))).astype(np.int64)
    pay_form = rng.binomial(fee, rate("pay_form", 0.05))
    cit_form = rng.binomial(procedures, rate("cit_form", 0.05))
    petitions = rng.poisson(g("petitions"))
    pet_on_time = rng.binomial(petitions, 0.93)
    pet_sat_den = rng.binomial(petitions, 0.6)
    pet_sat_num = rng.binomial(pet_sat_den, 0.85)
    pet_tthc = rng.binomial(petitions, 0.5)
    pet_staff = rng.binomial(petitions - pet_tthc, 0.2)
    days = np.where(received > 0, np.round(g("days") * rng.lognormal(0, 0.2, n), 2), 0.0)
    online_q = rate("online_q", 0.1)
    # Province-level procedure publication figures: the same for every unit (as on the portal).
    pub_den = int(rng.poisson(25) + 5)
    pub_num = int(rng.binomial(pub_den, 0.9))
    upd_den = int(rng.poisson(60) + 20)
    upd_num = int(rng.binomial(upd_den, 0.93))
    full_num = int(rng.binomial(upd_den, 0.985))

    has = received > 0
    share_online = np.where(has, online / np.maximum(received, 1), 0.0)
    online_score = np.where(has, np.round(12 * np.clip(0.55 * share_online + 0.45 * online_q, 0, 1), 2), 0.0)
    pay_ratio = np.where(fin > 0, paid / np.maximum(fin, 1), 0.0)
    tttt_score = np.where(fin > 0, np.round(10 * np.clip(0.5 * pay_ratio + 0.3 * pay_form / fee + 0.2 * online_q, 0, 1), 2), 0.0)
    return pl.DataFrame({
        "period": period, "unit_code": t["unit_code"], "unit_name": t["unit_name"], "level": t["level"],
        "unit_group": t["unit_group"],
        "received": received, "on_time": received - overdue, "overdue": overdue, "online": online,
        "fin": fin, "paid": paid, "e_result": e_result, "digitised": digitised, "reused": reused,
        "storage": storage, "citizen": citizen, "sync_num": sync_num, "sync_den": sync_den,
        "satisfied": satisfied, "procedures": procedures, "fee": fee, "pay_form": pay_form,
        "cit_form_num": cit_form, "petitions": petitions, "pet_on_time": pet_on_time,
        "pet_sat_num": pet_sat_num, "pet_sat_den": pet_sat_den, "pet_tthc": pet_tthc, "pet_staff": pet_staff,
        "avg_days": days, "online_score": online_score, "tttt_score": tttt_score,
        "certified_copy": np.round(g("certified_copy") * 100, 2),
        "pub_num": pub_num, "pub_den": pub_den, "upd_num": upd_num, "upd_den": upd_den, "full_num": full_num,
    }).with_columns(pl.col(pl.Int32, pl.Int64, pl.UInt32, pl.UInt64).cast(pl.Int64))


def simulate(start: str = "2024-01", end: str = "2026-10", seed: int = DEFAULT_SEED, root: str | Path = ".") -> pl.DataFrame:
    """The wide month frames of a range (no files, no scoring): for calibration checks."""
    registry = load_registry(root)
    traits = unit_traits(registry, load_crosswalk(root), seed)
    return pl.concat([simulate_month(p, registry, traits, seed) for p in period_range(start, end)])


# ---------------------------------------------------------------------------
# Counts, scores and files
# ---------------------------------------------------------------------------
def month_counts(month: pl.DataFrame) -> pl.DataFrame:
    """The month as a counts table (what ``read_counts`` gives for the JSON + the CSV)."""
    def metric(code: str, num: str | None, den: str | None, score: pl.Expr | None = None,
               smax: float | None = None, cond: pl.Expr | None = None) -> pl.DataFrame:
        return month.select(
            "period", "unit_code", "unit_name", "unit_group", pl.lit(code).alias("indicator"),
            (pl.col(num).cast(pl.Float64) if num else pl.lit(None, dtype=pl.Float64)).alias("numerator"),
            (pl.col(den).cast(pl.Float64) if den else pl.lit(None, dtype=pl.Float64)).alias("denominator"),
            (score if score is not None else pl.lit(None, dtype=pl.Float64)).cast(pl.Float64).alias("source_score"),
            pl.lit(smax, dtype=pl.Float64).alias("source_max"),
            (cond if cond is not None else pl.lit(num is not None)).alias("available"),
        )
    frames = [metric("dossiers_received", "received", None), metric("on_time", "on_time", "received"),
              metric("online_submission", "online", "received"),
              metric("online_payment", "paid", "fin"), metric("online_payment_formality", "pay_form", "fee"),
              metric("group_online", None, None, pl.col("online_score"), 12.0, pl.lit(False)),
              metric("group_tttt", None, None, pl.col("tttt_score"), 10.0, pl.lit(False)),
              metric("electronic_certified_copy", None, None, pl.col("certified_copy") / 50.0, 2.0, pl.lit(False))]
    for group in PORTAL_METRICS.values():
        for code, indicator, num, den in group:
            if num:
                frames.append(metric(indicator, num, den))
    return normalize_counts(pl.concat(frames, how="vertical_relaxed"))


def _pct(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den == 0:
        return None
    return round_half_up(num / den * 100, 2)


def _uuid(*parts: Any) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "chiso-synth:" + ":".join(str(p) for p in parts)))


def portal_document(month: pl.DataFrame, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """The national portal's JSON for the month, scored by our QĐ 766 engine."""
    period = month["period"][0]
    y, m = map(int, period.split("-"))
    meth = _methodology.load("qd766-2022")
    pts = indicator_points(month_counts(month), meth)
    p = {(r["unit_code"], r["indicator"]): r for r in pts.select(
        "unit_code", "indicator", "group", "points", "spec_max").iter_rows(named=True)}
    extracted = _last_day(period) + _dt.timedelta(days=1)
    group_max = {g: int(meth.group_max(g)) for g in GROUP_ORDER}   # printed as integers, as on the portal
    units = []
    for row in month.iter_rows(named=True):
        code = row["unit_code"]
        pts_of = lambda ind: p[(code, ind)]["points"]  # noqa: E731
        comps: dict[str, Any] = {}
        groups: dict[str, float] = {}
        received = row["received"]
        on_time_pts = pts_of("on_time")
        comps["TDGQ"] = {"totalReceived": received, "totalOnTime": row["on_time"], "totalOverdue": row["overdue"],
                         "avgProcessingDays": row["avg_days"], "ratio": _pct(row["on_time"], received) or 0,
                         "score": on_time_pts, "maxScore": group_max["TDGQ"]}
        groups["TDGQ"] = on_time_pts
        for gcode in ("CKMB", "MDSH", "MDHL"):
            metrics, total = [], 0.0
            for mcode, ind, num_c, den_c in PORTAL_METRICS[gcode]:
                num = row[num_c] if num_c else None
                den = row[den_c] if den_c else None
                spec_max = p[(code, ind)]["spec_max"]
                score = pts_of(ind)
                ratio = _pct(num, den)
                if ind == "electronic_certified_copy":
                    ratio = row["certified_copy"]
                elif den == 0:
                    full = meth.indicator(ind).rule.get("zero_denominator") == "full"
                    ratio = 0 if (full or gcode == "MDHL") else None
                    score = score if (full or ind == "dossier_satisfaction") else None
                if spec_max == 0:
                    score = None
                entry = {"code": mcode, "name": METRIC_NAMES[mcode], "numerator": num, "denominator": den,
                         "ratio": ratio, "score": score, "maxScore": int(spec_max)}
                if ind == "dossier_sync":
                    status = SYNC_EMPTY if den == 0 else (SYNC_STATUS if (y, m) < (2025, 7) else None)
                    if status:
                        entry["dataQualityStatus"], entry["dataQualityMessage"] = status
                metrics.append(entry)
                total += score or 0.0
            gmax = group_max[gcode]
            total = round_half_up(total, 2)
            comp: dict[str, Any] = {"score": total, "maxScore": gmax, "ratio": round_half_up(total / gmax * 100, 2)}
            if gcode == "MDHL":
                comp.update({"totalPetitions": row["petitions"], "classifiedPetitions": row["pet_tthc"] + row["pet_staff"],
                             "totalDossiers": received, "averageScore": None})
            comp["metrics"] = metrics
            comps[gcode] = comp
            groups[gcode] = total
        online = pts_of("online_service")
        comps["ONLINE"] = {"score": online, "maxScore": group_max["ONLINE"],
                           "ratio": round_half_up(online / group_max["ONLINE"] * 100, 2)}
        groups["ONLINE"] = online
        tttt = pts_of("online_payment_group")
        comps["TTTT"] = {"score": tttt, "maxScore": group_max["TTTT"],
                         "ratio": round_half_up(tttt * (100 / group_max["TTTT"]), 2),
                         "totalDossierOnlinePaymentSuccess": row["paid"], "totalDossierFinancialObligation": row["fin"],
                         "totalDossierOnlineFormalityPaymentSuccess": row["pay_form"], "totalFeeFormality": row["fee"]}
        groups["TTTT"] = tttt
        total = round_half_up(sum(groups.values()), 2)
        name = row["unit_name"] + (f" - tỉnh {PROVINCE}" if row["level"] == "so_nganh" else "")
        units.append({
            "departmentId": _uuid(PROVINCE_CODE, code), "departmentName": name, "departmentCode": code,
            "childGroup": CHILD_GROUP[row["level"]], "totalScore": total, "ratio": total, "scoreDelta": None,
            "groupScores": {g: round_half_up(groups[g], 2) for g in GROUP_ORDER},
            "componentIndicators": {GROUP_KEYS[g]: comps[g] for g in COMPONENT_ORDER},
        })
    units.sort(key=lambda u: (-u["totalScore"], u["departmentCode"]))
    group_pos: dict[str, int] = {}
    for i, u in enumerate(units, start=1):
        group_pos[u["childGroup"]] = group_pos.get(u["childGroup"], 0) + 1
        u["rank"], u["groupRank"] = i, group_pos[u["childGroup"]]
    overall = round_half_up(float(np.mean([u["totalScore"] for u in units])), 2)
    return {
        "metadata": {
            "province": f"UBND tỉnh {PROVINCE}", "provinceCode": PROVINCE_CODE,
            "rootDepartmentId": _uuid(PROVINCE_CODE), "runDateStr": extracted.strftime("%d%m%Y"),
            "timeType": "month", "year": y, "period": m, "periodLabel": f"Tháng {m} năm {y}",
            "extractedAt": f"{extracted.isoformat()}T07:00:00Z",
            "synthetic": True, "generator": f"{GENERATOR} {VERSION}", "seed": seed, "note": STATEMENT,
        },
        "overview": {"departmentName": f"UBND tỉnh {PROVINCE}", "departmentCode": PROVINCE_CODE,
                     "totalScore": overall, "totalMaxScore": 100, "ratio": overall},
        "totalUnitsCount": len(units),
        "agencyCount": sum(u["childGroup"] == "AGENCY" for u in units),
        "communeCount": sum(u["childGroup"] == "COMMUNE" for u in units),
        "unitsDetail": units,
    }


def template_frame(month: pl.DataFrame) -> pl.DataFrame:
    """Our counts template for the metrics the portal JSON lacks (online submission)."""
    return month.select(
        pl.col("period").alias("Kỳ"), pl.col("unit_code").alias("Mã đơn vị"), pl.col("unit_name").alias("Tên đơn vị"),
        pl.col("unit_group").alias("Nhóm đơn vị"), pl.lit("online_submission").alias("Chỉ tiêu"),
        pl.col("online").alias("Tử số"), pl.col("received").alias("Mẫu số"), pl.lit(SYNTH_NOTE).alias("Ghi chú"),
    )


def period_yaml(period: str, month: pl.DataFrame, seed: int, files: list[str]) -> str:
    counts = {lv: int(month.filter(pl.col("level") == lv).height) for lv in ("so_nganh", "huyen", "xa", "phuong", "thi_tran")}
    no_dossier = month.filter(pl.col("received") == 0)["unit_code"].to_list()
    q = lambda s: json.dumps(s, ensure_ascii=False)  # noqa: E731  (a JSON string is a valid YAML scalar)
    lines = [
        f"# {STATEMENT}",
        f"period: {q(period)}",
        "synthetic: true",
        f"statement: {q(STATEMENT)}",
        "generator:",
        f"  name: {GENERATOR}",
        f"  version: {q(VERSION)}",
        f"  seed: {seed}",
        f"  command: {q(f'python -m chiso.synth --seed {seed} --start {period} --end {period} --out data/raw')}",
        "  docs: docs/synthetic-data.md",
        f"province: {{name: {q(PROVINCE)}, code: {PROVINCE_CODE}}}",
        "files:",
        *[f"  - {f}" for f in files],
        "units_in_force:",
        "  registry: data/raw/units/registry.csv",
        f"  valid_on: {q(_last_day(period).isoformat())}",
        f"  reform_2025: {q('sau 01/7/2025: 45 xã, phường mới' if _last_day(period) >= REFORM else 'trước 01/7/2025: 129 xã, phường, thị trấn và 10 huyện')}",
        *[f"  {k}: {v}" for k, v in counts.items()],
        f"  total: {month.height}",
        f"  codes: [{', '.join(month['unit_code'].to_list())}]",
        "totals:",
        f"  dossiers_received: {int(month['received'].sum())}",
        f"  dossiers_overdue: {int(month['overdue'].sum())}",
        f"  units_without_dossiers: [{', '.join(no_dossier)}]",
        "calibration:",
        f"  target_yearly_dossiers: {TARGET_YEARLY}",
        f"  source: {q('Báo cáo 661/BC-SNV ngày 10/4/2025 của Sở Nội vụ tỉnh Điện Biên (PAR INDEX 2024, tiêu chí 7.3.4: 262.675 hồ sơ TTHC năm 2024)')}",
    ]
    return "\n".join(lines) + "\n"


def write_month(period: str, out: str | Path, registry: pl.DataFrame, traits: pl.DataFrame,
                seed: int = DEFAULT_SEED) -> Path:
    """Generate one month into ``<out>/<period>/`` (written in a temporary folder, then moved)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    month = simulate_month(period, registry, traits, seed)
    doc = portal_document(month, seed)
    json_name, csv_name = f"portal_{PROVINCE_CODE}_{period}.json", f"bieu_mau_{period}.csv"
    tmp = Path(tempfile.mkdtemp(prefix=f".{period}.", dir=out))
    try:
        (tmp / json_name).write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
        template_frame(month).write_csv(tmp / csv_name, line_terminator="\n")
        (tmp / "period.yaml").write_text(period_yaml(period, month, seed, [json_name, csv_name]), encoding="utf-8")
        os.chmod(tmp, 0o755)
        target = out / period
        old = None
        if target.exists():
            old = out / f".{period}.old-{os.getpid()}"
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / period


def generate(out: str | Path = "data/raw", start: str = "2024-01", end: str = "2026-10", seed: int = DEFAULT_SEED,
             root: str | Path = ".", verbose: bool = False) -> list[Path]:
    """Generate every month from ``start`` to ``end`` into ``<out>/<YYYY-MM>/``."""
    registry = load_registry(root)
    traits = unit_traits(registry, load_crosswalk(root), seed)
    written = []
    for period in period_range(start, end):
        written.append(write_month(period, out, registry, traits, seed))
        if verbose:
            print(f"{period}: {written[-1]}", file=sys.stderr)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(prog="python -m chiso.synth",
                        description="Sinh dữ liệu mô phỏng tỉnh Điện Biên (DỮ LIỆU MÔ PHỎNG) theo tháng.")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"hạt giống ngẫu nhiên (mặc định {DEFAULT_SEED})")
    ap.add_argument("--start", default="2024-01", help="tháng đầu, dạng YYYY-MM")
    ap.add_argument("--end", default="2026-10", help="tháng cuối, dạng YYYY-MM")
    ap.add_argument("--out", default="data/raw", help="thư mục đích (mỗi tháng một thư mục con)")
    ap.add_argument("--root", default=".", help="gốc dự án (chứa data/raw/units/)")
    ap.add_argument("-q", "--quiet", action="store_true", help="không in tiến độ từng tháng")
    return ap.run_command(argv, _command)


def _command(args) -> int:
    generate(args.out, args.start, args.end, args.seed, args.root, verbose=not args.quiet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
