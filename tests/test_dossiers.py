"""Dossier-level input (chiso.dossiers) and the synthetic generator (chiso.synth_dossiers).

The small fixture below is written by hand, and so are the counts it must give:
every edge case of the on-time rules (finished on the due day, unfinished judged at
the period end, due on the period's last day, supplements with and without waiting
days, dossiers crossing period boundaries, a unit without dossiers, a dossier
without due date) is one row with its expected effect in the comment.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
import warnings
from pathlib import Path

import polars as pl
import pytest

from chiso import counts, dossiers, methodology, synth_dossiers
from chiso.errors import InputError

D = dt.date
NFD = lambda s: unicodedata.normalize("NFD", s)  # noqa: E731

# id, unit, received, due, finished, channel, fee, paid online, digitised, e-result,
# supplements, waiting days, rating, what it tests (June 2024 unless said)
ROWS = [
    ("d1", "U1", D(2024, 6, 3), D(2024, 6, 10), D(2024, 6, 7), "online", True, True, True, True, 0, None, "Rất hài lòng"),   # early
    ("d2", "U1", D(2024, 6, 5), D(2024, 6, 12), D(2024, 6, 12), "direct", True, False, False, True, 0, None, "Hài lòng"),   # finished on the due day: on time
    ("d3", "U1", D(2024, 6, 10), D(2024, 6, 14), D(2024, 6, 20), "postal", False, False, True, False, 0, None, "Không hài lòng"),  # late
    ("d4", "U1", D(2024, 6, 20), D(2024, 6, 25), None, "online", False, False, True, False, 0, None, None),   # unfinished, overdue at end of June
    ("d5", "U1", D(2024, 6, 25), D(2024, 7, 5), None, "direct", False, False, False, False, 0, None, None),   # unfinished, still in time in June; overdue in July
    ("d6", "U1", D(2024, 6, 28), D(2024, 6, 30), None, "online", False, False, False, False, 0, None, None),  # due on June's last day, unfinished: overdue
    ("d7", "U1", D(2024, 6, 1), D(2024, 6, 8), D(2024, 6, 12), "online", True, True, True, True, 1, 5, "Bình thường"),  # due + 5 waiting days = 13/6: early
    ("d8", "U1", D(2024, 6, 2), D(2024, 6, 9), D(2024, 6, 11), "direct", False, False, False, False, 2, None, None),  # supplements without waiting days: late
    ("d9", "U1", D(2024, 5, 31), D(2024, 6, 7), D(2024, 6, 3), "direct", True, True, True, True, 0, None, None),    # received in May, resolved early in June
    ("d10", "U1", D(2024, 6, 30), D(2024, 7, 3), D(2024, 7, 1), "direct", False, False, True, False, 0, None, None),  # received June's last day, resolved in July
    ("d11", "U1", D(2024, 5, 15), D(2024, 5, 20), None, "direct", False, False, False, False, 0, None, None),  # overdue since May: counted in May, June, July
    ("d12", "U1", D(2024, 7, 1), D(2024, 7, 10), D(2024, 7, 8), "online", False, False, False, False, 0, None, None),  # July only
    ("e1", "U2", D(2024, 6, 10), None, D(2024, 6, 15), "online", False, False, False, False, 0, None, None),  # no due date: on time
]
UNITS = pl.DataFrame({
    "unit_code": ["U1", "U2", "U3"],
    "unit_name": ["Xã Thanh Xương", "Xã Tìa Dình", "Xã Hẹ Muông"],
    "unit_group": ["UBND các xã"] * 3,
})
NAMES = dict(zip(UNITS["unit_code"], UNITS["unit_name"]))

# Expected June counts (numerator, denominator), computed by hand from the comments above.
JUNE_U1 = {
    "dossiers_received": (9, None),          # d1–d8, d10
    "dossiers_resolved": (6, None),          # d1 d2 d3 d7 d8 d9
    "resolved_early": (3, None),             # d1 d7 d9
    "resolved_on_time": (1, None),           # d2
    "resolved_late": (2, None),              # d3 d8
    "overdue_pending": (3, None),            # d4 d6 d11
    "on_time": (4, 9),                       # (3 + 1) / (6 + 3)
    "online_submission": (4, 9),             # d1 d4 d6 d7
    "online_late": (2, None),                # d4 d6 (open, overdue, online)
    "online_payment": (2, 3),                # d1 d7 of d1 d2 d7
    "digitised": (5, 9),                     # d1 d3 d4 d7 d10
    "e_result": (4, 6),                      # d1 d2 d7 d9
    "dossier_satisfaction": (2, 4),          # d1 d2 of d1 d2 d3 d7
    "supplement_none": (4, None),
    "supplement_once": (1, None),            # d7
    "supplement_repeated": (1, None),        # d8
}
JUNE_U2 = {"dossiers_received": (1, None), "on_time": (1, 1), "resolved_on_time": (1, None),
           "online_submission": (1, 1), "online_payment": (0, 0), "e_result": (0, 1), "dossier_satisfaction": (0, 0)}


def canonical_frame() -> pl.DataFrame:
    cols = ["dossier_id", "unit_code", "received_date", "due_date", "finished_date", "channel", "has_fee",
            "paid_online", "digitised", "e_result", "supplement_count", "supplement_wait_days", "satisfaction"]
    level = {"Rất hài lòng": 4, "Hài lòng": 3, "Bình thường": 2, "Không hài lòng": 1, None: None}
    data = [dict(zip(cols, r[:12] + (level[r[12]],))) for r in ROWS]
    return pl.DataFrame(data, schema_overrides={"due_date": pl.Date, "finished_date": pl.Date,
                                                "supplement_wait_days": pl.Int32, "satisfaction": pl.Int8})


CHANNEL_VI = {"online": "Trực tuyến", "direct": "Trực tiếp", "postal": "Bưu chính công ích"}
HEADERS_VI = ["Mã hồ sơ", "Mã đơn vị", "Tên đơn vị", "Mã TTHC", "Ngày tiếp nhận", "Ngày hẹn trả", "Ngày trả kết quả",
              "Hình thức nộp", "Có phí, lệ phí", "Thanh toán trực tuyến", "Đã số hoá", "Kết quả điện tử",
              "Số lần bổ sung", "Số ngày chờ bổ sung", "Mức độ hài lòng"]


def vietnamese_rows(nfd: bool = False) -> list[list[str]]:
    """The fixture as an export prints it: dd/mm/yyyy (some with a time), Có/x/blank, words."""
    def day(d, with_time=False):
        return "" if d is None else d.strftime("%d/%m/%Y") + (" 16:30" if with_time else "")

    out = []
    for i, (did, unit, rec, due, fin, ch, fee, paid, digi, eres, sup, wait, rating) in enumerate(ROWS):
        received = day(rec, i % 2 == 0) if i != 4 else "08:00 " + day(rec)       # time first: slow path
        due_text = day(due) if i != 7 else f"{due.day}-{due.month}-{due.year}"   # 9-6-2024
        row = [did, unit, NAMES[unit], f"1.00{i:04d}", received, due_text, day(fin, i % 3 == 0),
               CHANNEL_VI[ch], "Có" if fee else "Không", "x" if paid else "", "Đã số hóa" if digi else "Chưa số hóa",
               "Có" if eres else "", str(sup), "" if wait is None else str(wait), rating or ""]
        out.append([NFD(c) for c in row] if nfd else row)
    return out


def write_csv(path: Path, sep: str = ",", title: bool = True, nfd_headers: bool = False) -> Path:
    import csv

    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, delimiter=sep)
        if title:
            w.writerow(["UBND TỈNH ĐIỆN BIÊN"])
            w.writerow(["DANH SÁCH HỒ SƠ TIẾP NHẬN THÁNG 6 NĂM 2024"])
        w.writerow([NFD(h) for h in HEADERS_VI] if nfd_headers else HEADERS_VI)
        w.writerows(vietnamese_rows(nfd=nfd_headers))
    return path


def write_xlsx(path: Path) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["DANH SÁCH HỒ SƠ"])
    ws.append([NFD(h) if i % 2 else h for i, h in enumerate(HEADERS_VI)])
    for r, src in zip(vietnamese_rows(), ROWS):
        # real date cells for the dates, as Excel stores them
        r[4] = dt.datetime.combine(src[2], dt.time(8, 0))
        r[5] = src[3]
        r[6] = src[4]
        r[12] = src[10]
        ws.append([None if v == "" else v for v in r])
    ws.append([])
    ws.append(["Tổng cộng", None, None, None, None])
    wb.save(path)
    return path


def value(c: pl.DataFrame, unit: str, indicator: str, period: str = "2024-06") -> tuple:
    row = c.filter((pl.col("unit_code") == unit) & (pl.col("indicator") == indicator) & (pl.col("period") == period))
    assert row.height == 1, (unit, indicator, period, row)
    num, den = row["numerator"][0], row["denominator"][0]
    return (None if num is None else int(num), None if den is None else int(den))


def check_june(c: pl.DataFrame) -> None:
    for ind, expected in JUNE_U1.items():
        assert value(c, "U1", ind) == expected, ind
    for ind, expected in JUNE_U2.items():
        assert value(c, "U2", ind) == expected, ind


# -- aggregation ----------------------------------------------------------------
def test_counts_match_hand_computed_june():
    c = dossiers.aggregate(canonical_frame(), "2024-06", units=UNITS)
    assert list(c.columns) == list(counts.COUNTS_SCHEMA)
    assert c.schema == pl.Schema(counts.COUNTS_SCHEMA)
    assert c.height == 3 * len(dossiers.DOSSIER_METRICS)
    check_june(c)
    assert c["available"].all() and not c["provisional"].any()
    assert c.filter(pl.col("unit_code") == "U1")["unit_name"][0] == "Xã Thanh Xương"
    # sorted: period, unit code, metric order
    assert c["indicator"].to_list()[: len(dossiers.DOSSIER_METRICS)] == list(dossiers.DOSSIER_METRICS)


def test_unit_without_dossiers_has_zero_denominators_and_no_dossier_policy_applies(qd459):
    c = dossiers.aggregate(canonical_frame(), "2024-06", units=UNITS)
    u3 = c.filter(pl.col("unit_code") == "U3")
    assert u3.height == len(dossiers.DOSSIER_METRICS)
    assert (u3["numerator"] == 0).all()
    ratios = u3.filter(pl.col("indicator").is_in(["on_time", "online_submission", "digitised", "e_result"]))
    assert (ratios["denominator"] == 0).all()
    assert u3.filter(pl.col("indicator") == "dossiers_received")["denominator"].is_null().all()
    points = counts.indicator_points(c, qd459)
    assert points.filter(pl.col("unit_code") == "U3")["no_dossier"].all()
    assert points.filter(pl.col("unit_code") == "U3")["excluded"].all()          # default policy: exclude
    assert not points.filter(pl.col("unit_code") == "U1")["excluded"].any()
    zero = methodology.load("qd459-2023", {"no_dossier_policy": "zero"})
    tdgq = counts.indicator_points(c, zero).filter((pl.col("unit_code") == "U3") & (pl.col("indicator") == "tdgq"))
    assert tdgq["points"][0] == 0 and tdgq["applicable"][0]
    on_time = counts.indicator_points(c, qd459).filter((pl.col("unit_code") == "U1") & (pl.col("indicator") == "tdgq"))
    assert on_time["points_exact"][0] == pytest.approx(4 / 9 * 30)


def test_periods_carry_overdue_dossiers_and_boundaries():
    c = dossiers.aggregate(canonical_frame(), ["2024-05", "2024-06", "2024-07"], units=UNITS)
    assert c["period"].unique().sort().to_list() == ["2024-05", "2024-06", "2024-07"]
    check_june(c)
    # May: d9 and d11 received; nothing resolved; d11 overdue at the end of May (d9 due 7/6 is not)
    assert value(c, "U1", "dossiers_received", "2024-05") == (2, None)
    assert value(c, "U1", "on_time", "2024-05") == (0, 1)
    # July: d10 (received 30/6) and d12 resolved early; d4 d5 d6 d11 open and overdue
    assert value(c, "U1", "dossiers_received", "2024-07") == (1, None)
    assert value(c, "U1", "resolved_early", "2024-07") == (2, None)
    assert value(c, "U1", "overdue_pending", "2024-07") == (4, None)
    assert value(c, "U1", "on_time", "2024-07") == (2, 6)
    # one period out of three gives the same June figures
    assert c.filter(pl.col("period") == "2024-06").drop("period").equals(
        dossiers.aggregate(canonical_frame(), "2024-06", units=UNITS).drop("period"))


def test_quarter_year_and_periods_from_data():
    q = dossiers.aggregate(canonical_frame(), "2024-Q2", units=UNITS)
    assert q["period"].unique().to_list() == ["2024-Q2"]
    # Q2 = April–June: d9 and d11 are received in the quarter too; d11 is still overdue at its end
    assert value(q, "U1", "dossiers_received", "2024-Q2") == (11, None)
    assert value(q, "U1", "on_time", "2024-Q2") == (4, 9)
    auto = dossiers.aggregate(canonical_frame(), None, freq="month")
    assert auto["period"].unique().sort().to_list() == ["2024-05", "2024-06", "2024-07"]
    assert set(auto["unit_code"].unique()) == {"U1", "U2"}          # no unit list: units of the data
    assert auto.filter(pl.col("unit_code") == "U1")["unit_name"][0] == "U1"
    y = dossiers.aggregate(canonical_frame(), "2024", units=UNITS)
    assert value(y, "U1", "dossiers_received", "2024") == (12, None)


def test_as_of_marks_unfinished_periods_provisional():
    c = dossiers.aggregate(canonical_frame(), ["2024-06", "2024-07"], units=UNITS, as_of=D(2024, 7, 5))
    assert not c.filter(pl.col("period") == "2024-06")["provisional"].any()
    assert c.filter(pl.col("period") == "2024-07")["provisional"].all()


def test_missing_columns_make_metrics_unavailable_with_a_note():
    df = canonical_frame().drop("paid_online", "satisfaction", "supplement_wait_days")
    c = dossiers.aggregate(df, "2024-06", units=UNITS)
    pay = c.filter((pl.col("indicator") == "online_payment") & (pl.col("unit_code") == "U1"))
    assert not pay["available"][0] and pay["numerator"][0] is None and "paid_online" in pay["note"][0]
    assert not c.filter(pl.col("indicator") == "dossier_satisfaction")["available"].any()
    # without waiting days d7 (finished 12/6, due 8/6) is late
    assert value(c, "U1", "resolved_late") == (3, None)
    assert value(c, "U1", "on_time") == (3, 9)


def test_units_outside_the_list_are_kept_and_noted():
    c = dossiers.aggregate(canonical_frame(), "2024-06", units=UNITS.filter(pl.col("unit_code") != "U2"))
    u2 = c.filter(pl.col("unit_code") == "U2")
    assert u2.height == len(dossiers.DOSSIER_METRICS)
    assert u2["unit_name"][0] == "U2" and "không có trong danh sách" in u2["note"][0]
    assert value(c, "U2", "on_time") == (1, 1)
    assert c.filter(pl.col("unit_code") != "U2")["note"].null_count() == c.height - u2.height


def test_metric_note_comes_before_the_unit_note():
    df = canonical_frame().drop("paid_online")
    c = dossiers.aggregate(df, "2024-06", units=UNITS.filter(pl.col("unit_code") != "U2"))
    note = {(r["unit_code"], r["indicator"]): r["note"] for r in c.iter_rows(named=True)}
    assert "paid_online" in note[("U2", "online_payment")] and "paid_online" in note[("U1", "online_payment")]
    assert "không có trong danh sách" in note[("U2", "digitised")]
    assert note[("U1", "digitised")] is None


def test_engines_and_lane_packing_fallback_agree(monkeypatch):
    base = dossiers.aggregate(canonical_frame(), ["2024-05", "2024-06", "2024-07"], units=UNITS)
    assert dossiers.aggregate(canonical_frame(), ["2024-05", "2024-06", "2024-07"], units=UNITS,
                              engine="in-memory").equals(base)
    monkeypatch.setattr(dossiers, "LANE_BITS", 2)   # groups of ≥ 4 rows overflow: plain sums again
    assert dossiers.aggregate(canonical_frame(), ["2024-05", "2024-06", "2024-07"], units=UNITS).equals(base)


def test_petitions_table():
    pakn = pl.DataFrame({
        "Mã đơn vị": ["U1", "U1", "U1", "U1", "U3"],
        "Mã PAKN": ["p1", "p2", "p3", "p4", "p5"],
        "Ngày tiếp nhận": ["02/06/2024", "05/06/2024", "10/06/2024", "20/06/2024", "01/05/2024"],
        "Hạn xử lý": ["12/06/2024", "15/06/2024", "20/06/2024", "25/06/2024", "10/05/2024"],
        "Ngày xử lý xong": ["12/06/2024", "18/06/2024", "", "", "05/05/2024"],
        "Mức độ hài lòng": ["Hài lòng", "Không hài lòng", "", "", "Rất hài lòng"],
    })
    c = dossiers.aggregate(canonical_frame(), "2024-06", units=UNITS, petitions=pakn)
    # p1 finished on its due day (on time), p2 late, p3 and p4 open and overdue at the end of June
    assert value(c, "U1", "petition_on_time") == (1, 4)
    assert value(c, "U1", "petition_satisfaction") == (1, 2)
    assert value(c, "U1", "petitions_received") == (4, None)
    assert value(c, "U3", "petition_on_time") == (0, 0)       # PAKN of May only: 0/0 → the methodology's rule
    assert value(c, "U2", "petition_on_time") == (0, 0)


# -- reading exports ---------------------------------------------------------------
def test_csv_with_title_rows_vietnamese_and_nfd_headers(tmp_path):
    for sep, nfd in ((",", False), (";", True)):
        path = write_csv(tmp_path / f"hoso_{sep == ';'}.csv", sep=sep, nfd_headers=nfd)
        c = dossiers.aggregate(path, "2024-06", units=UNITS)
        check_june(c)
        # unchecked: every cell parsed by expressions, no value maps; same counts
        assert dossiers.aggregate(path, "2024-06", units=UNITS, check=False).equals(c)
    df = dossiers.read_dossiers(path)
    assert df.schema["channel"] == dossiers.CHANNEL_DTYPE
    assert df.schema["received_date"] == pl.Date
    assert df.filter(pl.col("dossier_id") == "d2")["unit_name"][0] == "Xã Thanh Xương"   # NFC again
    assert df["procedure_code"][0] == "1.000000"


def test_xlsx_export(tmp_path):
    path = write_xlsx(tmp_path / "hoso.xlsx")
    check_june(dossiers.aggregate(path, "2024-06", units=UNITS))


def test_parquet_with_vietnamese_headers_and_ingest_roundtrip(tmp_path):
    raw = pl.DataFrame(vietnamese_rows(), schema=HEADERS_VI, orient="row")
    src = tmp_path / "hoso_vi.parquet"
    raw.write_parquet(src)
    check_june(dossiers.aggregate(src, "2024-06", units=UNITS))
    out = dossiers.ingest(src, tmp_path / "hoso.parquet", progress=False)
    schema = pl.read_parquet_schema(out)
    assert isinstance(schema["unit_code"], pl.Enum) and schema["channel"] == dossiers.CHANNEL_DTYPE
    assert schema["received_date"] == pl.Date and schema["has_fee"] == pl.Boolean
    check_june(dossiers.aggregate(out, "2024-06", units=UNITS))


def test_header_aliases_and_normalisation():
    m = dossiers.map_headers([NFD("Mã đơn vị"), " TÊN ĐƠN VỊ ", "Ngày Tiếp Nhận:", "Đã số hoá", "Ngày hẹn trả", "Cột lạ"])
    assert m == {"unit_code": NFD("Mã đơn vị"), "unit_name": " TÊN ĐƠN VỊ ", "received_date": "Ngày Tiếp Nhận:",
                 "digitised": "Đã số hoá", "due_date": "Ngày hẹn trả"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = dossiers.map_headers(["Ngày trả kết quả", "Ngày hoàn thành"])
    assert m == {"finished_date": "Ngày hoàn thành"}        # first alias in the table wins
    assert "Ngày trả kết quả" in str(caught[0].message)


def test_unreadable_cells_are_reported_with_row_and_column(tmp_path):
    path = write_csv(tmp_path / "bad.csv")
    text = path.read_text(encoding="utf-8-sig").replace("20/06/2024", "31/02/2024", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        dossiers.aggregate(path, "2024-06", units=UNITS)
    e = err.value
    assert e.column in ("Ngày trả kết quả", "Ngày tiếp nhận") and e.row is not None and "31/02/2024" in str(e)
    lines = text.splitlines()
    assert "31/02/2024" in lines[e.row - 1]                  # the reported row is the file's line
    bad = write_csv(tmp_path / "bad2.csv")
    bad.write_text(bad.read_text(encoding="utf-8-sig").replace("Bưu chính công ích", "Fax"), encoding="utf-8")
    with pytest.raises(InputError, match="Fax") as err:
        dossiers.validate(bad)
    assert err.value.column == "Hình thức nộp"
    with pytest.raises(InputError, match="Ngày tiếp nhận"):
        dossiers.read_dossiers(pl.DataFrame({"Mã đơn vị": ["U1"], "Ngày hẹn trả": ["01/06/2024"]}))
    with pytest.raises(InputError, match="2024-13"):
        dossiers.aggregate(canonical_frame(), "2024-13")


def test_read_units_and_cli(tmp_path):
    units = tmp_path / "donvi.csv"
    units.write_text("Mã đơn vị,Tên đơn vị,Nhóm đơn vị\nU1,Xã Thanh Xương,UBND các xã\nU3,Xã Hẹ Muông,UBND các xã\n",
                     encoding="utf-8")
    assert dossiers.read_units(units)["unit_code"].to_list() == ["U1", "U3"]
    out = tmp_path / "counts.csv"
    assert dossiers.main(["counts", str(write_csv(tmp_path / "hs.csv")), "--period", "2024-06", "--units", str(units),
                          "--as-of", "05/07/2024", "--out", str(out)]) == 0
    c = counts.read_counts(out)                       # the analyst's counts template reads it back
    assert value(c, "U1", "on_time") == (4, 9)
    assert set(c["unit_code"]) == {"U1", "U2", "U3"}


# -- a larger random sample against a row-by-row reference ------------------------
def reference(df: pl.DataFrame, start: dt.date, end: dt.date) -> dict[tuple[str, str], tuple]:
    """The on-time rules applied dossier by dossier, in plain Python (the oracle)."""
    out: dict[tuple[str, str], list] = {}
    for r in df.iter_rows(named=True):
        due = r["due_date"]
        if due is not None and r["supplement_wait_days"] is not None:
            due = due + dt.timedelta(days=r["supplement_wait_days"])
        fin = r["finished_date"]
        acc = out.setdefault(r["unit_code"], [0, 0, 0, 0, 0, 0])   # received, resolved, on time, overdue, online, e_result
        if start <= r["received_date"] <= end:
            acc[0] += 1
            acc[4] += r["channel"] == "online"
        if fin is not None and start <= fin <= end:
            acc[1] += 1
            acc[2] += due is None or fin <= due
            acc[5] += bool(r["e_result"])
        elif r["received_date"] <= end and (fin is None or fin > end) and due is not None and due <= end:
            acc[3] += 1
    return {u: tuple(v) for u, v in out.items()}


def test_random_sample_matches_row_by_row_reference(tmp_path):
    path = synth_dossiers.generate(20_000, tmp_path / "s.parquet", seed=7, chunk_rows=7_000, progress=False)
    df = pl.read_parquet(path).with_columns(pl.col("unit_code").cast(pl.String))
    c = dossiers.aggregate(path, ["2024-11", "2024-12"], check=False)
    ref = reference(df, D(2024, 12, 1), D(2024, 12, 31))
    dec = c.filter(pl.col("period") == "2024-12")
    wide = {key[0]: dict(zip(sub["unit_code"], zip(sub["numerator"], sub["denominator"])))
            for key, sub in dec.partition_by("indicator", as_dict=True).items()}
    for unit, (received, resolved, on_time, overdue, online, e_result) in ref.items():
        assert wide["dossiers_received"][unit][0] == received
        assert wide["on_time"][unit] == (on_time, resolved + overdue)
        assert wide["overdue_pending"][unit][0] == overdue
        assert wide["online_submission"][unit] == (online, received)
        assert wide["e_result"][unit] == (e_result, resolved)


# -- the generator ------------------------------------------------------------------
def test_generator_is_deterministic_and_chunked(tmp_path):
    a = synth_dossiers.generate(5_000, tmp_path / "a.parquet", seed=11, chunk_rows=2_000, progress=False)
    b = synth_dossiers.generate(5_000, tmp_path / "b.parquet", seed=11, chunk_rows=2_000, progress=False)
    c = synth_dossiers.generate(5_000, tmp_path / "c.parquet", seed=12, chunk_rows=2_000, progress=False)
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(a) == digest(b)
    assert digest(a) != digest(c)
    import pyarrow.parquet as pq

    assert pq.ParquetFile(a).metadata.num_row_groups == 3
    df = pl.read_parquet(a)
    assert df.height == 5_000 and set(df.columns) >= set(dossiers.DOSSIER_SCHEMA) - {"unit_group"}
    assert df["received_date"].is_sorted()
    assert df["finished_date"].null_count() > 0                   # some unfinished
    units = synth_dossiers.synthetic_units(11)
    assert units.height == 3_400 and units["unit_code"].str.starts_with("SYN.").all()
    assert units["unit_name"].str.starts_with("[Giả lập]").all()
    assert (units["weight"] == 0).sum() > 0                        # some units without dossiers


def _documented_headers(doc: str, section: str) -> dict[str, list[str]]:
    """Column → header spellings of the column table in ``## {section}`` of the doc."""
    body = doc.split(f"\n## {section}", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|") for line in body.splitlines() if line.startswith("| `")]
    return {cells[1].strip().strip("`"): [x.strip() for x in cells[2].split(";")] for cells in rows}


def test_every_column_and_metric_is_documented():
    """The header table analysts read lists exactly the spellings of dossier_columns.yaml,
    in its order of preference (the file is the rule, the doc must not drift from it)."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "dossier-input.md").read_text(encoding="utf-8")
    aliases = dossiers.load_aliases()
    for table, section in (("dossiers", "1."), ("petitions", "4.")):
        documented = _documented_headers(doc, section)
        for col, (_, spellings) in aliases.columns(table).items():
            assert col in documented, (table, col)
            shown = [dossiers.normalize_text(x) for x in documented[col]]
            assert [col, *shown] == list(spellings), (table, col)
    for metric in [*dossiers.DOSSIER_METRICS, *dossiers.PETITION_METRICS]:
        assert f"`{metric}`" in doc, metric


def test_partitioned_parquet_dataset(tmp_path):
    df = canonical_frame()
    for unit in ("U1", "U2"):
        part = tmp_path / "hoso" / f"province={'P1' if unit == 'U1' else 'P2'}"
        part.mkdir(parents=True)
        df.filter(pl.col("unit_code") == unit).write_parquet(part / "part-0.parquet")
    c = dossiers.aggregate(tmp_path / "hoso", "2024-06", units=UNITS)
    assert c.equals(dossiers.aggregate(df, "2024-06", units=UNITS))


def test_unit_code_storage_does_not_change_counts(monkeypatch):
    """Enum codes in one packed key, Enum with separate keys, categorical and text codes."""
    df = canonical_frame()
    base = dossiers.aggregate(df, ["2024-05", "2024-06", "2024-07"], units=UNITS)
    enum = pl.Enum(["U1", "U2"])
    for frame in (df.with_columns(pl.col("unit_code").cast(enum)),
                  df.with_columns(pl.col("unit_code").cast(pl.Categorical))):
        assert dossiers.aggregate(frame, ["2024-05", "2024-06", "2024-07"], units=UNITS).equals(base)
    # a period key too large for one UInt32 with the unit: the two-key path
    many = [f"{y}-{m:02d}" for y in range(1900, 2025) for m in range(1, 13)]   # (1.500 + 2)³ × 2 units ≥ 2³²
    wide = dossiers.aggregate(df.with_columns(pl.col("unit_code").cast(enum)), many, units=UNITS)
    assert wide.filter(pl.col("period").is_in(["2024-05", "2024-06", "2024-07"])).equals(base)


def test_rating_scale_comes_from_the_alias_file(tmp_path):
    """A five-level satisfaction scale in dossier_columns.yaml: "5" and "Rất hài lòng" read as 5,
    satisfied from 4 up; a cell outside the scale is reported with the scale in the message."""
    import yaml

    raw = yaml.safe_load(dossiers.ALIASES_PATH.read_text(encoding="utf-8"))
    raw["values"]["rating"] = {5: ["rất hài lòng"], 4: ["hài lòng"], 3: ["bình thường"], 2: ["chưa hài lòng"],
                               1: ["không hài lòng"]}
    raw["values"]["satisfied_from"] = 4
    path = tmp_path / "columns.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    five = dossiers.load_aliases(path)
    assert five.rating_range == (1, 5)
    # d1..d3 finished in June 2024, d4 open: levels 5, 5, 3 rated; satisfied from 4 → 2 of 3
    frame = canonical_frame().head(4).with_columns(
        pl.Series("satisfaction", ["5", "Rất hài lòng", "Bình thường", "Hài lòng"]))
    c = dossiers.aggregate(frame, "2024-06", units=UNITS, aliases=five)
    got = c.filter(pl.col("indicator") == "dossier_satisfaction").select(pl.col("numerator").sum(),
                                                                        pl.col("denominator").sum()).row(0)
    assert got == (2.0, 3.0)
    with pytest.raises(InputError, match="Rất hài lòng, Hài lòng, Bình thường, Chưa hài lòng, Không hài lòng hoặc 1–5"):
        dossiers.aggregate(frame.with_columns(pl.lit("6").alias("satisfaction")), "2024-06", units=UNITS, aliases=five)
    with pytest.raises(InputError, match="hoặc 1–4"):
        dossiers.aggregate(frame.with_columns(pl.lit("5").alias("satisfaction")), "2024-06", units=UNITS)
