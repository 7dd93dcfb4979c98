"""Unit registry of Điện Biên, name matching and the 2025 crosswalk (chiso.units)."""

from __future__ import annotations

import datetime as dt
import unicodedata

import polars as pl
import pytest

from chiso.counts import normalize_counts
from chiso.errors import InputError
from chiso.units import (check_crosswalk, crosswalk_map, load_crosswalk, load_registry, match_names,
                         units_valid_on)


@pytest.fixture(scope="module")
def registry(root):
    return load_registry(root)


@pytest.fixture(scope="module")
def crosswalk(root):
    return load_crosswalk(root)


# --- registry ---------------------------------------------------------------------
def test_registry_unit_counts(registry):
    before = units_valid_on(registry, "2025-06-30")
    after = units_valid_on(registry, dt.date(2025, 7, 1))
    count = lambda df: dict(df.group_by("level").len().iter_rows())  # noqa: E731
    assert count(before) == {"so_nganh": 20, "huyen": 10, "xa": 115, "phuong": 9, "thi_tran": 5}
    assert count(after) == {"so_nganh": 20, "xa": 42, "phuong": 3}
    assert units_valid_on(registry, "2024-06").height == 159          # a period = its last day
    assert set(before["unit_group"]) == {"Sở, ban, ngành cấp tỉnh", "UBND các huyện, thị xã, thành phố",
                                         "UBND các xã, phường, thị trấn"}
    assert set(after["unit_group"]) == {"Sở, ban, ngành cấp tỉnh", "UBND các xã, phường"}


def test_registry_codes_names_and_sources(registry):
    assert registry["unit_code"].is_unique().all()
    codes = registry.select(
        pl.col("unit_code").str.contains(r"^H18\.(\d{2}|D\d{2}|D\d{2}\.C\d{2}|X\d{2})$").all()).item()
    assert codes
    for col in ("unit_name", "aliases", "notes", "district_name", "unit_group"):
        assert all(unicodedata.is_normalized("NFC", v) for v in registry[col].to_list())
    assert set(registry["source"]) <= {"public", "seed", "assumed"}
    old = registry.filter(pl.col("level").is_in(["xa", "phuong", "thi_tran"]) & pl.col("valid_to").is_not_null())
    assert (old["parent_code"].str.slice(0, 7) == old["unit_code"].str.slice(0, 7)).all()
    assert old["valid_to"].unique().to_list() == [dt.date(2025, 6, 30)]
    # the seeds' communes are there, with the seeds' spellings as aliases
    seeds = registry.filter(pl.col("source") == "seed")
    assert seeds.height == 12 + 21 + 14
    tia = registry.filter(pl.col("unit_name") == "UBND xã Tìa Đình").row(0, named=True)
    assert set(tia["aliases"].split("|")) >= {"Tìa Dình", "Tà Dình"}


# --- crosswalk --------------------------------------------------------------------
def test_crosswalk_complete(registry, crosswalk):
    assert check_crosswalk(registry, crosswalk) == []
    old = units_valid_on(registry, "2025-06-30").filter(pl.col("level").is_in(["xa", "phuong", "thi_tran"]))
    new = units_valid_on(registry, "2025-07-01").filter(pl.col("level").is_in(["xa", "phuong"]))
    assert set(crosswalk["old_code"]) == set(old["unit_code"])            # every old commune maps
    assert set(crosswalk["new_code"]) == set(new["unit_code"])            # every new one has predecessors
    sizes = crosswalk.group_by("new_code").len()["len"]
    # NQ 1661: 16 new communes from 2 old ones, 29 from 3 or more (Bộ Nội vụ)
    assert (sizes == 2).sum() == 16 and (sizes >= 3).sum() == 29
    assert crosswalk.group_by("old_code").agg(pl.col("share").sum())["share"].to_list() == [1.0] * 129


def test_check_crosswalk_reports_gaps(registry, crosswalk):
    broken = crosswalk.filter(pl.col("new_name") != "UBND xã Sam Mứn")
    problems = check_crosswalk(registry, broken)
    assert any("Pom Lót" in p for p in problems) and any("Sam Mứn" in p for p in problems)


def _old_counts(registry, crosswalk, new_name: str) -> pl.DataFrame:
    preds = crosswalk.filter(pl.col("new_name") == new_name)
    rows = []
    for i, (code, name) in enumerate(zip(preds["old_code"], preds["old_name"])):
        received = 10 * (i + 1)
        rows += [
            {"period": "2025-06", "unit_code": code, "unit_name": name, "indicator": "dossiers_received",
             "numerator": received, "denominator": None},
            {"period": "2025-06", "unit_code": code, "unit_name": name, "indicator": "on_time",
             "numerator": received - i, "denominator": received},
            {"period": "2025-06", "unit_code": code, "unit_name": name, "indicator": "online_submission",
             "numerator": i, "denominator": received},
        ]
    rows.append({"period": "2025-06", "unit_code": "H18.15", "unit_name": "Sở Y tế", "indicator": "on_time",
                 "numerator": 99, "denominator": 100})
    return normalize_counts(pl.DataFrame(rows, schema_overrides={"numerator": pl.Float64, "denominator": pl.Float64}))


def test_known_merge_aggregates_counts(registry, crosswalk):
    # xã Thanh Nưa (2025) = Hua Thanh + Thanh Luông + Thanh Hưng + Thanh Chăn + Thanh Nưa (huyện Điện Biên)
    preds = crosswalk.filter(pl.col("new_name") == "UBND xã Thanh Nưa")
    assert sorted(preds["old_name"]) == sorted(["UBND xã Hua Thanh", "UBND xã Thanh Luông", "UBND xã Thanh Hưng",
                                                "UBND xã Thanh Chăn", "UBND xã Thanh Nưa"])
    counts = _old_counts(registry, crosswalk, "UBND xã Thanh Nưa")
    new = crosswalk_map(counts, crosswalk)
    tn = new.filter(pl.col("unit_name") == "UBND xã Thanh Nưa")
    got = {r["indicator"]: (r["numerator"], r["denominator"]) for r in tn.iter_rows(named=True)}
    assert got["dossiers_received"] == (150.0, None)          # 10 + 20 + 30 + 40 + 50
    assert got["on_time"] == (140.0, 150.0)                   # dossier-weighted: (150 − 0−1−2−3−4) / 150
    assert got["online_submission"] == (10.0, 150.0)
    assert set(tn["unit_group"]) == {"UBND các xã, phường"} and tn["unit_code"].unique().to_list() == ["H18.X34"]
    assert "5 đơn vị cũ" in tn["note"][0]
    # the department is not in the crosswalk: kept, dropped or reported
    assert new.filter(pl.col("unit_code") == "H18.15").height == 1
    assert crosswalk_map(counts, crosswalk, unmapped="drop").filter(pl.col("unit_code") == "H18.15").height == 0
    with pytest.raises(InputError, match="H18.15"):
        crosswalk_map(counts, crosswalk, unmapped="raise")


def test_crosswalk_map_shares_and_values(crosswalk):
    # a split: half of an old commune's dossiers to each of two new units
    xw = pl.DataFrame({"old_code": ["A", "A", "B"], "new_code": ["N1", "N2", "N2"], "new_name": ["n1", "n2", "n2"],
                       "share": [0.5, 0.5, 1.0]})
    counts = normalize_counts(pl.DataFrame({
        "period": ["2025-06"] * 2, "unit_code": ["A", "B"], "unit_name": ["a", "b"], "indicator": ["on_time"] * 2,
        "numerator": [90.0, 10.0], "denominator": [100.0, 20.0]}))
    out = {r["unit_code"]: (r["numerator"], r["denominator"]) for r in crosswalk_map(counts, xw).iter_rows(named=True)}
    assert out == {"N1": (45.0, 50.0), "N2": (55.0, 70.0)}
    scores = pl.DataFrame({"period": ["2025-06"] * 2, "unit_code": ["A", "B"], "converted": [90.0, 60.0],
                           "dossiers": [100.0, 300.0]})
    v = crosswalk_map(scores, xw, values=["converted"], weight="dossiers")
    # weights: share × dossiers = 0,5 × 100 for A and 1 × 300 for B
    assert v.filter(pl.col("unit_code") == "N2")["converted"].item() == pytest.approx((90 * 50 + 60 * 300) / 350)
    assert v.filter(pl.col("unit_code") == "N1")["converted"].item() == pytest.approx(90.0)


# --- name matching ------------------------------------------------------------------
def test_match_names_variants(registry):
    names = ["UBND Luân Giới", "UBND xã Nong U", unicodedata.normalize("NFD", "Tìa Dình"), "Tà Dình", "UBND Thị trấn",
             "xã MƯỜNG LUÂN", "Mừng Luân", "Sở Tư pháp - tỉnh Điện Biên", "SỞ Y TẾ", "Sở TN&MT", "Thanh tra tỉnh Điện Biên",
             "UBND huyện Tuần Giáo", "thị trấn Tuần Giáo", "TP. Điện Biên Phủ", "Xã Toả Tình", "Tua Thang",
             "Ủy ban nhân dân xã Phì Nhừ"]
    out = match_names(names, registry, "2024-06-30")
    assert out["name"].to_list() == names
    assert out["unit_name"].to_list() == [
        "UBND xã Luân Giới", "UBND xã Nong U", "UBND xã Tìa Đình", "UBND xã Tìa Đình", "UBND thị trấn Điện Biên Đông",
        "UBND xã Mường Luân", "UBND xã Mường Luân", "Sở Tư pháp", "Sở Y tế", "Sở Tài nguyên và Môi trường",
        "Thanh tra tỉnh", "UBND huyện Tuần Giáo", "UBND thị trấn Tuần Giáo", "UBND thành phố Điện Biên Phủ",
        "UBND xã Tỏa Tình", "UBND xã Tủa Thàng", "UBND xã Phì Nhừ"]
    methods = dict(zip(out["name"], out["method"]))
    assert methods["Tà Dình"] == "alias" and methods["UBND Luân Giới"] == "normalized"
    assert methods["Tua Thang"] == "unaccented" and methods["UBND xã Nong U"] == "exact"


def test_match_names_depends_on_date(registry):
    before = match_names(["Sam Mứn", "Mường Thanh", "Nà Tấu"], registry, "2025-06-30")
    after = match_names(["Sam Mứn", "Mường Thanh", "Nà Tấu"], registry, "2025-07-01")
    assert before["unit_code"].to_list() == ["H18.D07.C14", "H18.D01.C02", "H18.D01.C10"]
    assert after["unit_code"].to_list() == ["H18.X37", "H18.X02", "H18.X30"]
    assert match_names(["Pú Nhi"], registry, "2025-08-01")["unit_name"].item() == "UBND xã Pu Nhi"


def test_match_names_seed_tables(root, registry):
    for table, date in (("dienbiendong_2024-06", "2024-06-30"), ("huyen-dienbien_2023-07", "2023-07-31")):
        pub = pl.read_csv(root / "data" / "raw" / "published" / f"{table}.csv", infer_schema=False)
        communes = pub.filter(pl.col("unit_group").str.starts_with("UBND"))["unit"]
        out = match_names(communes, registry, date)
        assert out["unit_code"].null_count() == 0 and out["unit_code"].is_unique().all()
    units = pl.read_csv(root / "data" / "raw" / "qd1187" / "dienbienphu_2022-Q1" / "units.csv", infer_schema=False)
    wards = match_names(units.filter(pl.col("group") == "xa_phuong")["unit"], registry, "2022-03-31")
    assert set(wards["unit_code"].str.slice(0, 7)) == {"H18.D01"} and wards.height == 12


def test_match_names_errors_list_every_problem(registry):
    with pytest.raises(InputError) as exc:
        match_names(["Tuần Giáo", "Phòng Tư pháp", "Xã Không Có", "Mường Chà", "UBND xã Keo Lôm"], registry, "2024-06-30",
                    source="bieu_mau.csv")
    err = exc.value
    assert err.rule == "unit_name_match" and err.file == "bieu_mau.csv"
    for text in ("'Phòng Tư pháp'", "phòng chuyên môn cấp huyện", "'Xã Không Có'", "UBND huyện Tuần Giáo (H18.D06)",
                 "UBND thị trấn Tuần Giáo (H18.D06.C01)", "UBND thị trấn Mường Chà"):
        assert text in err.message_vi
    assert "02 tên không khớp" in err.message_vi and "02 tên khớp nhiều đơn vị" in err.message_vi
    assert "2 unmatched" in err.message_en and "2 ambiguous" in err.message_en
    assert "Keo Lôm" not in err.message_vi
    # after the reform the old commune is gone
    with pytest.raises(InputError, match="Keo Lôm"):
        match_names(["UBND xã Keo Lôm"], registry, "2025-07-01")
    loose = match_names(["Xã Không Có", "Na Son"], registry, "2024-06-30", errors="null")
    assert loose["unit_code"].to_list() == [None, "H18.D08.C07"]


def test_unaccented_fallback_only_when_unique():
    reg = pl.DataFrame({
        "unit_code": ["A", "B", "C"], "unit_name": ["UBND xã Nà Sáy", "UBND xã Na Sày", "UBND xã Pú Xi"],
        "level": ["xa", "xa", "xa"], "aliases": ["", "", ""],
        "valid_from": [dt.date(2020, 1, 1)] * 3, "valid_to": [None, None, None],
    }, schema_overrides={"valid_to": pl.Date})
    assert match_names(["Pu Xi"], reg, "2024-01-01")["unit_code"].item() == "C"
    assert match_names(["Nà Sáy"], reg, "2024-01-01")["unit_code"].item() == "A"
    with pytest.raises(InputError, match="khớp nhiều đơn vị"):
        match_names(["Na Say"], reg, "2024-01-01")
