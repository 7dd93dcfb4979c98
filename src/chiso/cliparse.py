"""Command-line parsing that speaks Vietnamese to analysts.

``argparse`` writes its own words around ours: "usage:", "positional arguments",
"options", "show this help message and exit" and its error messages ("the
following arguments are required: …"). Every command of the project builds its
parser with ``ArgumentParser`` from here, so that the help and the errors an
analyst reads are Vietnamese throughout. Error messages are translated from
argparse's English (Python 3.11) by the patterns in ``MESSAGES``; a message no
pattern knows is shown as argparse wrote it.

``run`` runs a command's work and turns the errors an analyst can act on (a bad
input, a missing file, an inconsistent methodology, a failed render) into one
Vietnamese line and exit status 2, instead of a Python traceback; a command's
``main`` is ``parser.run_command(argv, command)``. ``print_rows``
and ``print_frame`` print the commands' tables: Vietnamese headings, cells whole.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

USAGE_PREFIX = "Cách dùng: "
POSITIONALS_TITLE = "tham số"
OPTIONALS_TITLE = "tùy chọn"
HELP_TEXT = "in hướng dẫn này rồi thoát"
ERROR_WORD = "lỗi"
TYPE_NAMES = {"int": "một số nguyên", "float": "một số"}

# argparse's English message (a regular expression over the whole message) → Vietnamese.
MESSAGES: tuple[tuple[str, str], ...] = (
    (r"the following arguments are required: (?P<a>.+)", "thiếu tham số bắt buộc: {a}"),
    (r"unrecognized arguments: (?P<a>.+)", "không hiểu tham số: {a}"),
    (r"invalid choice: (?P<v>.+) \(choose from (?P<c>.+)\)", "không có lựa chọn {v} (chọn một trong: {c})"),
    (r"invalid (?P<t>\w+) value: (?P<v>.+)", "{v} không phải {t}"),
    (r"expected one argument", "cần một giá trị"),
    (r"expected at least one argument", "cần ít nhất một giá trị"),
    (r"expected (?P<n>\d+) arguments?", "cần {n} giá trị"),
    (r"not allowed with argument (?P<a>.+)", "không dùng cùng với tham số {a}"),
    (r"one of the arguments (?P<a>.+) is required", "cần một trong các tham số {a}"),
    (r"ignored explicit argument (?P<v>.+)", "tham số này không nhận giá trị ({v})"),
    (r"ambiguous option: (?P<o>.+) could match (?P<m>.+)", "tùy chọn {o} chưa rõ, có thể là: {m}"),
)
_ARGUMENT = re.compile(r"argument (?P<name>[^:]+): (?P<rest>.+)", re.S)


def translate(message: str) -> str:
    """argparse's English error message in Vietnamese (unchanged when no pattern fits)."""
    arg = _ARGUMENT.fullmatch(message)
    name, rest = (arg["name"], arg["rest"]) if arg else (None, message)
    for pattern, text in MESSAGES:
        m = re.fullmatch(pattern, rest, re.S)
        if m:
            fields = m.groupdict()
            if "t" in fields:
                fields["t"] = TYPE_NAMES.get(fields["t"], f"giá trị hợp lệ ({fields['t']})")
            rest = text.format(**fields)
            break
    return f"tham số {name}: {rest}" if name else rest


class HelpFormatter(argparse.HelpFormatter):
    """argparse's layout with the Vietnamese "Cách dùng:" line."""

    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, USAGE_PREFIX if prefix is None else prefix)


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose help and error texts are Vietnamese; the
    parsers of its sub-commands (``add_subparsers``) are of this class too."""

    def __init__(self, *args: Any, add_help: bool = True, formatter_class: type = HelpFormatter,
                 **kwargs: Any) -> None:
        super().__init__(*args, add_help=False, formatter_class=formatter_class, **kwargs)
        self._positionals.title = POSITIONALS_TITLE
        self._optionals.title = OPTIONALS_TITLE
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help=HELP_TEXT)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: {ERROR_WORD}: {translate(message)}\n")

    def run_command(self, argv: list[str] | None, command: Callable[[argparse.Namespace], int]) -> int:
        """Parse ``argv`` and ``run`` ``command(args)``: a command's whole ``main``."""
        args = self.parse_args(argv)
        return run(lambda: command(args))


_POLARS_MISSING = re.compile(r".*\(os error \d+\): (?P<path>.+)", re.S)


def missing_file(exc: FileNotFoundError) -> str:
    """What to tell about a file that is not there: the project's own Vietnamese reason
    when it gave one, else "không tìm thấy tệp …" with the path (from Python or polars)."""
    english = {os.strerror(errno.ENOENT), None}
    if exc.strerror not in english and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    name = exc.filename or (m["path"] if (m := _POLARS_MISSING.fullmatch(str(exc))) else None)
    return f"không tìm thấy tệp {name}" if name else str(exc)


def run(body: Callable[[], int]) -> int:
    """``body()``, its exit status; an input, file, methodology or render error is printed
    on standard error as "Lỗi: …" in Vietnamese and gives exit status 2."""
    from .errors import InputError, RenderError
    from .methodology import MethodologyError

    try:
        return body()
    except InputError as exc:
        said = exc.vietnamese
    except RenderError as exc:
        said = exc.message_vi
    except MethodologyError as exc:
        said = str(exc)
    except FileNotFoundError as exc:
        said = missing_file(exc)
    print(f"Lỗi: {said}", file=sys.stderr)
    return 2


def print_rows(columns: list[str] | tuple[str, ...], rows: list[list[str]], limit: int | None = None) -> None:
    """``print_frame`` of rows of text cells under ``columns`` (Vietnamese headings)."""
    import polars as pl

    print_frame(pl.DataFrame([list(r) for r in rows], schema=[(c, pl.String) for c in columns], orient="row"), limit)


def print_frame(frame, limit: int | None = None) -> None:
    """A table on standard output, its column names as headings, no type line, a missing
    cell as "-", cells whole: on a terminal a long explanation wraps to its width instead
    of being cut; written to a file or a pipe, each row stays on one line (for grep).
    ``limit``: first and last rows only when there are more."""
    import shutil

    import polars as pl

    frame = frame.select(pl.all().cast(pl.String).fill_null("-"))
    width = max(100, shutil.get_terminal_size().columns) if sys.stdout.isatty() else 65_535   # polars' maximum
    with pl.Config(tbl_rows=limit or max(frame.height, 1), tbl_cols=frame.width, fmt_str_lengths=1000,
                   tbl_width_chars=width, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print(frame)
