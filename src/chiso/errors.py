"""Errors an analyst may see. Messages are Vietnamese first, English second."""

from __future__ import annotations


class InputError(ValueError):
    """An input file breaks a rule; names the file, row, column and rule."""

    def __init__(self, message_vi: str, message_en: str, *, file: str | None = None,
                 row: int | None = None, column: str | None = None, rule: str | None = None):
        self.message_vi = message_vi
        self.message_en = message_en
        self.file = file
        self.row = row
        self.column = column
        self.rule = rule
        where = []
        if file:
            where.append(f"tệp {file}")
        if row is not None:
            where.append(f"dòng {row}")
        if column:
            where.append(f"cột {column}")
        prefix = (", ".join(where) + ": ") if where else ""
        self.vietnamese = f"{prefix}{message_vi}"      # what a command prints (chiso.cliparse.run)
        super().__init__(f"{self.vietnamese}\n[{rule or 'input'}] {message_en}")


class RenderError(RuntimeError):
    """A report could not be rendered (the Quarto path); Vietnamese first, English second."""

    def __init__(self, message_vi: str, message_en: str):
        self.message_vi = message_vi
        self.message_en = message_en
        super().__init__(f"{message_vi}\n[render] {message_en}")
