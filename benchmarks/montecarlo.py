"""Benchmark of the Monte Carlo uncertainty analysis (chiso.uncertainty.monte_carlo).

    .venv/bin/python benchmarks/montecarlo.py                 # 10.000 draws on every embedded table
    .venv/bin/python benchmarks/montecarlo.py --draws 20000 --periods 34

Cases: the two published tables (points), the synthetic Điện Biên periods when scored
(``data/processed/periods/*/counts.parquet``: the latest period, then all periods at
once), the Gia Lai national-portal capture (counts, QĐ 766 with its two threshold rules)
and, with ``--periods N``, that capture repeated over N periods (the size of a
multi-year province series, e.g. 130 units × 34 months).
Prints, per case: draws, rows (period × unit), assumptions varied, seconds of the
Monte Carlo itself (the dense model is built once before, timed apart) and the peak
memory it allocated (tracemalloc, numpy arrays included), plus the process's peak RSS.
"""

from __future__ import annotations

import resource
import sys
import time
import tracemalloc
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
PORTAL = ROOT.parent / "shared" / "data" / "national-portal" / "details_GiaLai_10102026.json"


def cases(periods: int, portal: Path):
    from chiso import counts
    from chiso.params import load_methodology, load_params

    params = load_params(ROOT / "params.yaml")
    q459 = load_methodology("qd459-2023", params)
    for table in ("huyen-dienbien_2023-07", "dienbiendong_2024-06"):
        path = ROOT / "data" / "processed" / table / "points.parquet"
        if path.exists():
            yield f"{table} (điểm công bố, QĐ 459)", pl.read_parquet(path), q459
    periods_dir = ROOT / "data" / "processed" / "periods"
    found = sorted(periods_dir.glob("*/counts.parquet")) if periods_dir.is_dir() else []
    if found:
        one = pl.read_parquet(found[-1])
        yield f"Điện Biên (mô phỏng) {found[-1].parent.name}, QĐ 459", one, q459
        if len(found) > 1:
            stacked = pl.concat([pl.read_parquet(f) for f in found], how="diagonal_relaxed")
            yield f"Điện Biên (mô phỏng) × {len(found)} kỳ, QĐ 459", stacked, q459
    if portal.exists():
        c = counts.read_counts(portal)
        q766 = load_methodology("qd766-2022", params)
        yield "Gia Lai 10/10/2026 (số liệu, QĐ 766)", c, q766
        if periods > 1:
            stacked = pl.concat([c.with_columns(pl.lit(f"P{i:02d}").alias("period")) for i in range(periods)])
            yield f"Gia Lai × {periods} kỳ (số liệu, QĐ 766)", stacked, q766


def main(argv: list[str] | None = None) -> int:
    from chiso import uncertainty
    from chiso.cliparse import ArgumentParser
    from chiso.numbers import fmt_num

    p = ArgumentParser(description="Đo thời gian và bộ nhớ của phân tích độ vững Monte Carlo (chiso.uncertainty).")
    p.add_argument("--draws", type=int, default=10_000, help="số lần rút ngẫu nhiên (mặc định 10000)")
    p.add_argument("--seed", type=int, default=20230324, help="hạt giống ngẫu nhiên (mặc định 20230324)")
    p.add_argument("--periods", type=int, default=34,
                   help="lặp bản chụp Cổng DVCQG của Gia Lai thành N kỳ (0: bỏ trường hợp này; mặc định 34)")
    p.add_argument("--portal", type=Path, default=PORTAL, help="tệp JSON bản chụp Cổng DVCQG")
    args = p.parse_args(argv)

    print(f"Python {sys.version.split()[0]}, polars {pl.__version__}, numpy {__import__('numpy').__version__}")
    header = (f"{'trường hợp':<46} {'lần rút':>8} {'dòng':>6} {'giả định':>8} {'dựng (giây)':>11} "
              f"{'MC (giây)':>9} {'đỉnh (MiB)':>10}")
    print(header)
    print("-" * len(header))
    for name, source, meth in cases(args.periods, args.portal):
        t0 = time.perf_counter()
        model = uncertainty.build_model(source, meth, uncertainty.load_assumptions(meth.id))
        build = time.perf_counter() - t0
        uncertainty.monte_carlo(model, draws=200, seed=0)  # warm-up (BLAS threads, first-call costs)
        tracemalloc.start()
        t0 = time.perf_counter()
        result = uncertainty.monte_carlo(model, draws=args.draws, seed=args.seed)
        seconds = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert result.summary.height == model.n_rows
        print(f"{name:<46} {fmt_num(args.draws, 0):>8} {fmt_num(model.n_rows, 0):>6} {len(model.inputs):>8} "
              f"{fmt_num(build):>11} {fmt_num(seconds):>9} {fmt_num(peak / 2**20, 1):>10}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"bộ nhớ thực đỉnh của tiến trình: {fmt_num(rss, 0)} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
