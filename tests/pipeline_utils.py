"""Helpers to run the pipeline in a throw-away copy of the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def project_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                         cwd=ROOT, capture_output=True, check=True).stdout.decode()
    keep = []
    for f in filter(None, out.split("\0")):
        if f.startswith(("data/processed/", "reports/", "data/bench/")) or f == "dvc.lock":
            continue
        if (ROOT / f).is_file():
            keep.append(f)
    return keep


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e.get('PATH', '')}"
    e["DVC_NO_ANALYTICS"] = "1"
    e["GX_ANALYTICS_ENABLED"] = "False"
    return e


def run(cmd: list[str], cwd: Path, timeout: int = 1200, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def copy_repo(dest: Path, edit_params=None) -> Path:
    """Copy the project's files to `dest`, optionally edit params.yaml, and commit them in a new git repo."""
    for f in project_files():
        target = dest / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, target)
    if edit_params:
        import yaml

        p = dest / "params.yaml"
        params = yaml.safe_load(p.read_text(encoding="utf-8"))
        edit_params(params)
        p.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    run(["git", "init", "-q"], dest)
    run(["git", "-c", "user.email=ci@chiso", "-c", "user.name=ci", "add", "-A"], dest)
    run(["git", "-c", "user.email=ci@chiso", "-c", "user.name=ci", "commit", "-qm", "copy"], dest)
    return dest


def stages_run(stdout: str) -> list[str]:
    return [line.split("'")[1] for line in stdout.splitlines() if line.startswith("Running stage '")]
