"""One engine's run of the dossier → counts benchmark, in its own process.

    .venv/bin/python benchmarks/engines.py ENGINE DATA UNITS --first 2024-01 --last 2024-12 \\
        --repeat 3 --result out.parquet

ENGINE is one of

* ``polars``: ``chiso.dossiers.aggregate`` itself (the production code path);
* ``pandas``: the same computation written as a competent pandas user would
  (vectorised numpy/pandas, categorical unit codes, ``groupby(observed=True)``,
  reading the Parquet by batches of row groups so that 100 M rows stay possible);
* ``duckdb``: the same computation in DuckDB SQL on the same Parquet file;
* ``scan``: the floor: polars reads (decodes) the columns the aggregation needs
  and lets each batch go: no arithmetic, no grouping, no result table (summing each
  column takes about 40 % longer than reading it, so a sum is not the floor).

Every engine except ``scan`` produces the full counts table (every unit of the
unit list × period × dossier metric, numerator and denominator); the result is
written to ``--result`` after timing so that ``run.py`` checks that all engines
agree. Prints one JSON line: the wall and CPU seconds of each repetition.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from chiso.cliparse import ArgumentParser  # noqa: E402

# Columns the aggregation reads (the scan floor reads exactly these).
COLUMNS = ["unit_code", "received_date", "due_date", "finished_date", "channel", "has_fee", "paid_online",
           "digitised", "e_result", "supplement_count", "supplement_wait_days", "satisfaction"]
# A rated dossier counts as satisfied from this level up: the rule of chiso.dossiers' value table.
SATISFIED_FROM = int(yaml.safe_load((ROOT / "src" / "chiso" / "dossier_columns.yaml").read_text(encoding="utf-8"))
                     ["values"]["satisfied_from"])
# Dossier metrics in output order: (code, numerator, denominator or None). Names of
# the sums: rec_* by received period, res_* by finished period, pend_* open and
# overdue at the period end.
METRICS = [
    ("dossiers_received", "rec_n", None),
    ("dossiers_resolved", "res_n", None),
    ("resolved_early", "res_early", None),
    ("resolved_on_time", "res_exact", None),
    ("resolved_late", "res_late", None),
    ("overdue_pending", "pend_n", None),
    ("on_time", "res_ontime", "res_pend"),
    ("online_submission", "rec_online", "rec_n"),
    ("online_late", "online_late", None),
    ("online_payment", "rec_paid", "rec_fee"),
    ("digitised", "rec_digitised", "rec_n"),
    ("e_result", "res_e_result", "res_n"),
    ("dossier_satisfaction", "res_satisfied", "res_rated"),
    ("supplement_none", "res_supp0", None),
    ("supplement_once", "res_supp_once", None),
    ("supplement_repeated", "res_supp2", None),
]


def month_index(label: str) -> int:
    y, m = label.split("-")
    return int(y) * 12 + int(m) - 1


def month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


# ---------------------------------------------------------------------------
def run_polars(data: str, units: str, first: str, last: str):
    from chiso import dossiers

    labels = [month_label(i) for i in range(month_index(first), month_index(last) + 1)]
    return dossiers.aggregate(data, labels, units=units, check=False)


def read_columns(data: str, columns: list[str]) -> int:
    """Decode ``columns`` of the Parquet file batch by batch and let each go: rows read."""
    import polars as pl

    return sum(b.height for b in pl.scan_parquet(data).select(columns).collect_batches(maintain_order=False))


def run_scan(data: str, units: str, first: str, last: str):
    import polars as pl

    return pl.DataFrame({"rows_read": [read_columns(data, COLUMNS)]})


# ---------------------------------------------------------------------------
def run_pandas(data: str, units: str, first: str, last: str, batch_rows: int = 10_000_000):
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    p0, p1 = month_index(first), month_index(last)
    n = p1 - p0 + 1
    after = n + 1

    def bucket(month: pd.Series) -> pd.Series:
        """Month index → 0 before the first period, 1..n, n + 1 after (NaN stays NaN)."""
        return (month - p0 + 1).clip(0, after)

    def month_of(d: pd.Series) -> pd.Series:
        return d.dt.year * 12 + d.dt.month - 1

    sums = ["n", "online", "fee", "paid", "digitised", "e_result", "rated", "satisfied", "early", "exact",
            "online_late", "supp1", "supp2"]
    parts = []
    pf = pq.ParquetFile(data)
    for batch in pf.iter_batches(batch_size=batch_rows, columns=COLUMNS):
        df = batch.to_pandas(date_as_object=False)
        fin = df["finished_date"]
        due = df["due_date"] + pd.to_timedelta(df["supplement_wait_days"].fillna(0), unit="D")
        due = due.fillna(fin)
        online = df["channel"] == "online"
        delay = np.sign((fin - due).dt.days)       # NaN when unfinished
        frame = pd.DataFrame({
            "unit_code": df["unit_code"],
            "rp": bucket(month_of(df["received_date"])),
            "fp": bucket(month_of(fin)).fillna(after).astype("int64"),
            "dp": bucket(month_of(due)).fillna(after).astype("int64"),
            "n": 1,
            "online": online,
            "fee": df["has_fee"],
            "paid": df["has_fee"] & df["paid_online"],
            "digitised": df["digitised"],
            "e_result": df["e_result"],
            "rated": df["satisfaction"].notna(),
            "satisfied": df["satisfaction"] >= SATISFIED_FROM,
            "early": delay == -1,
            "exact": delay == 0,
            "online_late": (delay == 1) & online,
            "supp1": df["supplement_count"] >= 1,
            "supp2": df["supplement_count"] >= 2,
        })
        parts.append(frame.groupby(["unit_code", "rp", "fp", "dp"], observed=True, sort=False)[sums].sum())
        del df, frame
    g = pd.concat(parts).groupby(level=[0, 1, 2, 3], observed=True).sum().reset_index()
    g["unit_code"] = g["unit_code"].astype(str)

    inside = lambda s: s.between(1, n)  # noqa: E731
    rec = g[inside(g["rp"])].groupby(["unit_code", "rp"])[["n", "online", "fee", "paid", "digitised"]].sum()
    rec.index.names = ["unit_code", "p"]
    rec = rec.add_prefix("rec_")
    res = g[inside(g["fp"])].groupby(["unit_code", "fp"])[
        ["n", "early", "exact", "e_result", "rated", "satisfied", "online_late", "supp1", "supp2"]].sum()
    res.index.names = ["unit_code", "p"]
    res = res.add_prefix("res_")
    # open and overdue at the end of p for p in [max(dp, rp, 1), min(fp, n + 1))
    start = np.maximum(np.maximum(g["dp"], g["rp"]), 1).to_numpy()
    stop = np.minimum(g["fp"], n + 1).to_numpy()
    length = np.clip(stop - start, 0, None)
    rows = np.repeat(np.arange(len(g)), length)
    offsets = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    pend = pd.DataFrame({"unit_code": g["unit_code"].to_numpy()[rows], "p": start[rows] + offsets,
                         "pend_n": g["n"].to_numpy()[rows], "pend_online": g["online"].to_numpy()[rows]})
    pend = pend.groupby(["unit_code", "p"])[["pend_n", "pend_online"]].sum()

    unit_list = pd.read_parquet(units, columns=["unit_code", "unit_name", "unit_group"])
    codes = sorted(set(unit_list["unit_code"]) | set(g["unit_code"]))
    grid = pd.MultiIndex.from_product([range(1, n + 1), codes], names=["p", "unit_code"])
    wide = (pd.DataFrame(index=grid).join(rec.swaplevel(), how="left").join(res.swaplevel(), how="left")
            .join(pend.swaplevel(), how="left").fillna(0).reset_index())
    wide["res_late"] = wide["res_n"] - wide["res_early"] - wide["res_exact"]
    wide["res_ontime"] = wide["res_early"] + wide["res_exact"]
    wide["res_pend"] = wide["res_n"] + wide["pend_n"]
    wide["online_late"] = wide["res_online_late"] + wide["pend_online"]
    wide["res_supp0"] = wide["res_n"] - wide["res_supp1"]
    wide["res_supp_once"] = wide["res_supp1"] - wide["res_supp2"]
    wide["period"] = [month_label(p0 + p - 1) for p in wide["p"]]
    names = unit_list.set_index("unit_code")
    wide["unit_name"] = wide["unit_code"].map(names["unit_name"]).fillna(wide["unit_code"])
    wide["unit_group"] = wide["unit_code"].map(names["unit_group"])
    long = []
    for order, (code, num, den) in enumerate(METRICS):
        long.append(pd.DataFrame({
            "period": wide["period"], "unit_code": wide["unit_code"], "unit_name": wide["unit_name"],
            "unit_group": wide["unit_group"], "indicator": code, "_o": order,
            "numerator": wide[num].astype("float64"),
            "denominator": wide[den].astype("float64") if den else np.nan,
        }))
    out = pd.concat(long, ignore_index=True).sort_values(["period", "unit_code", "_o"], kind="stable")
    return out.drop(columns="_o").reset_index(drop=True)


# ---------------------------------------------------------------------------
def run_duckdb(data: str, units: str, first: str, last: str):
    import duckdb

    p0, p1 = month_index(first), month_index(last)
    n = p1 - p0 + 1
    labels = ", ".join(f"({i + 1}, '{month_label(p0 + i)}')" for i in range(n))

    def bucket(d: str) -> str:
        """Month → 0 before the first period, 1..n, n + 1 after; a NULL date → n + 1
        (least/greatest skip NULLs in DuckDB, hence the CASE)."""
        return (f"CASE WHEN {d} IS NULL THEN {n + 1} "
                f"ELSE least(greatest(year({d}) * 12 + month({d}) - 1 - {p0} + 1, 0), {n + 1}) END")

    structs = ", ".join(
        f"{{'o': {o}, 'indicator': '{code}', 'numerator': ({num})::DOUBLE, "
        f"'denominator': {f'({den})::DOUBLE' if den else 'NULL::DOUBLE'}}}"
        for o, (code, num, den) in enumerate(METRICS)
    )
    sql = f"""
    WITH rows AS (
        SELECT unit_code::VARCHAR AS unit_code, received_date AS rec, finished_date AS fin,
               coalesce(due_date + coalesce(supplement_wait_days, 0)::INTEGER, finished_date) AS due,
               channel::VARCHAR = 'online' AS online, has_fee, paid_online, digitised, e_result,
               satisfaction, supplement_count
        FROM read_parquet('{data}')
    ),
    g AS (
        SELECT unit_code, {bucket('rec')} AS rp, {bucket('fin')} AS fp, {bucket('due')} AS dp,
               count(*) AS n,
               count(*) FILTER (online) AS online,
               count(*) FILTER (has_fee) AS fee,
               count(*) FILTER (has_fee AND paid_online) AS paid,
               count(*) FILTER (digitised) AS digitised,
               count(*) FILTER (e_result) AS e_result,
               count(satisfaction) AS rated,
               count(*) FILTER (satisfaction >= {SATISFIED_FROM}) AS satisfied,
               count(*) FILTER (fin < due) AS early,
               count(*) FILTER (fin = due) AS exact,
               count(*) FILTER (fin > due AND online) AS online_late,
               count(*) FILTER (supplement_count >= 1) AS supp1,
               count(*) FILTER (supplement_count >= 2) AS supp2
        FROM rows GROUP BY ALL
    ),
    rec AS (
        SELECT unit_code, rp AS p, sum(n) AS rec_n, sum(online) AS rec_online, sum(fee) AS rec_fee,
               sum(paid) AS rec_paid, sum(digitised) AS rec_digitised
        FROM g WHERE rp BETWEEN 1 AND {n} GROUP BY ALL
    ),
    res AS (
        SELECT unit_code, fp AS p, sum(n) AS res_n, sum(early) AS res_early, sum(exact) AS res_exact,
               sum(e_result) AS res_e_result, sum(rated) AS res_rated, sum(satisfied) AS res_satisfied,
               sum(online_late) AS res_online_late, sum(supp1) AS res_supp1, sum(supp2) AS res_supp2
        FROM g WHERE fp BETWEEN 1 AND {n} GROUP BY ALL
    ),
    pend AS (
        SELECT unit_code, r.p AS p, sum(n) AS pend_n, sum(online) AS pend_online
        FROM g, LATERAL (SELECT unnest(range(greatest(dp, rp, 1), least(fp, {n + 1}))) AS p) r
        GROUP BY ALL
    ),
    units AS (
        SELECT unit_code, unit_name, unit_group FROM read_parquet('{units}')
        UNION ALL
        SELECT DISTINCT unit_code, unit_code, NULL FROM g
        WHERE unit_code NOT IN (SELECT unit_code FROM read_parquet('{units}'))
    ),
    periods(p, period) AS (VALUES {labels}),
    wide AS (
        SELECT periods.period, periods.p, units.*,
               coalesce(rec_n, 0) AS rec_n, coalesce(rec_online, 0) AS rec_online, coalesce(rec_fee, 0) AS rec_fee,
               coalesce(rec_paid, 0) AS rec_paid, coalesce(rec_digitised, 0) AS rec_digitised,
               coalesce(res_n, 0) AS res_n, coalesce(res_early, 0) AS res_early, coalesce(res_exact, 0) AS res_exact,
               coalesce(res_n, 0) - coalesce(res_early, 0) - coalesce(res_exact, 0) AS res_late,
               coalesce(res_early, 0) + coalesce(res_exact, 0) AS res_ontime,
               coalesce(res_n, 0) + coalesce(pend_n, 0) AS res_pend,
               coalesce(res_e_result, 0) AS res_e_result, coalesce(res_rated, 0) AS res_rated,
               coalesce(res_satisfied, 0) AS res_satisfied,
               coalesce(res_online_late, 0) + coalesce(pend_online, 0) AS online_late,
               coalesce(res_n, 0) - coalesce(res_supp1, 0) AS res_supp0,
               coalesce(res_supp1, 0) - coalesce(res_supp2, 0) AS res_supp_once,
               coalesce(res_supp2, 0) AS res_supp2,
               coalesce(pend_n, 0) AS pend_n
        FROM periods CROSS JOIN units
        LEFT JOIN rec USING (unit_code, p) LEFT JOIN res USING (unit_code, p) LEFT JOIN pend USING (unit_code, p)
    )
    SELECT period, unit_code, unit_name, unit_group, m.indicator, m.numerator, m.denominator
    FROM (SELECT *, unnest([{structs}]) AS m FROM wide)
    ORDER BY period, unit_code, m.o
    """
    con = duckdb.connect()
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()


ENGINES = {"polars": run_polars, "pandas": run_pandas, "duckdb": run_duckdb, "scan": run_scan}


def save(result, engine: str, path: str) -> None:
    """The result as Parquet (period, unit_code, indicator, numerator, denominator)."""
    import polars as pl

    if engine == "pandas":
        df = pl.from_pandas(result)
    elif engine == "duckdb":
        df = pl.from_arrow(result)
    else:
        df = result
    if engine != "scan":
        df = df.select("period", "unit_code", "indicator", "numerator", "denominator")
    df.write_parquet(path)


def main() -> int:
    p = ArgumentParser(description="Một lần đo của một công cụ (chạy bởi benchmarks/run.py).")
    p.add_argument("engine", choices=sorted(ENGINES), help="công cụ cần đo")
    p.add_argument("data", help="tệp Parquet hồ sơ")
    p.add_argument("units", help="tệp Parquet danh sách đơn vị")
    p.add_argument("--first", default="2024-01", help="tháng đầu, dạng YYYY-MM (mặc định 2024-01)")
    p.add_argument("--last", default="2024-12", help="tháng cuối, dạng YYYY-MM (mặc định 2024-12)")
    p.add_argument("--repeat", type=int, default=3, help="số lần đo trong tiến trình (mặc định 3)")
    p.add_argument("--result", help="ghi kết quả lần đo cuối (Parquet) để đối chiếu")
    args = p.parse_args()
    fn = ENGINES[args.engine]
    if args.engine == "polars":   # import outside the timing, as for the other engines
        import chiso.dossiers  # noqa: F401
    elif args.engine == "pandas":
        import pandas  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    elif args.engine == "duckdb":
        import duckdb  # noqa: F401
    else:
        import polars  # noqa: F401
    walls, cpus, result = [], [], None
    for _ in range(args.repeat):
        result = None
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn(args.data, args.units, args.first, args.last)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    if args.result:
        save(result, args.engine, args.result)
    rows = len(result) if hasattr(result, "__len__") else result.num_rows
    print(json.dumps({"engine": args.engine, "wall": walls, "cpu": cpus, "result_rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
