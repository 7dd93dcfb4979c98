"""Synthetic national dossier exports for benchmarks (SYNTHETIC DATA, not real units).

``generate(rows, path, seed=...)`` writes a dossier table in the canonical schema of
``chiso.dossiers`` (``DOSSIER_SCHEMA``) to Parquet, one chunk (row group) at a time,
so that 100 M rows never sit in memory. ``synthetic_units(seed)`` is the national
unit list it draws from: 3.400 units in 34 synthetic provinces (12 provincial
agencies each plus communes/wards). Every code starts with ``SYN.`` and every
name with ``[Giả lập]`` so that nobody mistakes them for real units.

Distributions (all seeded, deterministic):

* unit sizes are heavy-tailed (log-normal, agencies larger), about 1 % of units
  receive no dossier at all (they exercise the no-dossier policy);
* received dates follow working days of the year (Saturday and Sunday rare), rows
  are ordered by received date as exports usually are (row-group statistics then
  let a period filter skip row groups);
* each unit has its own online share, late rate, digitisation and e-result rates;
* a few dossiers have supplement requests (some with the waiting days, some
  without), a few are unfinished at the export date, a few are stale and never
  finished; some resolved dossiers carry a satisfaction rating.

Same ``seed``, ``rows``, ``year`` and ``chunk_rows`` → byte-identical Parquet.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from .cliparse import ArgumentParser
from .dossiers import CHANNELS
from .io import atomic_write
from .synth import seeded_rng

N_PROVINCES = 34
AGENCIES_PER_PROVINCE = 12
N_UNITS = 3_400
DEFAULT_CHUNK_ROWS = 1_000_000
AGENCY_GROUP = "Sở, ban, ngành cấp tỉnh"
COMMUNE_GROUP = "UBND xã, phường"
N_PROCEDURES = 1_500
TIME_LIMITS = np.array([0, 1, 2, 3, 5, 7, 10, 15, 20, 30], dtype=np.int32)
TIME_LIMIT_P = np.array([0.08, 0.12, 0.08, 0.22, 0.15, 0.10, 0.10, 0.07, 0.05, 0.03])


DEFAULT_SEED = 20240601


def synthetic_units(seed: int = DEFAULT_SEED) -> pl.DataFrame:
    """The synthetic national unit list with the per-unit parameters of the generator.

    Columns: ``unit_code, unit_name, unit_group, province`` and the generator's
    parameters (``weight`` = share of national dossiers, ``online_share``,
    ``late_rate``, ``pay_online_share``, ``digitised_rate``, ``e_result_rate``).
    """
    rng = seeded_rng(seed, 0)
    n_communes = N_UNITS - N_PROVINCES * AGENCIES_PER_PROVINCE
    # communes per province: uneven (40 to 160), adding up exactly
    share = rng.gamma(4.0, 1.0, N_PROVINCES)
    per_prov = np.floor(share / share.sum() * n_communes).astype(int)
    per_prov[: n_communes - per_prov.sum()] += 1
    codes, names, groups, provinces = [], [], [], []
    for p in range(N_PROVINCES):
        prov = f"P{p + 1:02d}"
        for a in range(AGENCIES_PER_PROVINCE):
            codes.append(f"SYN.{prov}.S{a + 1:02d}")
            names.append(f"[Giả lập] Sở số {a + 1:02d} tỉnh giả lập {p + 1:02d}")
            groups.append(AGENCY_GROUP)
            provinces.append(prov)
        for c in range(per_prov[p]):
            kind = "Phường" if c % 9 == 0 else "Xã"
            codes.append(f"SYN.{prov}.X{c + 1:03d}")
            names.append(f"[Giả lập] {kind} số {c + 1:03d} tỉnh giả lập {p + 1:02d}")
            groups.append(COMMUNE_GROUP)
            provinces.append(prov)
    n = len(codes)
    agency = np.array([g == AGENCY_GROUP for g in groups])
    weight = rng.lognormal(0.0, 1.3, n) * np.where(agency, 3.0, 1.0)
    weight[rng.random(n) < 0.01] = 0.0          # units without dossiers
    weight = weight / weight.sum()
    return pl.DataFrame({
        "unit_code": codes,
        "unit_name": names,
        "unit_group": groups,
        "province": provinces,
        "weight": weight,
        "online_share": np.where(agency, rng.beta(3, 2, n), rng.beta(2, 3, n)),
        "late_rate": rng.beta(1.0, 25.0, n),
        "pay_online_share": rng.beta(2, 3, n),
        "digitised_rate": rng.beta(5, 2, n),
        "e_result_rate": rng.beta(4, 2, n),
    })


def _day_counts(rows: int, year: int, seed: int) -> tuple[int, np.ndarray]:
    """Dossiers received per day of ``year`` (multinomial over working-day weights)."""
    start = dt.date(year, 1, 1)
    n_days = (dt.date(year + 1, 1, 1) - start).days
    weekday = (np.arange(n_days) + start.weekday()) % 7
    w = np.select([weekday == 5, weekday == 6], [0.15, 0.05], 1.0)
    counts = seeded_rng(seed, 1).multinomial(rows, w / w.sum())
    epoch = (start - dt.date(1970, 1, 1)).days
    return epoch, np.cumsum(counts)


def _chunk(start: int, stop: int, units: pl.DataFrame, epoch: int, cum: np.ndarray,
           export_day: int, seed: int, chunk_no: int) -> pa.Table:
    rng = seeded_rng(seed, 2, chunk_no)
    n = stop - start
    u = units
    unit = rng.choice(u.height, size=n, p=u["weight"].to_numpy()).astype(np.uint32)
    received = (epoch + np.searchsorted(cum, np.arange(start, stop), side="right")).astype(np.int32)
    limit = TIME_LIMITS[rng.choice(len(TIME_LIMITS), size=n, p=TIME_LIMIT_P)]
    due = received + limit
    # supplements: 10 % of dossiers; the export gives the waiting days for 70 % of them
    r = rng.random(n)
    supp = np.select([r < 0.02, r < 0.10], [2, 1], 0).astype(np.int8)
    wait = np.where(supp > 0, rng.integers(1, 11, n) * supp, 0).astype(np.int16)
    wait_known = (supp > 0) & (rng.random(n) < 0.7)
    eff_due = due + np.where(wait_known, wait, 0)
    late = rng.random(n) < u["late_rate"].to_numpy()[unit]
    exact = rng.random(n) < 0.2
    on_time_finish = np.where(exact, eff_due, received + np.floor(rng.random(n) * (eff_due - received + 1)).astype(np.int32))
    late_finish = eff_due + 1 + rng.geometric(0.2, n)
    finished = np.where(late, late_finish, on_time_finish).astype(np.int32)
    unfinished = (finished > export_day) | (rng.random(n) < 0.002)   # not finished at export, or stale
    online = rng.random(n) < u["online_share"].to_numpy()[unit]
    postal = ~online & (rng.random(n) < 0.03)
    channel = np.where(online, 0, np.where(postal, 2, 1)).astype(np.uint32)
    has_fee = rng.random(n) < 0.35
    paid_online = has_fee & (rng.random(n) < np.where(online, u["pay_online_share"].to_numpy()[unit], 0.05))
    digitised = rng.random(n) < u["digitised_rate"].to_numpy()[unit]
    e_result = ~unfinished & (rng.random(n) < u["e_result_rate"].to_numpy()[unit])
    rated = ~unfinished & (rng.random(n) < 0.25)
    level = (rng.choice(4, size=n, p=[0.03, 0.07, 0.40, 0.50]) + 1).astype(np.int8)
    proc = (np.minimum(rng.zipf(1.6, n), N_PROCEDURES) - 1).astype(np.uint32)

    ids = pl.int_range(start, stop, eager=True, dtype=pl.Int64)
    frame = pl.DataFrame({
        "dossier_id": pl.select(pl.lit(f"SYN-{_year_of(epoch)}-") + ids.cast(pl.String).str.zfill(9)).to_series(),
        "unit_code": _enum(units["unit_code"]).gather(unit),
        "unit_name": _enum(units["unit_name"]).gather(unit),
        "procedure_code": _enum(pl.Series(_procedure_codes())).gather(proc),
        "received_date": pl.Series(received).cast(pl.Date),
        "due_date": pl.Series(due).cast(pl.Date),
        "finished_date": pl.Series(finished).cast(pl.Date).scatter(np.flatnonzero(unfinished), None),
        "channel": _enum(pl.Series(CHANNELS)).gather(channel),
        "has_fee": has_fee,
        "paid_online": paid_online,
        "digitised": digitised,
        "e_result": e_result,
        "supplement_count": pl.Series(supp, dtype=pl.Int8),
        "supplement_wait_days": pl.Series(wait, dtype=pl.Int16).scatter(np.flatnonzero(~wait_known), None),
        "satisfaction": pl.Series(level, dtype=pl.Int8).scatter(np.flatnonzero(~rated), None),
    })
    return frame.to_arrow()


def _enum(values: pl.Series) -> pl.Series:
    """``values`` as an Enum series of themselves (the Parquet keeps the Enum, so
    readers get small integer codes: polars Enum, pandas category, DuckDB dictionary)."""
    return values.cast(pl.Enum(values.to_list()))


def _year_of(epoch: int) -> int:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=int(epoch))).year


def _procedure_codes() -> list[str]:
    return [f"SYN-1.{i:06d}" for i in range(N_PROCEDURES)]


def generate(rows: int, path: str | Path, *, seed: int = DEFAULT_SEED, year: int = 2024,
             chunk_rows: int = DEFAULT_CHUNK_ROWS, progress: bool = True,
             compression: str = "lz4") -> Path:
    """Write ``rows`` synthetic dossiers received in ``year`` to ``path`` (Parquet).

    One row group per chunk of ``chunk_rows``; memory stays at one chunk. The export
    is dated 15 January of the next year: dossiers not finished by then are unfinished.
    Written through ``chiso.io``'s atomic writer: a reader never sees half a file.
    """
    path = Path(path)
    units = synthetic_units(seed)
    epoch, cum = _day_counts(rows, year, seed)
    export_day = (dt.date(year + 1, 1, 15) - dt.date(1970, 1, 1)).days
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=rows, unit=" hồ sơ", unit_scale=True, desc=f"Sinh dữ liệu {path.name}", file=sys.stderr)

    def write(tmp: str) -> None:
        writer = None
        try:
            for chunk_no, start in enumerate(range(0, rows, chunk_rows)):
                stop = min(rows, start + chunk_rows)
                table = _chunk(start, stop, units, epoch, cum, export_day, seed, chunk_no)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema, compression=compression,
                                              write_statistics=["received_date", "finished_date", "due_date"])
                writer.write_table(table, row_group_size=chunk_rows)
                if bar is not None:
                    bar.update(stop - start)
            if writer is None:  # rows == 0
                table = _chunk(0, 0, units, epoch, cum, export_day, seed, 0)
                writer = pq.ParquetWriter(tmp, table.schema, compression=compression)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()

    try:
        atomic_write(path, write)
    finally:
        if bar is not None:
            bar.close()
    return path


def write_units(path: str | Path, seed: int = DEFAULT_SEED) -> Path:
    """The synthetic unit list (code, name, group, province) as Parquet."""
    from .io import write_parquet

    return write_parquet(synthetic_units(seed).select("unit_code", "unit_name", "unit_group", "province"), path)


def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(
        prog="python -m chiso.synth_dossiers",
        description="Sinh dữ liệu hồ sơ GIẢ LẬP (3.400 đơn vị giả lập) để đo hiệu năng; không phải dữ liệu thật.",
    )
    p.add_argument("--rows", type=int, required=True, help="số hồ sơ cần sinh (ví dụ 10000000)")
    p.add_argument("--out", required=True, help="tệp Parquet kết quả")
    p.add_argument("--units-out", help="ghi kèm danh sách đơn vị giả lập (Parquet)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"hạt giống ngẫu nhiên (mặc định {DEFAULT_SEED})")
    p.add_argument("--year", type=int, default=2024, help="năm tiếp nhận hồ sơ (mặc định 2024)")
    p.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, help="số dòng mỗi row group")
    p.add_argument("--no-progress", action="store_true", help="không hiện thanh tiến độ")
    return p.run_command(argv, _command)


def _command(args) -> int:
    generate(args.rows, args.out, seed=args.seed, year=args.year, chunk_rows=args.chunk_rows,
             progress=not args.no_progress)
    if args.units_out:
        write_units(args.units_out, seed=args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
