"""Atomic, deterministic writes of outputs."""

from __future__ import annotations

import glob
import hashlib
import os
import tempfile
from pathlib import Path

import polars as pl


def atomic_write(path: str | Path, write) -> Path:
    """``write(tmp)`` to a temporary file next to ``path``, flushed to disk, readable by
    all (mkstemp creates 0600), then renamed over ``path``: a reader never sees half a file.
    A temporary file of ``path`` left by a run that was killed while writing is removed
    first (DVC writes one stage at a time, so no other writer of ``path`` is running)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def write_parquet(df: pl.DataFrame, path: str | Path) -> Path:
    """Parquet written atomically and byte-for-byte reproducibly (no statistics timestamps)."""
    return atomic_write(path, lambda tmp: df.write_parquet(tmp, compression="zstd", statistics=False))


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
