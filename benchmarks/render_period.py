"""Benchmark: build and render every report of one period (province + former districts).

Usage: .venv/bin/python benchmarks/render_period.py 2024-07   (after `dvc repro`)
Prints the seconds spent executing the report notebook (papermill) and rendering
HTML + PDF, and the number of documents. Target: under 30 s per period on 2 cores.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from chiso.cliparse import ArgumentParser  # noqa: E402
from chiso.numbers import fmt_num  # noqa: E402


def main(period: str) -> dict:
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        nb = Path(tmp) / "report.ipynb"
        t0 = time.perf_counter()
        subprocess.run([str(bin_dir / "papermill"), "notebooks/13_period_report.ipynb", str(nb), "-k", "python3",
                        "--no-progress-bar", "--log-level", "WARNING", "-r", "period", period],
                       cwd=ROOT, check=True, capture_output=True)
        t1 = time.perf_counter()
        from chiso.render import render_documents

        written = render_documents(nb, Path(tmp) / "report.html", Path(tmp) / "report.pdf", Path(tmp) / "districts",
                                   engine="builtin")
        t2 = time.perf_counter()
    result = {"period": period, "documents": len(written) // 2, "notebook_s": round(t1 - t0, 2),
              "render_s": round(t2 - t1, 2), "total_s": round(t2 - t0, 2)}
    print(f"Kỳ {period}: {result['documents']} báo cáo; notebook {fmt_num(result['notebook_s'])} giây, "
          f"kết xuất HTML+PDF {fmt_num(result['render_s'])} giây, tổng {fmt_num(result['total_s'])} giây "
          f"(mục tiêu dưới 30 giây)")
    return result


def cli(argv: list[str] | None = None) -> int:
    p = ArgumentParser(description="Đo thời gian chạy notebook báo cáo và kết xuất HTML, PDF mọi báo cáo của một "
                                   "tháng (sau dvc repro); ghi kết quả vào benchmarks/render_period.json.")
    p.add_argument("periods", nargs="*", default=["2024-07", "2026-10"],
                   help="các tháng cần đo, dạng YYYY-MM (mặc định: 2024-07 và 2026-10)")
    res = [main(period) for period in p.parse_args(argv).periods]
    out = ROOT / "benchmarks" / "render_period.json"
    out.write_text(json.dumps(res, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
