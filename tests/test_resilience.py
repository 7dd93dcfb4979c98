"""No loss, determinism and safety.

* No loss: a pipeline killed mid-stage (SIGKILL of the whole ``dvc repro`` process
  group) leaves every earlier output intact, byte for byte, and a second
  ``dvc repro`` completes; a failing month leaves the other months untouched;
  every writer of the pipeline writes through ``chiso.io`` (atomic).
* Determinism: two clean runs of the published-table stages, in two copies, give
  byte-identical ``data/processed/`` and, with ``SOURCE_DATE_EPOCH``, byte-identical
  HTML and PDF reports.
* Safety: text from inputs is escaped in HTML; lists of personal names are redacted unless
  ``report.show_personal_names`` is true.

The slow tests use one published table only (``dvc repro validate score report``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from .pipeline_utils import ROOT, copy_repo, env

TABLE = "dienbiendong_2024-06"
EPOCH = "1735689600"  # 2025-01-01T00:00:00Z
# The byte-for-byte runs use polars' default thread pool, as analysts do: the totals of
# a parallel group-by are made order-free by ``scoring._stable_sum``
# (test_unit_totals_do_not_depend_on_threads), so no thread count is pinned.
DETERMINISTIC_ENV = {"SOURCE_DATE_EPOCH": EPOCH}


def _hashes(root: Path, *folders: str, skip: tuple[str, ...] = ("notebooks",)) -> dict[str, str]:
    """SHA-256 of every file under ``folders``, byte for byte (no output records run times:
    test_uncertainty_json_records_no_timing)."""
    out = {}
    for folder in folders:
        base = root / folder
        if not base.exists():
            continue
        for p in sorted(base.rglob("*")):
            if p.is_file() and not any(part in skip for part in p.relative_to(root).parts):
                out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _env(**extra: str) -> dict[str, str]:
    e = env()
    e.update(extra)
    return e


def _dvc(cmd: list[str], cwd: Path, timeout: int = 600, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["dvc", *cmd], cwd=cwd, env=_env(**extra), capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------------------
# No loss: kill -9 in the middle of a stage, then resume
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def one_table_copy(tmp_path_factory) -> Path:
    def edit(params):
        params["published"]["tables"] = [TABLE]
        params["periods"] = []
        params["national_portal"]["captures"] = []
        params["qd1187"]["reports"] = []

    dest = copy_repo(tmp_path_factory.mktemp("kill"), edit)
    done = _dvc(["repro", "validate", "score", "report"], dest, **DETERMINISTIC_ENV)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return dest


def _stage_outs(root: Path) -> dict[str, set[str]]:
    """Outputs of every stage of dvc.yaml (``foreach`` stages expanded for TABLE), as paths."""
    import yaml

    stages = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    out: dict[str, set[str]] = {}
    for name, st in stages.items():
        body = st.get("do", st)
        label = f"{name}@{TABLE}" if "foreach" in st else name
        paths = [next(iter(o)) if isinstance(o, dict) else o for o in body.get("outs", []) + body.get("metrics", [])]
        out[label] = {p.replace("${item}", TABLE) for p in paths}
    return out


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the dvc process group and every process it started (papermill's kernel
    runs in a session of its own)."""
    import psutil

    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    os.killpg(proc.pid, signal.SIGKILL)
    for child in family:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    proc.wait(timeout=30)


def test_kill_mid_stage_keeps_outputs_and_resumes(one_table_copy):
    root = one_table_copy
    before = _hashes(root, "data/processed", "reports")
    assert any(k.endswith("units.parquet") for k in before) and any(k.endswith("report.pdf") for k in before)
    log = root / "kill.log"
    with log.open("w") as out:
        proc = subprocess.Popen(["dvc", "repro", "-f", "validate", "score", "report"], cwd=root,
                                env=_env(**DETERMINISTIC_ENV), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    target = f"Running stage 'score@{TABLE}'"
    deadline = time.monotonic() + 300
    try:
        while target not in log.read_text(errors="replace"):
            assert proc.poll() is None, "dvc repro ended before the stage to kill started:\n" + log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        time.sleep(1)  # papermill is starting the kernel / running the notebook
        assert proc.poll() is None, "the stage ended before it could be killed"
        assert (root / ".dvc" / "tmp" / "rwlock").exists()
    finally:
        if proc.poll() is None:
            _kill_group(proc)
    assert proc.returncode == -signal.SIGKILL

    # every output that is still there is byte-identical to the one before the run; outputs
    # may be missing only for the stage that was killed and the stages not started yet (DVC
    # removes a stage's outputs before running it); completed stages' outputs are all there
    after = _hashes(root, "data/processed", "reports")
    changed = {k for k in after if k in before and after[k] != before[k]}
    assert not changed, changed
    started = re.findall(r"Running stage '([^']+)'", log.read_text(errors="replace"))
    assert len(started) >= 2 and started[-1] != f"report@{TABLE}", started  # killed after validate, before report
    outs = _stage_outs(root)
    completed = {o for st in started[:-1] for o in outs[st]}
    missing = {k for k in before if k not in after}
    assert not (missing & completed), missing & completed
    assert missing <= {o for st, os_ in outs.items() if st not in started[:-1] for o in os_}, missing
    for k in (f"data/processed/{TABLE}/points.parquet", f"reports/{TABLE}/validation.html",
              f"reports/{TABLE}/report.html", f"reports/{TABLE}/report.pdf"):
        assert after[k] == before[k], k  # the earlier stage's and the next stage's outputs survive

    # resume: `dvc repro` removes the dead process from .dvc/tmp/rwlock by itself
    again = _dvc(["repro", "validate", "score", "report"], root, **DETERMINISTIC_ENV)
    if again.returncode != 0 and "rwlock" in again.stderr:  # documented fallback
        (root / ".dvc" / "tmp" / "rwlock").unlink()
        again = _dvc(["repro", "validate", "score", "report"], root, **DETERMINISTIC_ENV)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    # the killed stage is run again, or restored from DVC's run cache (same deps, same command)
    killed = started[-1]
    assert f"Running stage '{killed}'" in again.stdout or f"Stage '{killed}' is cached" in again.stdout, again.stdout
    assert _hashes(root, "data/processed", "reports") == before  # same bytes as the first run
    status = _dvc(["status", "validate", "score", "report"], root)
    assert "up to date" in status.stdout.lower(), status.stdout


def test_a_failing_month_leaves_other_months_intact(tmp_path):
    """A broken export for 2024-07 stops that month; 2024-06's outputs do not move."""
    from chiso import periods

    from .bad_inputs import builders

    root = builders.period_root({"c": builders.write("bieu_mau.csv", builders.TEMPLATE)})(tmp_path)
    periods.ingest_period("2024-06", "params.yaml", root)
    periods.score_period("2024-06", "params.yaml", root)
    before = _hashes(root, "data/processed/periods/2024-06", "reports/2024-06", skip=())
    bad = root / "data" / "raw" / "2024-07"
    bad.mkdir(parents=True)
    (bad / "bieu_mau.csv").write_text(builders.TEMPLATE.replace("2024-06", "2024-07").replace("on_time,45,50",
                                                                                              "on_time,55,50"))
    from chiso.errors import InputError

    with pytest.raises(InputError):
        periods.ingest_period("2024-07", "params.yaml", root)
    assert _hashes(root, "data/processed/periods/2024-06", "reports/2024-06", skip=()) == before
    assert not (root / "data/processed/periods/2024-07/counts.parquet").exists()
    assert "KHÔNG ĐẠT" in (root / "reports/2024-07/validation.html").read_text(encoding="utf-8")


# Writers that may write without chiso.io: into a temporary folder first, or output
# the user asked for on the command line of a tool that is not a pipeline stage.
WRITE_ALLOWED = {
    "io.py": "the atomic writers themselves",
    "render/quarto.py": "inside a TemporaryDirectory, then chiso.io.atomic_write_bytes",
    "render/pdf.py": "inside a TemporaryDirectory, then chiso.io.atomic_write_bytes",
    "synth.py": "a whole month written in a temporary folder, then moved (os.replace)",
    "whatif.py": "`--out` of a CLI comparison (not a pipeline output)",
    "dossiers.py": "writes through chiso.io (atomic_write, atomic_write_text)",
}
WRITE_CALL = re.compile(r"\.write_(?:csv|parquet|json|text|bytes|excel|ipc)\((?!\))|open\([^)]*['\"][wax]b?['\"]"
                        r"|\.savefig\([^)]*(?<!buf)[,)]|json\.dump\(")


def test_every_pipeline_writer_is_atomic():
    """No module of src/chiso writes a file in place, except the allowed ones above."""
    offenders = []
    src = ROOT / "src" / "chiso"
    for path in sorted(src.rglob("*.py")):
        rel = str(path.relative_to(src))
        if rel in WRITE_ALLOWED:
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if WRITE_CALL.search(code) and "savefig(buf" not in code:
                offenders.append(f"{rel}:{i}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_atomic_write_leaves_the_old_file_when_interrupted(tmp_path, monkeypatch):
    from chiso import io

    target = tmp_path / "units.parquet"
    io.write_parquet(pl.DataFrame({"a": [1]}), target)
    old = target.read_bytes()

    def boom(self, *a, **k):
        Path(a[0]).write_bytes(b"partial")
        raise KeyboardInterrupt  # what a kill between two writes looks like to Python

    monkeypatch.setattr(pl.DataFrame, "write_parquet", boom)
    with pytest.raises(KeyboardInterrupt):
        io.write_parquet(pl.DataFrame({"a": [2]}), target)
    assert target.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["units.parquet"]  # no temporary file left



def test_atomic_write_removes_the_temporary_file_a_killed_run_left(tmp_path):
    """A SIGKILL during a write leaves ``.units.parquet.<random>.tmp`` (no Python cleanup
    runs); the next write of that file removes it, and no other file's."""
    from chiso import io

    target = tmp_path / "units.parquet"
    left = tmp_path / ".units.parquet.k1ll3d.tmp"
    other = tmp_path / ".groups.parquet.k1ll3d.tmp"
    left.write_bytes(b"partial")
    other.write_bytes(b"partial")
    io.write_parquet(pl.DataFrame({"a": [1]}), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".groups.parquet.k1ll3d.tmp", "units.parquet"]
    assert pl.read_parquet(target)["a"].to_list() == [1]

# ---------------------------------------------------------------------------
# Determinism: two clean runs, two copies
# ---------------------------------------------------------------------------
RUN_STAGES = """
import sys
from chiso import stages
from chiso.render import to_pdf, write_html
from chiso.reports.monthly import build_published_report
from chiso.uncertainty import uncertainty_stage

for t in sys.argv[1:]:
    stages.validate_published(t)
    stages.score_published(t)
    uncertainty_stage(t)
    blocks = build_published_report(t)
    write_html(blocks[0], blocks[1:], f"reports/{t}/report.html")
    to_pdf(blocks[0], blocks[1:], f"reports/{t}/report.pdf")
"""
TABLES = ["huyen-dienbien_2023-07", "dienbiendong_2024-06"]


def _clean_copy(dest: Path) -> Path:
    (dest / "data" / "raw").mkdir(parents=True)
    shutil.copytree(ROOT / "data" / "raw" / "published", dest / "data" / "raw" / "published")
    shutil.copy(ROOT / "params.yaml", dest / "params.yaml")
    return dest


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> list[Path]:
    """The published-table stages (validate, score, report) run in two fresh copies."""
    base = tmp_path_factory.mktemp("det")
    roots = [_clean_copy(base / "a"), _clean_copy(base / "b")]
    for root in roots:
        proc = subprocess.run([sys.executable, "-c", RUN_STAGES, *TABLES], cwd=root, capture_output=True, text=True,
                              env=_env(**DETERMINISTIC_ENV), timeout=600)
        assert proc.returncode == 0, proc.stderr[-4000:]
    return roots


def test_two_clean_runs_give_identical_data(two_runs):
    a, b = (_hashes(r, "data/processed") for r in two_runs)
    assert len(a) >= 2 * 8 and a.keys() == b.keys()
    assert {k for k in a if a[k] != b[k]} == set()
    for t in TABLES:
        ma = json.loads((two_runs[0] / "data/processed" / t / "metrics.json").read_text())
        assert ma == json.loads((two_runs[1] / "data/processed" / t / "metrics.json").read_text())


def test_uncertainty_json_records_no_timing(two_runs):
    for t in TABLES:
        data = json.loads((two_runs[0] / "data/processed" / t / "uncertainty.json").read_text(encoding="utf-8"))
        assert "seconds" not in json.dumps(data)


def test_two_clean_runs_give_identical_reports(two_runs):
    a, b = (_hashes(r, "reports") for r in two_runs)
    assert a.keys() == b.keys() and len(a) >= 2 * 3
    for t in TABLES:
        html = (two_runs[0] / "reports" / t / "report.html").read_text(encoding="utf-8")
        assert "01/01/2025 07:00" in html  # SOURCE_DATE_EPOCH is the generation time printed
    assert {k for k in a if a[k] != b[k]} == set()


def test_unit_totals_do_not_depend_on_threads():
    from chiso import methodology, published, scoring

    meth = methodology.load("qd459-2023")
    pts = published.points_long(published.read_published(ROOT / "data/raw/published/huyen-dienbien_2023-07.csv", meth),
                                meth)
    seen = {tuple(scoring.unit_scores(pts, meth).sort("unit")["total"].to_list()) for _ in range(300)}
    assert len(seen) == 1


# ---------------------------------------------------------------------------
# Safety: escaping, names, personal names
# ---------------------------------------------------------------------------
XSS = "<script>alert(1)</script>"


def test_unit_name_with_markup_is_text_in_every_html(tmp_path):
    """A unit named <script>…</script> in a published table: escaped in report.html and validation.html."""
    from chiso import stages
    from chiso.render import write_html
    from chiso.reports.monthly import build_published_report

    root = _clean_copy(tmp_path / "x")
    csv = root / "data/raw/published" / f"{TABLE}.csv"
    text = csv.read_text(encoding="utf-8")
    row = 'UBND Luân Giới,"UBND các xã, thị trấn",-,0,-,30,10,'
    assert row in text
    # the unit also breaks a warning rule (11 of 10 points), so that validation.html lists it
    csv.write_text(text.replace(row, f'"{XSS}","UBND các xã, thị trấn",-,0,-,30,11,'), encoding="utf-8")
    stages.validate_published(TABLE, root=root)
    stages.score_published(TABLE, root=root)
    blocks = build_published_report(TABLE, root=root)
    write_html(blocks[0], blocks[1:], root / "report.html")
    for page in (root / "report.html", root / "reports" / TABLE / "validation.html"):
        html = page.read_text(encoding="utf-8")
        assert XSS not in html, page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, page


@pytest.mark.parametrize("bad", ["../2024-06", "2024-06/..", "/etc", "2024-6", "..", "2024-13"])
def test_period_names_cannot_leave_the_data_folders(bad, tmp_path):
    from chiso import periods
    from chiso.errors import InputError

    for fn in (periods.raw_dir, periods.processed_dir, periods.reports_dir):
        with pytest.raises(InputError, match="không hợp lệ"):
            fn(bad, tmp_path)


@pytest.mark.parametrize("bad", ["../huyen", "a/b", "..", ".hidden", "x..y", "a b", "", "/abs"])
def test_table_ids_cannot_leave_the_data_folders(bad):
    from chiso.errors import InputError
    from chiso.stages import Layout

    from chiso.compare import national_portal_dir, national_portal_stage, qd1187_dir, qd1187_stage

    for fn in (Layout, national_portal_dir, qd1187_dir, national_portal_stage, qd1187_stage):
        with pytest.raises(InputError, match="Mã .* không hợp lệ"):
            fn(bad)


def test_table_ids_of_params_are_valid():
    import yaml

    from chiso.stages import Layout

    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    for t in params["published"]["tables"]:
        assert Layout(t).raw_csv.name == f"{t}.csv"
    from chiso.compare import national_portal_dir, qd1187_dir

    for c in params["national_portal"]["captures"]:
        assert national_portal_dir(c).name == c and (ROOT / "data/raw/national-portal" / f"{c}.json").exists()
    for r in params["qd1187"]["reports"]:
        assert qd1187_dir(r).name == r and (ROOT / "data/raw/qd1187" / r).is_dir()


def test_listed_names_are_redacted_to_their_count():
    """The reason of PAR criterion 5.4 names five disciplined officials: the redacted text
    keeps what comes before and after the list and says how many, with no word of a name."""
    from chiso import privacy

    crit = pl.read_csv(ROOT / "data/raw/annual/par_criteria_2024.csv", infer_schema=False)
    row = crit.filter(pl.col("code") == "5.4")
    assert row["contains_personal_names"][0] == "true"
    reason = row["reason"][0]
    names = ["Đặng Thị Hương", "Đỗ Trung Kiên", "Trương Thị Thanh Huệ", "Tòng Văn Trung", "Lê Xuân Hồng"]
    assert all(n in reason for n in names)
    out = privacy.redact_listed_names(reason, "[{n} trường hợp, họ tên được lược bỏ]")
    assert not any(n in out for n in names) and "Phó Trưởng phòng" not in out
    assert out.startswith(reason.split(":")[0] + ": [05 trường hợp, họ tên được lược bỏ].")
    assert out.endswith(reason.rpartition(". ")[2].strip()) and "Thể hiện tại báo cáo 246/BC-UBND" in out
    assert privacy.redact_listed_names("Không có danh sách", "[{n} trường hợp]") == "[? trường hợp]"


def test_privacy_follows_params():
    from chiso import privacy

    assert privacy.show_personal_names({"report": {"show_personal_names": True}}) is True
    assert privacy.show_personal_names({"report": {}}) is False
    assert privacy.show_personal_names(None) is False
    import yaml

    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    assert privacy.show_personal_names(params) is False  # the default in the repository
