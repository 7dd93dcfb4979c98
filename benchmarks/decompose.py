"""Where the time of the dossier → counts aggregation goes, step by step, in one process.

    .venv/bin/python benchmarks/decompose.py                 # 10 M rows (generated if missing)
    .venv/bin/python benchmarks/decompose.py --rows 1000000 --repeat 9

Each step adds work to the one before, on the same file, warm, best of ``--repeat``:

1. the floor of ``run.py``: read the 12 columns the aggregation needs (nothing else);
2. read only the 5 columns the grouping key is made of (unit, received, due and
   finished dates, supplement waiting days);
3. the grouping pass with no counter: the key (unit × received × finished × due
   period) and the row count of each group (``chiso.dossiers._grouped`` with no flag);
4. the grouping pass as ``aggregate`` runs it: the same with the 12 yes/no counters;
5. ``chiso.dossiers.aggregate`` whole: 4, then the sums per period and the
   652.800-row counts table.

Prints seconds and the ratio to step 1. The question it answers: how far from the
floor is the grouping itself, before any counter or output table.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).parent))

KEY_COLUMNS = ["unit_code", "received_date", "due_date", "finished_date", "supplement_wait_days"]


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    from chiso import dossiers
    from chiso.cliparse import ArgumentParser
    from chiso.numbers import fmt_num
    from engines import COLUMNS, month_index, month_label, read_columns, run_scan
    from run import ensure_data

    p = ArgumentParser(description="Thời gian từng bước của phép tổng hợp hồ sơ (một tiến trình, đã nạp sẵn).")
    p.add_argument("--rows", type=int, default=10_000_000, help="số hồ sơ (mặc định 10000000)")
    p.add_argument("--repeat", type=int, default=7, help="số lần đo mỗi bước, lấy lần nhanh nhất (mặc định 7)")
    p.add_argument("--first", default="2024-01", help="tháng đầu, dạng YYYY-MM (mặc định 2024-01)")
    p.add_argument("--last", default="2024-12", help="tháng cuối, dạng YYYY-MM (mặc định 2024-12)")
    args = p.parse_args(argv)

    data, units = ensure_data(args.rows)
    labels = [month_label(i) for i in range(month_index(args.first), month_index(args.last) + 1)]
    seq = [dossiers.parse_period(x) for x in labels]
    aliases = dossiers.load_aliases()
    lf = dossiers._source_frame(str(data), "dossiers", aliases, check=False)
    due, flags = dossiers._dossier_inputs(set(lf.collect_schema().names()), aliases)
    assert sorted(KEY_COLUMNS) == sorted(c for c in COLUMNS if c in KEY_COLUMNS)

    steps = [
        ("1. quét trần 12 cột (mốc so sánh)", lambda: run_scan(str(data), str(units), args.first, args.last)),
        ("2. quét 5 cột làm khóa nhóm", lambda: read_columns(str(data), KEY_COLUMNS)),
        ("3. gom nhóm, chỉ đếm hồ sơ", lambda: dossiers._grouped(lf, seq, {}, due=due, with_names=False,
                                                                 engine="streaming")),
        ("4. gom nhóm với 12 bộ đếm", lambda: dossiers._grouped(lf, seq, flags, due=due, with_names=False,
                                                                engine="streaming")),
        ("5. aggregate trọn vẹn", lambda: dossiers.aggregate(str(data), labels, units=str(units), check=False)),
    ]
    for _, fn in steps:     # warm: page cache, polars thread pool
        fn()
    print(f"{fmt_num(args.rows, 0)} hồ sơ, {len(labels)} kỳ, lần nhanh nhất trong {args.repeat} lần đo")
    floor = None
    for name, fn in steps:
        s = best(fn, args.repeat)
        floor = floor or s
        print(f"{name:<38} {fmt_num(s, 3):>7} giây  {fmt_num(s / floor, 2):>5} × mốc")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
