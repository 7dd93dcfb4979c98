"""Officers' personal names stay out of public reports unless allowed.

Sources flag what holds personal names: the annual PAR INDEX table
``par_criteria_<year>.csv`` (``contains_personal_names``: the reason of criterion 5.4
lists disciplined officials by name and post) and the QĐ 1187 transcription
(``officers.csv``'s ``is_personal_name``, ``metadata.yaml``'s ``signer_name``). The
reports print no officer table and no signer's name; a flagged text is printed through
:func:`redact_listed_names`, which keeps how many people the text lists and drops who
they are (initials with a post would still point at one person). Names are printed
only when ``params.yaml`` says ``report.show_personal_names: true``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .numbers import fmt_units


def show_personal_names(params: Mapping[str, Any] | None) -> bool:
    """``report.show_personal_names`` of params.yaml (default: false, names hidden)."""
    return bool(((params or {}).get("report") or {}).get("show_personal_names", False))


def redact_listed_names(text: str, label: str) -> str:
    """A text that lists people after a colon, ";"-separated, with the list replaced by
    ``label`` formatted with their count ("05"): "Có … năm 2024: A, Phó …; B, …; C. Thể
    hiện tại …" → "Có … năm 2024: [05 trường hợp, …]. Thể hiện tại …". A text with no
    colon gives the label with "?" (nothing of it is kept)."""
    head, sep, rest = text.partition(":")
    if not sep:
        return label.format(n="?")
    body, dot, tail = rest.rpartition(". ")
    if not dot:
        body, tail = rest, ""
    n = len([p for p in body.split(";") if p.strip()])
    out = f"{head}: {label.format(n=fmt_units(n))}."
    return out + (f" {tail.strip()}" if tail.strip() else "")
