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
    print(f"Kỳ {period}: {result['documents']} báo cáo; notebook {result['notebook_s']} s, "
          f"kết xuất HTML+PDF {result['render_s']} s, tổng {result['total_s']} s (mục tiêu < 30 s)")
    return result


if __name__ == "__main__":
    res = [main(p) for p in (sys.argv[1:] or ["2024-07", "2026-10"])]
    out = ROOT / "benchmarks" / "render_period.json"
    out.write_text(json.dumps(res, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
