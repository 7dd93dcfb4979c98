"""Benchmark: dossiers → counts table at national scale, polars against the alternatives.

    .venv/bin/python benchmarks/run.py --rows 10000000
    .venv/bin/python benchmarks/run.py --rows 1000000 --rows 10000000 --repeat 5
    .venv/bin/python benchmarks/run.py --rows 100000000 --repeat 1        # 1,2 GB of Parquet, run once
    .venv/bin/python benchmarks/run.py --table                            # results as a Markdown table

For each size: generates the synthetic national dossiers if missing
(``data/bench/dossiers_<size>.parquet``, ``chiso.synth_dossiers``, 3.400 synthetic units,
one year), then runs every engine in its own process (``benchmarks/engines.py``):
our polars aggregation, pandas, DuckDB SQL and the floor (polars reading the needed
columns, nothing else). Engines run in rounds (one fresh process per engine and round), so
that other work on the shared machine slows them alike. Reports the best wall time
of the rounds, rows/s, CPU time and the peak memory of the process (RSS high-water
mark from ``wait4``, highest of the rounds), checks that pandas and DuckDB give
exactly the polars counts, and writes
``benchmarks/results.json`` (results of earlier sizes are kept, keys are stable).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from chiso.cliparse import ArgumentParser  # noqa: E402
from chiso.synth_dossiers import DEFAULT_SEED, N_UNITS, write_units  # noqa: E402

BENCH_DATA = ROOT / "data" / "bench"
RESULTS = Path(__file__).with_name("results.json")
ENGINES = ("polars", "duckdb", "pandas", "scan")
TARGETS_TEXT = {
    "polars_10m_under_5s": "10 triệu hồ sơ tổng hợp dưới 5 giây",
    "polars_10x_faster_than_pandas": "nhanh hơn pandas ít nhất 10 lần (10 triệu hồ sơ)",
    "polars_not_slower_than_duckdb": "không chậm hơn DuckDB (10 triệu hồ sơ)",
    "polars_within_1_5x_of_scan": "không quá 1,5 lần thời gian quét cột trần (10 triệu hồ sơ)",
    "polars_100m_peak_under_2gb": "100 triệu hồ sơ, bộ nhớ đỉnh dưới 2 GB",
}


def label(rows: int) -> str:
    for unit, div in (("m", 1_000_000), ("k", 1_000)):
        if rows % div == 0:
            return f"{rows // div}{unit}"
    return str(rows)


def fmt(x: float, decimals: int = 2) -> str:
    from chiso.numbers import fmt_num

    return fmt_num(x, decimals)


def ensure_data(rows: int) -> tuple[Path, Path]:
    BENCH_DATA.mkdir(parents=True, exist_ok=True)
    ignore = BENCH_DATA / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Generated benchmark data: never commit.\n*\n!.gitignore\n", encoding="utf-8")
    data = BENCH_DATA / f"dossiers_{label(rows)}.parquet"
    units = BENCH_DATA / "units.parquet"
    if not data.exists():
        print(f"==> Sinh {rows:,} hồ sơ giả lập: {data}".replace(",", "."), flush=True)
        subprocess.run([sys.executable, "-m", "chiso.synth_dossiers", "--rows", str(rows), "--out", str(data),
                        "--seed", str(DEFAULT_SEED)], check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    if not units.exists():
        write_units(units, seed=DEFAULT_SEED)
    return data, units


def warm(path: Path) -> None:
    """Read the file once so that every engine starts with it in the page cache."""
    with path.open("rb") as fh:
        while fh.read(1 << 24):
            pass


def run_engine(engine: str, data: Path, units: Path, repeat: int, result: Path) -> dict:
    """One engine in its own process; peak RSS of that process from wait4."""
    cmd = [sys.executable, str(Path(__file__).with_name("engines.py")), engine, str(data), str(units),
           "--repeat", str(repeat), "--result", str(result)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT)
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{engine} thất bại (mã {proc.returncode})")
    report = json.loads(out.decode().strip().splitlines()[-1])
    report["peak_mb"] = usage.ru_maxrss / 1024          # Linux: kilobytes
    return report


def same_counts(a: Path, b: Path) -> bool:
    import polars as pl

    keys = ["period", "unit_code", "indicator"]
    x = pl.read_parquet(a).sort(keys)
    y = pl.read_parquet(b).sort(keys)
    return x.shape == y.shape and x.select(keys).equals(y.select(keys)) and \
        x["numerator"].equals(y["numerator"].cast(pl.Float64)) and \
        x["denominator"].equals(y["denominator"].cast(pl.Float64))


def versions() -> dict:
    import duckdb
    import pandas
    import polars
    import pyarrow

    return {"python": platform.python_version(), "polars": polars.__version__, "pandas": pandas.__version__,
            "duckdb": duckdb.__version__, "pyarrow": pyarrow.__version__}


def machine() -> dict:
    mem_kb = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {"cpus": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1), "system": platform.platform()}


def targets(results: dict) -> dict:
    out = {}
    r10 = results.get(str(10_000_000), {})
    if "polars" in r10:
        p = r10["polars"]["seconds"]
        out["polars_10m_under_5s"] = {"met": p < 5, "value": p, "limit": 5.0}
        if "pandas" in r10:
            ratio = r10["pandas"]["seconds"] / p
            out["polars_10x_faster_than_pandas"] = {"met": ratio >= 10, "value": round(ratio, 2), "limit": 10.0}
        if "duckdb" in r10:
            ratio = p / r10["duckdb"]["seconds"]
            out["polars_not_slower_than_duckdb"] = {"met": ratio <= 1, "value": round(ratio, 2), "limit": 1.0}
        if "scan" in r10:
            ratio = p / r10["scan"]["seconds"]
            out["polars_within_1_5x_of_scan"] = {"met": ratio <= 1.5, "value": round(ratio, 2), "limit": 1.5}
    r100 = results.get(str(100_000_000), {})
    if "polars" in r100:
        peak = r100["polars"]["peak_mb"]
        out["polars_100m_peak_under_2gb"] = {"met": peak < 2048, "value": round(peak, 1), "limit": 2048}
    return out


def match_text(entry: dict) -> str:
    """Whether an engine's counts matched polars: "có", "KHÔNG", or "" when not compared."""
    return {True: "có", False: "KHÔNG"}.get(entry.get("matches_polars"), "")


ENGINE_NAMES = {"polars": "polars (chiso)", "duckdb": "DuckDB SQL", "pandas": "pandas", "scan": "quét cột trần (polars)"}


def markdown(doc: dict) -> str:
    """The results as a Markdown table in Vietnamese number format."""
    lines = ["| hồ sơ | công cụ | giây | hồ sơ/giây | CPU (giây) | bộ nhớ đỉnh (MB) | khớp kết quả polars |",
             "|---:|---|---:|---:|---:|---:|---|"]
    for rows, engines in doc["results"].items():
        for engine in ENGINES:
            if engine not in engines:
                continue
            e = engines[engine]
            lines.append(f"| {fmt(int(rows), 0)} | {ENGINE_NAMES[engine]} | {fmt(e['seconds'], 2)} | "
                         f"{fmt(e['rows_per_s'], 0)} | {fmt(e['cpu_seconds'], 2)} | {fmt(e['peak_mb'], 0)} | "
                         f"{match_text(e)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(description="Đo hiệu năng tổng hợp hồ sơ → số liệu chỉ số (polars, pandas, DuckDB, quét trần).")
    p.add_argument("--rows", type=int, action="append", help="số hồ sơ (lặp lại được); mặc định 1000000 và 10000000")
    p.add_argument("--engines", default=",".join(ENGINES), help="các công cụ, cách nhau dấu phẩy (mặc định: tất cả)")
    p.add_argument("--repeat", type=int, help="số lần đo mỗi công cụ, lấy lần nhanh nhất (mặc định 5; 1 từ 100 triệu)")
    p.add_argument("--out", default=str(RESULTS), help="tệp kết quả JSON (mặc định benchmarks/results.json)")
    p.add_argument("--table", action="store_true", help="chỉ in bảng Markdown từ tệp kết quả đã có (cho docs/scale.md)")
    args = p.parse_args(argv)
    if args.table:
        print(markdown(json.loads(Path(args.out).read_text(encoding="utf-8"))))
        return 0
    sizes = args.rows or [1_000_000, 10_000_000]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        p.error(f"công cụ không có: {', '.join(sorted(unknown))}")
    out_path = Path(args.out)
    doc = json.loads(out_path.read_text(encoding="utf-8")) if out_path.exists() else {}
    results = doc.get("results", {})
    print(f"{'hồ sơ':>13} {'công cụ':<8} {'giây':>8} {'hồ sơ/giây':>14} {'CPU (giây)':>11} {'bộ nhớ đỉnh (MB)':>17}  khớp polars")
    with tempfile.TemporaryDirectory(prefix="chiso-bench-") as tmp:
        for rows in sizes:
            data, units = ensure_data(rows)
            warm(data)
            repeat = args.repeat or (1 if rows >= 50_000_000 else 5)
            size = results.setdefault(str(rows), {})
            started = dt.datetime.now().astimezone().isoformat(timespec="seconds")
            load = [round(x, 2) for x in os.getloadavg()]
            # Rounds of one run per engine, interleaved: a burst of other work on the
            # shared machine then slows every engine alike instead of one of them.
            runs: dict[str, list[dict]] = {e: [] for e in engines}
            for r in range(repeat):
                for engine in engines:
                    res = Path(tmp) / f"{engine}_{rows}_{r}.parquet"
                    runs[engine].append(run_engine(engine, data, units, 1, res))
            for engine in engines:
                walls = [x["wall"][0] for x in runs[engine]]
                best = min(walls)
                entry = {
                    "seconds": round(best, 4),
                    "seconds_all": [round(x, 4) for x in walls],
                    "cpu_seconds": round(min(x["cpu"][0] for x in runs[engine]), 4),
                    "rows_per_s": round(rows / best),
                    "peak_mb": round(max(x["peak_mb"] for x in runs[engine]), 1),
                    "result_rows": runs[engine][0]["result_rows"],
                    "repeat": repeat,
                    "measured_at": started,
                    "load_average_before": load,   # other work on the machine inflates wall times
                }
                polars_res = Path(tmp) / f"polars_{rows}_0.parquet"
                if engine in ("pandas", "duckdb") and polars_res.exists():
                    entry["matches_polars"] = all(same_counts(polars_res, Path(tmp) / f"{engine}_{rows}_{r}.parquet")
                                                  for r in range(repeat))
                size[engine] = entry
                print(f"{fmt(rows, 0):>13} {engine:<8} {fmt(best, 3):>8} {fmt(rows / best, 0):>14} "
                      f"{fmt(entry['cpu_seconds'], 2):>11} {fmt(entry['peak_mb'], 0):>17}  {match_text(entry)}",
                      flush=True)
            size["file_mb"] = round(data.stat().st_size / 2**20, 1)
    doc = {
        "benchmark": "dossiers → counts (every unit × month × dossier metric), one year of synthetic national dossiers",
        "seed": DEFAULT_SEED,
        "units": N_UNITS,
        "periods": "2024-01..2024-12",
        "machine": machine(),
        "versions": versions(),
        "results": dict(sorted(results.items(), key=lambda kv: int(kv[0]))),
    }
    doc["targets"] = targets(doc["results"])
    from chiso.io import atomic_write_text

    atomic_write_text(out_path, json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    print()
    for key, t in doc["targets"].items():
        print(f"{'ĐẠT ' if t['met'] else 'CHƯA'}  {TARGETS_TEXT[key]}: {fmt(t['value'], 2)} (ngưỡng {fmt(t['limit'], 1)})")
    print(f"Đã ghi {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
