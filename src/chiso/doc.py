"""Document model shared by every chiso report.

A report notebook builds a list of blocks and shows each one with
``IPython.display.display(block)``. Every block knows how to describe itself as a
MIME bundle (see :meth:`Block._repr_mimebundle_`):

* ``application/vnd.chiso.block+json`` — the block as plain JSON (:meth:`Block.to_dict`),
  which :mod:`chiso.render` reads back from the executed notebook with
  :func:`block_from_dict` to build the HTML and PDF reports;
* ``text/html`` — an HTML fragment for people opening the notebook;
* ``text/markdown`` — Pandoc markdown for the Quarto path;
* ``text/plain`` — a one-line summary.

All text is plain text. The only inline markup understood anywhere is ``**bold**`` and
``*italic*`` in :class:`Paragraph`, :class:`Bullets` items and :attr:`Table.notes`;
every other character (``<``, ``#``, ``$``, ``[`` …) is rendered literally. Table cells,
headings and captions are always literal.

JSON schema (``type`` tag first; every field is present in ``to_dict()`` output):

* ``meta``: title, running_header, synthetic, generated_at, lang, name
* ``front_matter``: issuer_parent, issuer, number, place_date, title, subtitle
* ``heading``: text, level (1–3)
* ``paragraph``: text, align ("justify" | "left" | "center" | "right")
* ``bullets``: items = [{text, sub: [str]}]
* ``page_break``: (no field)
* ``table``: columns, rows = [[str] | {type: "section_row", text}], header_groups =
  [[label, span]] | null, align = [str] | null, widths = [number] | null, caption, notes =
  [str], landscape, sortable, searchable
* ``figure``: svg, caption, width (0–1 of the text width)
* ``callout``: title, kind ("info" | "warning" | "audit"), blocks = [block]
* ``section``: blocks = [block], landscape
* ``closing``: recipients, signer_title, signer_name | null
* ``lineage``: title, items = [[key, value]]
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Sequence, Union

MIME_TYPE = "application/vnd.chiso.block+json"

ALIGNMENTS = ("left", "center", "right")
PARAGRAPH_ALIGNMENTS = ("justify", "left", "center", "right")
CALLOUT_KINDS = ("info", "warning", "audit")

_BLOCK_TYPES: dict[str, type["Block"]] = {}


class Block:
    """Base class of all blocks. Subclasses are dataclasses with a ``type`` tag."""

    type: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.type:
            if cls.type in _BLOCK_TYPES:
                raise TypeError(f"duplicate block type {cls.type!r}")
            _BLOCK_TYPES[cls.type] = cls

    # -- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The block as JSON-compatible data (``{"type": ..., <fields>}``)."""
        out: dict[str, Any] = {"type": self.type}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = _to_json(getattr(self, f.name))
        return out

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> "Block":
        return cls(**data)

    # -- display -------------------------------------------------------------------
    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from chiso.render.html import block_html
        from chiso.render.markdown import block_markdown

        return {
            MIME_TYPE: self.to_dict(),
            "text/html": block_html(self),
            "text/markdown": block_markdown(self),
            "text/plain": self._summary(),
        }

    def _summary(self) -> str:
        return f"<chiso {self.type}>"


def _to_json(value: Any) -> Any:
    if isinstance(value, Block):
        return value.to_dict()
    if isinstance(value, (BulletItem, SectionRow)):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    return value


def block_from_dict(data: dict[str, Any]) -> Block:
    """Rebuild a block from :meth:`Block.to_dict` output (nested blocks included).

    Raises ``ValueError`` on an unknown ``type`` or unknown/missing fields.
    """
    if not isinstance(data, dict) or "type" not in data:
        raise ValueError(f"not a chiso block: {data!r:.200}")
    kind = data["type"]
    cls = _BLOCK_TYPES.get(kind)
    if cls is None:
        raise ValueError(f"unknown chiso block type {kind!r}")
    fields = {k: v for k, v in data.items() if k != "type"}
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(fields) - known
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)} for block {kind!r}")
    try:
        return cls._from_fields(fields)
    except TypeError as exc:  # missing required fields
        raise ValueError(f"invalid {kind!r} block: {exc}") from exc


def _check_str(name: str, value: Any, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")


def _str_list(name: str, values: Any) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a list of str")
    out = list(values)
    for i, v in enumerate(out):
        _check_str(f"{name}[{i}]", v)
    return out


# ----------------------------------------------------------------------------------
# Document-level blocks
# ----------------------------------------------------------------------------------
@dataclass
class DocumentMeta(Block):
    """Document metadata; display it first in the notebook.

    ``running_header`` is printed at the top of every PDF page after the first.
    ``synthetic=True`` stamps "DỮ LIỆU MÔ PHỎNG" on every PDF page and shows a fixed
    banner in HTML. ``generated_at`` is an ISO 8601 timestamp (it also becomes the PDF
    creation date, so pass a fixed value for byte-identical output).
    """

    type: ClassVar[str] = "meta"
    title: str
    running_header: str = ""
    synthetic: bool = False
    generated_at: str = ""
    lang: str = "vi"
    name: str = ""  # file stem when one notebook holds several documents (see render.render_documents)

    def __post_init__(self) -> None:
        for name in ("title", "running_header", "generated_at", "lang", "name"):
            _check_str(name, getattr(self, name))
        self.synthetic = bool(self.synthetic)

    def _summary(self) -> str:
        return f"<chiso meta: {self.title}{' [synthetic]' if self.synthetic else ''}>"


@dataclass
class FrontMatter(Block):
    """Official two-column header (issuer | national motto), then title and subtitle.

    ``issuer_parent`` e.g. "UBND TỈNH ĐIỆN BIÊN" (may be empty), ``issuer`` e.g.
    "UBND HUYỆN ĐIỆN BIÊN ĐÔNG", ``number`` e.g. "Số: 317/BC-UBND", ``place_date`` e.g.
    "Điện Biên Đông, ngày 15 tháng 7 năm 2024", ``title`` e.g. "BÁO CÁO".
    """

    type: ClassVar[str] = "front_matter"
    issuer_parent: str
    issuer: str
    number: str
    place_date: str
    title: str = "BÁO CÁO"
    subtitle: str = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check_str(f.name, getattr(self, f.name))


# ----------------------------------------------------------------------------------
# Text blocks
# ----------------------------------------------------------------------------------
@dataclass
class Heading(Block):
    """A section heading, level 1–3. Write any numbering ("2.1.") into ``text``."""

    type: ClassVar[str] = "heading"
    text: str
    level: int = 1

    def __post_init__(self) -> None:
        _check_str("text", self.text)
        if self.level not in (1, 2, 3):
            raise ValueError(f"heading level must be 1, 2 or 3, got {self.level!r}")

    def _summary(self) -> str:
        return f"<chiso heading {self.level}: {self.text}>"


@dataclass
class Paragraph(Block):
    """A paragraph; ``**bold**`` and ``*italic*`` are the only markup."""

    type: ClassVar[str] = "paragraph"
    text: str
    align: str = "justify"

    def __post_init__(self) -> None:
        _check_str("text", self.text)
        if self.align not in PARAGRAPH_ALIGNMENTS:
            raise ValueError(f"paragraph align must be one of {PARAGRAPH_ALIGNMENTS}")


@dataclass
class BulletItem:
    """One "-" bullet, with optional "+" sub-bullets."""

    text: str
    sub: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check_str("bullet text", self.text)
        self.sub = _str_list("bullet sub", self.sub)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "sub": list(self.sub)}


BulletLike = Union[str, BulletItem, tuple, dict]


@dataclass
class Bullets(Block):
    """A "-" list as in the official reports; items may carry "+" sub-bullets.

    Items may be given as ``"text"``, ``BulletItem(text, sub)``, ``(text, [sub, ...])``
    or ``{"text": ..., "sub": [...]}``; they are stored as :class:`BulletItem`.
    """

    type: ClassVar[str] = "bullets"
    items: list[BulletItem]

    def __post_init__(self) -> None:
        if isinstance(self.items, str):
            raise TypeError("Bullets.items must be a list")
        self.items = [_bullet(i) for i in self.items]


def _bullet(item: BulletLike) -> BulletItem:
    if isinstance(item, BulletItem):
        return item
    if isinstance(item, str):
        return BulletItem(item)
    if isinstance(item, dict):
        return BulletItem(item["text"], list(item.get("sub", [])))
    if isinstance(item, tuple) and len(item) == 2:
        return BulletItem(item[0], list(item[1]))
    raise TypeError(f"cannot make a bullet from {item!r:.80}")


@dataclass
class PageBreak(Block):
    """Start a new page (PDF and print)."""

    type: ClassVar[str] = "page_break"


# ----------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------
@dataclass
class SectionRow:
    """A table row spanning all columns, e.g. "I. UBND CÁC XÃ, THỊ TRẤN"."""

    text: str

    def __post_init__(self) -> None:
        _check_str("section row text", self.text)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "section_row", "text": self.text}


Row = Union[list[str], SectionRow]


@dataclass
class Table(Block):
    """A table of pre-formatted strings ("82,96", "262.675", "-").

    * ``header_groups``: ``[(label, span), ...]`` covering all columns left to right
      for a two-level header. A group of span 1 with an empty label (or a label equal to
      its column's label) is merged: the column label spans both header rows.
    * ``align``: per column "left" | "center" | "right"; ``None`` = right for columns
      whose cells are all Vietnamese numbers (or "-"), left otherwise.
    * ``widths``: relative column widths (PDF and HTML), ``None`` = automatic.
    * ``notes``: lines printed in small type under the table (``*italic*``/``**bold**``).
    * ``landscape``: in the PDF, put the table on landscape page(s) of its own.
    * ``sortable``: HTML headers sort the rows (numbers numerically, "-" last, text with
      Vietnamese collation). With :class:`SectionRow` rows the table sorts *within*
      each section: section rows stay in place and head their own rows.
    * ``searchable``: HTML search box filtering rows (accent-insensitive).
    """

    type: ClassVar[str] = "table"
    columns: list[str]
    rows: list[Row]
    header_groups: list[tuple[str, int]] | None = None
    align: list[str] | None = None
    widths: list[float] | None = None
    caption: str = ""
    notes: list[str] = field(default_factory=list)
    landscape: bool = False
    sortable: bool = False
    searchable: bool = False

    def __post_init__(self) -> None:
        self.columns = _str_list("columns", self.columns)
        n = len(self.columns)
        if n == 0:
            raise ValueError("a table needs at least one column")
        rows: list[Row] = []
        for i, row in enumerate(self.rows):
            if isinstance(row, dict) and row.get("type") == "section_row":
                row = SectionRow(row["text"])
            if isinstance(row, SectionRow):
                rows.append(row)
                continue
            cells = _cells(f"rows[{i}]", row)
            if len(cells) != n:
                raise ValueError(f"rows[{i}] has {len(cells)} cells, expected {n}")
            rows.append(cells)
        self.rows = rows
        if self.header_groups is not None:
            groups = []
            for g in self.header_groups:
                label, span = g
                _check_str("header group label", label)
                if not isinstance(span, int) or span < 1:
                    raise ValueError(f"header group span must be a positive int: {g!r}")
                groups.append((label, span))
            if sum(s for _, s in groups) != n:
                raise ValueError(
                    f"header group spans add up to {sum(s for _, s in groups)}, expected {n}"
                )
            self.header_groups = groups
        if self.align is not None:
            short = {"l": "left", "c": "center", "r": "right"}
            self.align = [short.get(a, a) for a in self.align]
            if len(self.align) != n or any(a not in ALIGNMENTS for a in self.align):
                raise ValueError(f"align must be {n} values among {ALIGNMENTS}")
        if self.widths is not None:
            self.widths = [float(w) for w in self.widths]
            if len(self.widths) != n or any(not w > 0 for w in self.widths):
                raise ValueError(f"widths must be {n} positive numbers")
        _check_str("caption", self.caption)
        if isinstance(self.notes, str):
            self.notes = [self.notes]
        self.notes = _str_list("notes", self.notes or [])
        self.landscape = bool(self.landscape)
        self.sortable = bool(self.sortable)
        self.searchable = bool(self.searchable)

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> "Table":
        return cls(**data)

    def _summary(self) -> str:
        return f"<chiso table {len(self.rows)}×{len(self.columns)}: {self.caption}>"


def _cells(name: str, row: Any) -> list[str]:
    if isinstance(row, str) or not isinstance(row, Sequence):
        raise TypeError(f"{name} must be a list of str or a SectionRow")
    cells = list(row)
    for j, c in enumerate(cells):
        if not isinstance(c, str):
            raise TypeError(
                f"{name}[{j}] is {type(c).__name__}; table cells must be strings already "
                "formatted the Vietnamese way (see chiso.numbers.fmt_num)"
            )
    return cells


# ----------------------------------------------------------------------------------
# Figures and containers
# ----------------------------------------------------------------------------------
@dataclass
class Figure(Block):
    """An SVG chart (matplotlib with text as paths); ``width`` is a fraction of the
    text width. Use :meth:`Figure.from_matplotlib` to get reproducible SVG."""

    type: ClassVar[str] = "figure"
    svg: str
    caption: str = ""
    width: float = 1.0

    def __post_init__(self) -> None:
        _check_str("svg", self.svg)
        if "<svg" not in self.svg:
            raise ValueError("Figure.svg must be an SVG document")
        _check_str("caption", self.caption)
        self.width = float(self.width)
        if not 0 < self.width <= 1:
            raise ValueError("Figure.width must be in (0, 1]")

    @classmethod
    def from_matplotlib(cls, fig: Any, caption: str = "", width: float = 1.0) -> "Figure":
        """SVG of a matplotlib figure with text as paths, no date and stable ids."""
        import matplotlib

        buf = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "chiso"}):
            fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
        return cls(buf.getvalue(), caption, width)

    def _summary(self) -> str:
        return f"<chiso figure: {self.caption}>"


def _blocks(name: str, blocks: Any) -> list[Block]:
    out = []
    for b in blocks:
        if isinstance(b, dict):
            b = block_from_dict(b)
        if not isinstance(b, Block):
            raise TypeError(f"{name} must contain blocks, got {type(b).__name__}")
        if isinstance(b, DocumentMeta):
            raise TypeError(f"{name} cannot contain DocumentMeta")
        out.append(b)
    return out


@dataclass
class Callout(Block):
    """A boxed group of blocks. ``kind``: "info", "warning" or "audit"."""

    type: ClassVar[str] = "callout"
    title: str
    blocks: list[Block]
    kind: str = "info"

    def __post_init__(self) -> None:
        _check_str("title", self.title)
        self.blocks = _blocks("Callout.blocks", self.blocks)
        if self.kind not in CALLOUT_KINDS:
            raise ValueError(f"callout kind must be one of {CALLOUT_KINDS}")


@dataclass
class Section(Block):
    """A group of blocks; ``landscape=True`` puts them on landscape A4 pages in the PDF
    (only for top-level sections; in HTML it is an ordinary section)."""

    type: ClassVar[str] = "section"
    blocks: list[Block]
    landscape: bool = False

    def __post_init__(self) -> None:
        self.blocks = _blocks("Section.blocks", self.blocks)
        self.landscape = bool(self.landscape)


# ----------------------------------------------------------------------------------
# End matter
# ----------------------------------------------------------------------------------
@dataclass
class Closing(Block):
    """"Nơi nhận:" list on the left, signer block on the right.

    ``signer_title`` lines e.g. ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]; ``signer_name``
    ``None`` leaves the signature space empty.
    """

    type: ClassVar[str] = "closing"
    recipients: list[str]
    signer_title: list[str]
    signer_name: str | None = None

    def __post_init__(self) -> None:
        self.recipients = _str_list("recipients", self.recipients)
        if isinstance(self.signer_title, str):
            self.signer_title = [self.signer_title]
        self.signer_title = _str_list("signer_title", self.signer_title)
        _check_str("signer_name", self.signer_name, optional=True)


@dataclass
class Lineage(Block):
    """Small-print data lineage: (label, value) pairs such as input files and hashes,
    methodology, parameters, code version and generation time."""

    type: ClassVar[str] = "lineage"
    items: list[tuple[str, str]]
    title: str = "Nguồn gốc dữ liệu"

    def __post_init__(self) -> None:
        items = []
        for it in self.items:
            key, value = it
            _check_str("lineage label", key)
            _check_str("lineage value", value)
            items.append((key, value))
        self.items = items
        _check_str("title", self.title)


__all__ = [
    "MIME_TYPE",
    "Block",
    "DocumentMeta",
    "FrontMatter",
    "Heading",
    "Paragraph",
    "BulletItem",
    "Bullets",
    "PageBreak",
    "SectionRow",
    "Table",
    "Figure",
    "Callout",
    "Section",
    "Closing",
    "Lineage",
    "block_from_dict",
]
