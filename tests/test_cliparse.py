"""The commands' help and argument errors are Vietnamese (chiso.cliparse)."""

from __future__ import annotations

import argparse
import importlib
import re
import sys

import pytest

from chiso import cliparse

from .helpers import ROOT, benchmark_module

# What argparse writes in English around the project's own texts.
ENGLISH = re.compile(r"usage:|positional arguments|options:|show this help|error:|required|invalid|expected|"
                     r"argument|unrecognized|not allowed|ambiguous|choose from|could match")


# (command, how to call its main with argv)
COMMANDS = {
    "chiso": lambda argv: importlib.import_module("chiso.cli").main(argv),
    "chiso.compare": lambda argv: importlib.import_module("chiso.compare").main(argv),
    "chiso.dossiers": lambda argv: importlib.import_module("chiso.dossiers").main(argv),
    "chiso.synth": lambda argv: importlib.import_module("chiso.synth").main(argv),
    "chiso.synth_dossiers": lambda argv: importlib.import_module("chiso.synth_dossiers").main(argv),
    "chiso.uncertainty": lambda argv: importlib.import_module("chiso.uncertainty").main(argv),
    "chiso.whatif": lambda argv: importlib.import_module("chiso.whatif").main(argv),
    "benchmarks/run.py": lambda argv: benchmark_module("run").main(argv),
    "benchmarks/decompose.py": lambda argv: benchmark_module("decompose").main(argv),
    "benchmarks/montecarlo.py": lambda argv: benchmark_module("montecarlo").main(argv),
    "benchmarks/render_period.py": lambda argv: benchmark_module("render_period").cli(argv),
}
SUBCOMMANDS = {
    "chiso": ["audit", "validate", "score", "render", "compare-runs"],
    "chiso.compare": ["gialai", "qd1187"],
    "chiso.dossiers": ["ingest", "counts"],
}
HELP_CALLS = [(name, []) for name in COMMANDS] + [(name, [sub]) for name, subs in SUBCOMMANDS.items() for sub in subs]


def _run(capsys, name: str, argv: list[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        COMMANDS[name](argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.mark.parametrize(("name", "before"), HELP_CALLS, ids=[" ".join([n, *a]) for n, a in HELP_CALLS])
def test_help_is_vietnamese(capsys, name, before):
    code, out, _ = _run(capsys, name, [*before, "--help"])
    assert code == 0
    assert out.startswith("Cách dùng: ")
    assert "-h, --help" in out and cliparse.HELP_TEXT in out
    assert not ENGLISH.search(out), ENGLISH.search(out)


class _Built(Exception):
    def __init__(self, parser):
        self.parser = parser


def _parsers(parser) -> list:
    """A parser and the parsers of its sub-commands."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [parser, *(q for a in subs for p in a.choices.values() for q in _parsers(p))]


@pytest.mark.parametrize("name", [*COMMANDS, "benchmarks/engines.py"])
def test_every_argument_says_what_it_is_for(monkeypatch, name):
    """Each argument of each command has a help text (an option listed bare tells an
    analyst nothing)."""
    def capture(self, *args, **kwargs):
        raise _Built(self)

    monkeypatch.setattr(cliparse.ArgumentParser, "parse_args", capture)
    with pytest.raises(_Built) as built:
        if name == "benchmarks/engines.py":
            benchmark_module("engines").main()
        else:
            COMMANDS[name]([])
    bare = [f"{p.prog}: {'/'.join(a.option_strings) or a.dest}" for p in _parsers(built.value.parser)
            for a in p._actions if not a.help and not isinstance(a, argparse._SubParsersAction)]
    assert bare == []


def test_engines_help_is_vietnamese(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["engines.py", "--help"])
    with pytest.raises(SystemExit):
        benchmark_module("engines").main()
    out = capsys.readouterr().out
    assert out.startswith("Cách dùng: ") and not ENGLISH.search(out)


@pytest.mark.parametrize(("name", "argv", "message"), [
    ("chiso", [], "chiso: lỗi: thiếu tham số bắt buộc: LỆNH"),
    ("chiso", ["bogus"], "chiso: lỗi: tham số LỆNH: không có lựa chọn 'bogus' (chọn một trong: 'audit', "
                         "'validate', 'score', 'render', 'compare-runs')"),
    ("chiso", ["score", "x.csv"], "chiso score: lỗi: thiếu tham số bắt buộc: --methodology"),
    ("chiso", ["render", "--engine", "x", "a", "b"],
     "chiso render: lỗi: tham số --engine: không có lựa chọn 'x' (chọn một trong: 'auto', 'builtin', 'quarto')"),
    ("chiso", ["audit", "a", "b", "c"], "chiso: lỗi: không hiểu tham số: b c"),
    ("chiso.synth_dossiers", ["--rows", "nhiều", "--out", "x"],
     "python -m chiso.synth_dossiers: lỗi: tham số --rows: 'nhiều' không phải một số nguyên"),
    ("chiso.synth_dossiers", ["--out", "x", "--rows"], "python -m chiso.synth_dossiers: lỗi: tham số --rows: cần một giá trị"),
])
def test_argument_errors_are_vietnamese(capsys, name, argv, message):
    code, out, err = _run(capsys, name, argv)
    assert code == 2 and out == ""
    usage, said = err.rstrip("\n").rsplit("\n", 1)
    assert usage.startswith("Cách dùng: ")
    assert said == message


def _error(parser: cliparse.ArgumentParser, argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit):
        parser.parse_args(argv)
    return capsys.readouterr().err.rstrip("\n").rsplit("\n", 1)[-1]


def test_every_message_argparse_writes_is_translated(capsys, monkeypatch):
    """Each pattern of ``MESSAGES`` is met by a message argparse itself writes, so a
    change of wording in Python's argparse fails here instead of reaching analysts."""
    written = []
    translate = cliparse.translate
    monkeypatch.setattr(cliparse, "translate", lambda message: written.append(message) or translate(message))
    p = cliparse.ArgumentParser(prog="lenh")
    p.add_argument("--mode", choices=["a", "b"])
    p.add_argument("--count", type=int)
    p.add_argument("--pair", nargs=2)
    p.add_argument("--many", nargs="+")
    p.add_argument("--flag", action="store_true")
    p.add_argument("--rate", type=float)
    p.add_argument("--alpha")
    p.add_argument("--alps")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--a1", action="store_true")
    group.add_argument("--a2", action="store_true")
    cases = {
        "--a1 --a2": "lenh: lỗi: tham số --a2: không dùng cùng với tham số --a1",
        "--flag": "lenh: lỗi: cần một trong các tham số --a1 --a2",
        "--a1 --pair 1": "lenh: lỗi: tham số --pair: cần 2 giá trị",
        "--a1 --many": "lenh: lỗi: tham số --many: cần ít nhất một giá trị",
        "--a1 --flag=có": "lenh: lỗi: tham số --flag: tham số này không nhận giá trị ('có')",
        "--a1 --rate 1,5": "lenh: lỗi: tham số --rate: '1,5' không phải một số",
        "--a1 --alp x": "lenh: lỗi: tùy chọn --alp chưa rõ, có thể là: --alpha, --alps",
        "--a1 --mode c": "lenh: lỗi: tham số --mode: không có lựa chọn 'c' (chọn một trong: 'a', 'b')",
        "--a1 --count hai": "lenh: lỗi: tham số --count: 'hai' không phải một số nguyên",
        "--a1 --pair": "lenh: lỗi: tham số --pair: cần 2 giá trị",
        "--a1 --alpha": "lenh: lỗi: tham số --alpha: cần một giá trị",
        "--a1 thừa": "lenh: lỗi: không hiểu tham số: thừa",
    }
    seen = {}
    for argv, expected in cases.items():
        seen[argv] = _error(p, argv.split(), capsys)
    assert seen == cases
    required = cliparse.ArgumentParser(prog="lenh")
    required.add_argument("file")
    assert _error(required, [], capsys) == "lenh: lỗi: thiếu tham số bắt buộc: file"
    bodies = [m.split(": ", 1)[1] if m.startswith("argument ") else m for m in written]
    unmet = [pattern for pattern, _ in cliparse.MESSAGES if not any(re.fullmatch(pattern, b, re.S) for b in bodies)]
    assert unmet == []


def test_an_unknown_message_is_kept_as_written():
    assert cliparse.translate("argument --x: Giá trị phải là tháng") == "tham số --x: Giá trị phải là tháng"
    assert cliparse.translate("something new") == "something new"
    assert cliparse.translate("argument --n: invalid _period value: 'x'") == \
        "tham số --n: 'x' không phải giá trị hợp lệ (_period)"


def test_every_command_builds_its_parser_here():
    """No command builds a bare argparse parser (its texts would be English)."""
    sources = [*sorted((ROOT / "src" / "chiso").glob("*.py")), *sorted((ROOT / "benchmarks").glob("*.py"))]
    bare = [p.relative_to(ROOT).as_posix() for p in sources
            if p.name != "cliparse.py" and "argparse.ArgumentParser(" in p.read_text(encoding="utf-8")]
    assert bare == []


@pytest.mark.parametrize(("name", "argv", "said"), [
    ("chiso", ["score", "{tmp}/thieu.csv", "--methodology", "qd459-2023"], "Lỗi: Không tìm thấy tệp: {tmp}/thieu.csv"),
    ("chiso", ["score", "{tmp}/thieu.csv", "--methodology", "qd000"], "Lỗi: Không tìm thấy phương pháp 'qd000'."),
    ("chiso", ["audit", "{tmp}/thieu.csv"],
     "Lỗi: tệp {tmp}/thieu.csv: Thiếu tệp mô tả thieu.meta.yaml đi kèm bảng số liệu."),
    ("chiso.compare", ["gialai", "{tmp}/thieu.json", "--out", "{tmp}/out"], "Lỗi: Không tìm thấy tệp: {tmp}/thieu.json"),
    ("chiso.compare", ["qd1187", "{tmp}/thieu", "--out", "{tmp}/out"],
     "Lỗi: không tìm thấy tệp {tmp}/thieu/unit_counts.csv"),
    ("chiso.dossiers", ["counts", "{tmp}/thieu.csv", "--out", "{tmp}/x.parquet"],
     "Lỗi: tệp {tmp}/thieu.csv: Không tìm thấy tệp {tmp}/thieu.csv."),
    ("chiso.uncertainty", ["khong-co", "--root", "{tmp}"],
     "Lỗi: Không có bảng điểm hay bảng số liệu: {tmp}/data/processed/khong-co"),
    ("chiso.synth", ["--start", "2025-01", "--end", "2024-01", "--out", "{tmp}/raw", "--root", str(ROOT)],
     "Lỗi: Tháng cuối 2024-01 ở trước tháng đầu 2025-01."),
    ("chiso.synth", ["--start", "2025-1", "--out", "{tmp}/raw", "--root", str(ROOT)],
     "Lỗi: Kỳ báo cáo \"2025-1\" không hợp lệ: phải có dạng NNNN-TT, ví dụ 2024-06."),
])
def test_a_failing_command_says_why_in_one_vietnamese_line(capsys, tmp_path, name, argv, said):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert COMMANDS[name](argv) == 2
    err = capsys.readouterr().err
    assert err.endswith("\n") and err.count("\n") == 1, err          # no traceback, no English second line
    assert err.rstrip("\n").startswith(said.replace("{tmp}", str(tmp_path)))


def test_missing_file_messages():
    import polars as pl

    with pytest.raises(FileNotFoundError) as os_error:
        open("/khong/co/tep.csv", encoding="utf-8")
    assert cliparse.missing_file(os_error.value) == "không tìm thấy tệp /khong/co/tep.csv"
    with pytest.raises(FileNotFoundError) as polars_error:
        pl.read_csv("/khong/co/tep.csv")
    assert cliparse.missing_file(polars_error.value) == "không tìm thấy tệp /khong/co/tep.csv"
    ours = FileNotFoundError(2, "Không có tệp units*.parquet", "lan-chay")
    assert cliparse.missing_file(ours) == "Không có tệp units*.parquet: lan-chay"
    assert cliparse.missing_file(FileNotFoundError("bảng 2024: chưa có points.parquet")) == \
        "bảng 2024: chưa có points.parquet"


def test_run_passes_other_errors_on():
    """Only the errors an analyst can act on become a message; a bug keeps its traceback."""
    def broken() -> int:
        raise ZeroDivisionError("lỗi lập trình")

    with pytest.raises(ZeroDivisionError):
        cliparse.run(broken)
    assert cliparse.run(lambda: 0) == 0


# -- what the commands print: Vietnamese tables -----------------------------------------
def _plain(text: str) -> str:
    """Printed table text with its frame and line breaks taken out (cells wrap)."""
    return " ".join(re.sub(r"[│┆┌┐└┘├┤┬┴┼─═╞╡╪]", " ", text).split())


def test_score_prints_units_in_vietnamese(capsys):
    from chiso import cli

    assert cli.main(["score", str(ROOT / "data/raw/2024-06/bieu_mau_2024-06.csv"), "--methodology", "qd459-2023",
                     "--limit", "200"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("159 đơn vị được chấm theo qd459-2023:")
    assert "Hạng ┆ Đơn vị ┆ Nhóm đơn vị ┆ Điểm ┆ Điểm tối đa ┆ Điểm quy đổi ┆ Xếp loại" in " ".join(out.split())
    assert "3 Sở Giao thông vận tải Sở, ban, ngành cấp tỉnh 9,73 10 97,27 Xuất sắc" in _plain(out)
    assert not re.search(r"total|converted|null|\d\.\d", out)


def test_audit_prints_every_explanation_whole(capsys, tmp_path):
    """Not on a terminal (here: captured), each row is one line: nothing cut, nothing wrapped."""
    from chiso import cli

    assert cli.main(["audit", str(ROOT / "data/raw/published/huyen-dienbien_2023-07.csv"), "--out", str(tmp_path)]) == 0
    out = _plain(capsys.readouterr().out)
    assert ("1 Trung tâm QLĐĐ Tổng điểm đạt được Tổng điểm không bằng tổng các chỉ số Lỗi 58,69 58,94 Tổng điểm in "
            "58,69 khác tổng các chỉ số của dòng (58,94); điểm quy đổi in khớp với tổng đúng, nên tổng in là lỗi đánh "
            "máy.") in out
    assert "Dòng Đơn vị Trường Vấn đề Mức độ Số in Số tính lại Giải thích" in out
    assert "…" not in out and "total_not_sum" not in out


def test_validate_prints_the_failed_rules_in_vietnamese(capsys, tmp_path):
    from chiso import cli

    name = "dienbiendong_2024-06"
    src = ROOT / "data/raw/published"
    csv = tmp_path / f"{name}.csv"
    csv.write_text((src / f"{name}.csv").read_text(encoding="utf-8").replace('"9,3","9,3"', '"9,3","chín"'),
                   encoding="utf-8")
    (tmp_path / f"{name}.meta.yaml").write_text((src / f"{name}.meta.yaml").read_text(encoding="utf-8"),
                                                encoding="utf-8")
    assert cli.main(["--params", str(ROOT / "params.yaml"), "validate", str(csv)]) == 2
    out = _plain(capsys.readouterr().out)
    assert "KHÔNG ĐẠT" in out and "Kết quả Mức độ Cột Quy tắc Đơn vị vi phạm Giá trị vi phạm Vị trí trong tệp" in out
    assert "Không đạt Bắt buộc" in out and "UBND Na Son" in out and "chín" in out


def test_compare_qd1187_prints_the_mismatches_in_vietnamese(capsys, tmp_path):
    from chiso import compare

    assert compare.main(["qd1187", str(ROOT / "data/raw/qd1187/dienbienphu_2022-Q1"), "--out", str(tmp_path)]) == 0
    out = _plain(capsys.readouterr().out)
    assert out.startswith("21 chỗ lệch giữa điểm tính lại và điểm công bố")
    assert "Đơn vị Tiêu chí Công bố Tính lại Chênh lệch Giải thích" in out
    assert "Phòng Quản lý đô thị TC 3 1,91 1,95 +0,04 Đơn vị không báo cáo số lần liên hệ" in out
    assert "recomputed_rounded" not in out and "…" not in out
