#!/usr/bin/env bash
# Set up everything and run the pipeline on the embedded data.
#   bash scripts/setup.sh              # venv + pinned packages + dvc repro
#   bash scripts/setup.sh --no-repro   # venv + pinned packages only (used by the tests)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON_BIN="${PYTHON:-}"
if [ -z "$PYTHON_BIN" ]; then
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON_BIN="$candidate"; break
    fi
  done
fi
if [ -z "$PYTHON_BIN" ]; then
  echo "Lỗi: cần Python 3.11 (không tìm thấy python3.11). Error: Python 3.11 is required." >&2
  exit 1
fi

stamp=.venv/.chiso-installed
want="$(cat requirements.lock pyproject.toml | "$PYTHON_BIN" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [ ! -x .venv/bin/python ]; then
  echo "==> Tạo môi trường ảo .venv ($("$PYTHON_BIN" --version))"
  "$PYTHON_BIN" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> Cài các gói đã ghim phiên bản (requirements.lock)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi

if [ "${1:-}" = "--no-repro" ]; then
  exit 0
fi

export PATH="$PWD/.venv/bin:$PATH"
export DVC_NO_ANALYTICS=1
echo "==> Chạy quy trình: dvc repro"
dvc repro
echo
echo "Xong. Báo cáo nằm trong thư mục reports/:"
find reports -path '*/districts' -prune -o \( -name 'report.html' -o -name 'report.pdf' \) -print | sort | sed 's/^/  /'
echo "  cùng $(find reports -path '*/districts/*.html' ! -name index.html | wc -l) báo cáo huyện (reports/<tháng>/districts/index.html)"
echo "  và kết quả kiểm tra số liệu: reports/<kỳ hoặc bảng>/validation.html"
echo "Mở trước: reports/trend/report.html (diễn biến toàn tỉnh) và reports/$(ls reports | grep -E '^[0-9]{4}-[0-9]{2}$' | sort | tail -1)/report.html (tháng mới nhất)."

