"""Data lineage printed at the foot of every report."""

from __future__ import annotations

import datetime as _dt
import os
import subprocess
from pathlib import Path

from . import __version__
from .io import sha256


def code_version(root: str | Path = ".") -> str:
    """Package version and git commit (with "+sửa đổi" when the working tree differs)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return f"chiso {__version__} (git {commit}{' + sửa đổi chưa commit' if dirty else ''})"
    except (OSError, subprocess.SubprocessError):
        return f"chiso {__version__}"


def generation_time() -> str:
    """Now, or SOURCE_DATE_EPOCH when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (_dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch
              else _dt.datetime.now(_dt.timezone.utc))
    local = moment.astimezone(_dt.timezone(_dt.timedelta(hours=7)))
    return local.strftime("%d/%m/%Y %H:%M (giờ Việt Nam)")


def file_entries(paths: list[str | Path], root: str | Path = ".") -> list[tuple[str, str]]:
    out = []
    for p in paths:
        path = Path(p)
        shown = os.path.relpath(path, root) if path.is_absolute() else str(path)
        out.append((f"Tệp đầu vào {shown}", f"SHA-256 {sha256(path)[:16]}…" if path.exists() else "không tìm thấy"))
    return out


def generation_iso() -> str:
    """Now (or SOURCE_DATE_EPOCH) as ISO 8601 UTC: the PDF creation date of a report."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (_dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch
              else _dt.datetime.now(_dt.timezone.utc))
    return moment.replace(microsecond=0).isoformat()
