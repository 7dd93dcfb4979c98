"""The unit registry of a province over time, name matching and the old → new crosswalk.

Files (``data/raw/units/``, see its README):

* ``registry.csv``: one row per unit and validity span: ``unit_code, unit_name,
  level (so_nganh | huyen | xa | phuong | thi_tran), unit_group, parent_code,
  district_name, valid_from, valid_to, aliases, source, notes``. Districts and the
  communes before the 2025 reform end on 2025-06-30; the new communes start on
  2025-07-01; departments have no end date.
* ``crosswalk.csv``: ``old_code, old_name, new_code, new_name, share, valid_from,
  source, notes``; ``share`` is the fraction of the old unit's dossiers attributed to
  the new unit (1.0 when the whole old commune went into one new commune).

API:

* ``load_registry(root)``, ``load_crosswalk(root)``, ``units_valid_on(registry, date)``;
* ``match_names(names, registry, on_date)``: names as analysts and exports write
  them → registry units, surviving NFC/NFD, case, "UBND xã X" / "xã X" / "X",
  "UBND huyện …", a province suffix ("Sở Y tế - tỉnh Điện Biên"), old-style tone
  marks ("Toả"/"Tỏa"), the registry's aliases and, only when unique, a match without
  diacritics; raises ``InputError`` listing every name it cannot match or that
  matches several units;
* ``crosswalk_map(old_units, crosswalk)``: a counts table of old units aggregated
  into the new units (numerators and denominators summed with the shares), so that
  a new unit's ratio over a pre-reform period is the dossier-weighted combination
  of its predecessors; with ``values=`` it maps unit-level results (scores) as
  weighted means instead;
* ``check_crosswalk(registry, crosswalk)``: completeness problems (empty = fine).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Iterable, Literal

import polars as pl

from .errors import InputError

REGISTRY_PATH = Path("data/raw/units/registry.csv")
CROSSWALK_PATH = Path("data/raw/units/crosswalk.csv")
REGISTRY_COLUMNS = ("unit_code", "unit_name", "level", "unit_group", "parent_code", "district_name",
                    "valid_from", "valid_to", "aliases", "source", "notes")
CROSSWALK_COLUMNS = ("old_code", "old_name", "new_code", "new_name", "share", "valid_from", "source", "notes")
LEVELS = ("so_nganh", "huyen", "xa", "phuong", "thi_tran")
SOURCES = ("public", "seed", "assumed")
NEW_COMMUNE_GROUP = "UBND các xã, phường"
PROVINCE_NAME = "Điện Biên"

# Level words that may start a name (lower case), and the registry level they imply.
_LEVEL_WORDS = (
    (r"thành phố|tp\.|tp", "huyen"),
    (r"thị xã|tx\.|tx", "huyen"),
    (r"huyện|h\.", "huyen"),
    (r"thị trấn|tt\.|tt", "thi_tran"),
    (r"phường|p\.", "phuong"),
    (r"xã", "xa"),
)
_LEVEL_RE = r"^(" + "|".join(w for w, _ in _LEVEL_WORDS) + r")(\s+|$)"
# Each level word as written (regex escapes removed) → its level: derived, so the two never disagree.
_LEVEL_OF = {w.replace("\\", ""): level for words, level in _LEVEL_WORDS for w in words.split("|")}
_PREFIX_RE = (r"^((bộ phận (một cửa|tiếp nhận và trả kết quả)( của)?|ubnd\.?|ủy ban nhân dân|uỷ ban nhân dân)"
              r"(\s+|$))+")
# Old-style tone placement ("hoà", "toả", "thuỷ") → the style of the registry ("hòa", "tỏa", "thủy").
TONE_STYLE = {
    "oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa",
    "oè": "òe", "oé": "óe", "oẻ": "ỏe", "oẽ": "õe", "oẹ": "ọe",
    "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy",
}
METHOD_ORDER = ("exact", "alias", "normalized", "unaccented")


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------
def _date_expr(col: str) -> pl.Expr:
    raw = pl.col(col).str.strip_chars()
    return pl.when(raw.is_null() | (raw == "")).then(None).otherwise(raw).str.to_date("%Y-%m-%d", strict=True).alias(col)


def load_registry(root: str | Path = ".") -> pl.DataFrame:
    """The unit registry (``data/raw/units/registry.csv`` under ``root``), dates as ``pl.Date``."""
    path = Path(root) / REGISTRY_PATH
    if not path.exists():
        raise InputError(f"Không có danh mục đơn vị {path}.", f"Unit registry {path} not found.",
                         file=str(path), rule="unit_registry")
    raw = pl.read_csv(path, infer_schema=False, encoding="utf8")
    missing = [c for c in REGISTRY_COLUMNS if c not in raw.columns]
    if missing:
        raise InputError(f"Danh mục đơn vị thiếu cột: {', '.join(missing)}.", f"Registry lacks columns {missing}.",
                         file=str(path), column=missing[0], rule="unit_registry")
    try:
        reg = raw.select(REGISTRY_COLUMNS).with_columns(
            *[pl.col(c).str.normalize("NFC").str.strip_chars() for c in REGISTRY_COLUMNS if c not in ("valid_from", "valid_to")],
            _date_expr("valid_from"), _date_expr("valid_to"),
        ).with_columns(pl.col("aliases").fill_null(""), pl.col("notes").fill_null(""),
                       pl.col("district_name").fill_null(""))
    except pl.exceptions.InvalidOperationError as exc:
        raise InputError("Ngày hiệu lực không đúng dạng NNNN-TT-NN.", "Validity dates must be YYYY-MM-DD.",
                         file=str(path), column="valid_from", rule="unit_registry") from exc
    problems = []
    dup = reg.filter(pl.col("unit_code").is_duplicated())["unit_code"].unique().to_list()
    if dup:
        problems.append((f"mã đơn vị trùng: {', '.join(sorted(dup))}", f"duplicate unit codes {sorted(dup)}", "unit_code"))
    bad = reg.filter(~pl.col("level").is_in(LEVELS))["unit_code"].to_list()
    if bad:
        problems.append((f"cấp đơn vị không hợp lệ ở {', '.join(bad)} (dùng {', '.join(LEVELS)})", f"invalid level at {bad}", "level"))
    bad = reg.filter(pl.col("valid_from").is_null() | (pl.col("valid_to") < pl.col("valid_from")))["unit_code"].to_list()
    if bad:
        problems.append((f"ngày hiệu lực sai ở {', '.join(bad)}", f"invalid validity at {bad}", "valid_from"))
    if problems:
        vi, en, col = problems[0]
        raise InputError(f"Danh mục đơn vị: {vi}.", f"Registry: {en}.", file=str(path), column=col, rule="unit_registry")
    return reg


def load_crosswalk(root: str | Path = ".") -> pl.DataFrame:
    """The old → new crosswalk (``data/raw/units/crosswalk.csv``), ``share`` as float."""
    path = Path(root) / CROSSWALK_PATH
    raw = pl.read_csv(path, infer_schema=False, encoding="utf8")
    missing = [c for c in CROSSWALK_COLUMNS if c not in raw.columns]
    if missing:
        raise InputError(f"Bảng chuyển đổi thiếu cột: {', '.join(missing)}.", f"Crosswalk lacks columns {missing}.",
                         file=str(path), column=missing[0], rule="unit_crosswalk")
    return raw.select(CROSSWALK_COLUMNS).with_columns(
        *[pl.col(c).str.normalize("NFC") for c in ("old_name", "new_name", "notes")],
        pl.col("share").cast(pl.Float64), _date_expr("valid_from"))


def _as_date(value: str | _dt.date | _dt.datetime) -> _dt.date:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    text = str(value)
    if len(text) == 7:  # a period YYYY-MM: its last day
        y, m = map(int, text.split("-"))
        return _dt.date(y + (m == 12), m % 12 + 1, 1) - _dt.timedelta(days=1)
    return _dt.date.fromisoformat(text)


def units_valid_on(registry: pl.DataFrame, date: str | _dt.date) -> pl.DataFrame:
    """Units in force on ``date`` (ISO date, or a period ``YYYY-MM`` meaning its last day)."""
    d = _as_date(date)
    return registry.filter((pl.col("valid_from") <= d) & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= d)))


def check_crosswalk(registry: pl.DataFrame, crosswalk: pl.DataFrame) -> list[str]:
    """Problems of the crosswalk against the registry (an empty list means complete).

    Every commune-level unit that ends on the reform's eve maps to ≥ 1 new commune,
    its shares add up to 1; every new commune comes from ≥ 1 old one; codes exist
    and names agree with the registry.
    """
    problems: list[str] = []
    reform = crosswalk["valid_from"].min()
    if reform is None:
        return ["bảng chuyển đổi rỗng"]
    commune = pl.col("level").is_in(["xa", "phuong", "thi_tran"])
    old = registry.filter(commune & (pl.col("valid_to") == reform - _dt.timedelta(days=1)))
    new = registry.filter(commune & (pl.col("valid_from") == reform))
    names = dict(zip(registry["unit_code"], registry["unit_name"]))
    for code in old.join(crosswalk, left_on="unit_code", right_on="old_code", how="anti")["unit_code"]:
        problems.append(f"đơn vị cũ {code} ({names[code]}) không có đơn vị mới")
    for code in new.join(crosswalk, left_on="unit_code", right_on="new_code", how="anti")["unit_code"]:
        problems.append(f"đơn vị mới {code} ({names[code]}) không hình thành từ đơn vị cũ nào")
    for row in crosswalk.group_by("old_code").agg(pl.col("share").sum()).filter(
            (pl.col("share") - 1.0).abs() > 1e-9).iter_rows(named=True):
        problems.append(f"tổng tỷ lệ của {row['old_code']} là {row['share']:g}, không phải 1")
    for col, name_col in (("old_code", "old_name"), ("new_code", "new_name")):
        for row in crosswalk.iter_rows(named=True):
            if row[col] not in names:
                problems.append(f"mã {row[col]} không có trong danh mục")
            elif names[row[col]] != row[name_col]:
                problems.append(f"tên {row[name_col]!r} khác danh mục ({names[row[col]]!r}) ở {row[col]}")
    return problems


# ---------------------------------------------------------------------------
# Name matching
# ---------------------------------------------------------------------------
def _tone_style(expr: pl.Expr) -> pl.Expr:
    for old, new in TONE_STYLE.items():
        expr = expr.str.replace_all(old, new, literal=True)
    return expr


def _key_exprs(col: str) -> list[pl.Expr]:
    """``k1`` (normalised name without 'UBND' and province suffix), ``level_hint``,
    ``bare`` (k1 without a leading level word) and ``ua`` (bare without diacritics)."""
    province = PROVINCE_NAME.lower()
    k = (pl.col(col).cast(pl.String).str.normalize("NFC").str.to_lowercase()
         .str.replace_all(r"[\u2018\u2019\u201c\u201d\"']", "")
         .str.replace_all(r"[\u2013\u2014\u2212]", "-")
         .str.replace_all(r"\s+", " ").str.strip_chars(" .,;:"))
    k = _tone_style(k)
    k = (k.str.replace(rf"\s*[-,(]?\s*(tỉnh|t\.)\s*{province}\)?$", "").str.strip_chars(" -,")
         .str.replace(r"\s+tỉnh$", ""))  # "Thanh tra tỉnh" = "Thanh tra tỉnh Điện Biên" = "Thanh tra"
    k1 = k.str.replace(_PREFIX_RE, "").str.strip_chars()
    level_word = k1.str.extract(_LEVEL_RE, 1)
    bare = k1.str.replace(_LEVEL_RE, "").str.strip_chars(" -")
    ua = bare.str.normalize("NFD").str.replace_all(r"\p{Mn}", "").str.replace_all("đ", "d", literal=True)
    return [k1.alias("k1"), level_word.replace_strict(_LEVEL_OF, default=None, return_dtype=pl.String).alias("level_hint"),
            bare.alias("bare"), ua.alias("ua")]


def _registry_keys(units: pl.DataFrame) -> pl.DataFrame:
    """One row per unit × spelling (name and aliases) with its keys."""
    spellings = units.select(
        "unit_code", "unit_name", "level",
        pl.concat_list(pl.col("unit_name"), pl.col("aliases").str.split("|")).alias("spelling"),
    ).explode("spelling").with_columns(pl.col("spelling").str.strip_chars()).filter(pl.col("spelling") != "")
    return spellings.with_columns(
        (pl.col("spelling") != pl.col("unit_name")).alias("is_alias"), *_key_exprs("spelling")).drop("level_hint")


def match_names(names: Iterable[str] | pl.Series, registry: pl.DataFrame, on_date: str | _dt.date,
                *, errors: Literal["raise", "null"] = "raise", source: str | None = None) -> pl.DataFrame:
    """Match unit names to the registry units in force on ``on_date``.

    Returns ``name, unit_code, unit_name, method`` in the order of ``names``;
    ``method`` is ``exact`` (the registry name), ``alias`` (a registry alias),
    ``normalized`` (after dropping "UBND", the level word, case and tone-mark style;
    a level word in the name must agree with the unit's level) or ``unaccented``
    (without diacritics, accepted only when exactly one unit matches). Names that
    match no unit or several units raise ``InputError`` listing all of them
    (``errors="null"``: leave them unmatched instead). ``source``: the file the
    names come from, for the message.
    """
    d = _as_date(on_date)
    names_list = list(names)
    inp = pl.DataFrame({"name": pl.Series(names_list, dtype=pl.String)}).with_row_index("idx").with_columns(
        *_key_exprs("name"))
    keys = _registry_keys(units_valid_on(registry, d))
    level_ok = pl.col("level_hint").is_null() | (pl.col("level_hint") == pl.col("level"))
    stages = [
        ("k1", pl.lit(True)),
        ("bare", level_ok & (pl.col("bare") != "")),
        ("ua", level_ok & (pl.col("ua") != "")),
    ]
    resolved: list[pl.DataFrame] = []
    ambiguous: list[pl.DataFrame] = []
    todo = inp
    for key, cond in stages:
        if todo.height == 0:
            break
        hits = (todo.join(keys.select("unit_code", "unit_name", "level", "is_alias", pl.col(key).alias("_key")),
                          left_on=key, right_on="_key", how="inner")
                .filter(cond)
                .group_by("idx", "unit_code", "unit_name").agg(pl.col("is_alias").all()))
        per_name = hits.group_by("idx").agg(pl.col("unit_code").n_unique().alias("n"))
        one = hits.join(per_name.filter(pl.col("n") == 1), on="idx", how="semi")
        method = {"k1": pl.when(pl.col("is_alias")).then(pl.lit("alias")).otherwise(pl.lit("exact")),
                  "bare": pl.lit("normalized"), "ua": pl.lit("unaccented")}[key]
        resolved.append(one.select("idx", "unit_code", "unit_name", method.alias("method")))
        many = hits.join(per_name.filter(pl.col("n") > 1), on="idx", how="semi")
        if many.height:
            ambiguous.append(many.group_by("idx").agg(
                (pl.col("unit_name") + pl.lit(" (") + pl.col("unit_code") + pl.lit(")")).sort().alias("candidates")))
        todo = todo.join(hits.select("idx").unique(), on="idx", how="anti")
    found = pl.concat(resolved, how="vertical") if resolved else pl.DataFrame(
        schema={"idx": pl.UInt32, "unit_code": pl.String, "unit_name": pl.String, "method": pl.String})
    out = inp.select("idx", "name").join(found, on="idx", how="left").sort("idx").drop("idx")
    if errors == "raise" and (todo.height or ambiguous):
        amb = pl.concat(ambiguous) if ambiguous else pl.DataFrame(schema={"idx": pl.UInt32, "candidates": pl.List(pl.String)})
        _raise_unmatched(inp, todo, amb, d, source)
    return out


def _raise_unmatched(inp: pl.DataFrame, todo: pl.DataFrame, amb: pl.DataFrame, d: _dt.date, source: str | None) -> None:
    unmatched = todo.join(amb.select("idx"), on="idx", how="anti").sort("idx")
    vi_parts, en_parts = [], []
    if unmatched.height:
        items_vi, items_en = [], []
        for row in unmatched.iter_rows(named=True):
            hint_vi = hint_en = ""
            if (row["k1"] or "").startswith("phòng "):
                hint_vi = " (phòng chuyên môn cấp huyện: không có trong danh mục)"
                hint_en = " (district specialised office: not in the registry)"
            items_vi.append(f"'{row['name']}'{hint_vi}")
            items_en.append(f"'{row['name']}'{hint_en}")
        vi_parts.append(f"{unmatched.height:02d} tên không khớp đơn vị nào: " + "; ".join(items_vi))
        en_parts.append(f"{unmatched.height} unmatched: " + "; ".join(items_en))
    if amb.height:
        rows = amb.join(inp.select("idx", "name"), on="idx").sort("idx")
        items = [f"'{r['name']}' → {', '.join(r['candidates'])}" for r in rows.iter_rows(named=True)]
        vi_parts.append(f"{rows.height:02d} tên khớp nhiều đơn vị (ghi rõ cấp, ví dụ 'UBND huyện …', 'UBND thị trấn …'): "
                        + "; ".join(items))
        en_parts.append(f"{rows.height} ambiguous: " + "; ".join(items))
    when = f"{d.day:02d}/{d.month:02d}/{d.year}"
    raise InputError(
        f"Không khớp được tên đơn vị với danh mục đơn vị có hiệu lực ngày {when}. " + ". ".join(vi_parts)
        + ". Sửa tên trong tệp hoặc thêm bí danh (cột aliases) vào data/raw/units/registry.csv.",
        f"Unit names not matched to the registry in force on {d.isoformat()}. " + ". ".join(en_parts) + ".",
        file=source, column="unit_name", rule="unit_name_match")


# ---------------------------------------------------------------------------
# Old units → new units
# ---------------------------------------------------------------------------
def crosswalk_map(old_units: pl.DataFrame, crosswalk: pl.DataFrame, *, values: list[str] | None = None,
                  weight: str | None = None, unmapped: Literal["keep", "drop", "raise"] = "keep",
                  new_group: str = NEW_COMMUNE_GROUP) -> pl.DataFrame:
    """Map results of old units to the new units of the crosswalk.

    **Counts mode** (default, ``values=None``): ``old_units`` is a counts table
    (``chiso.counts.COUNTS_SCHEMA``). Rows of old units are joined to the crosswalk;
    numerators and denominators are multiplied by ``share`` and summed per period ×
    new unit × indicator, so that a new unit's ratio is the dossier-weighted
    combination of its predecessors. ``available``/``provisional`` are "any" of the
    predecessors; printed source scores cannot be combined and are dropped.

    **Values mode** (``values=[...]``): ``old_units`` has one row per period × unit
    (``period, unit_code`` and the value columns); each value becomes the mean of the
    predecessors' values weighted by ``share × weight`` (``weight``: a column such
    as the dossier count; without it, by ``share``).

    Units absent from the crosswalk (departments; districts, which have no
    successor commune) are kept as they are (``unmapped="keep"``), dropped or
    reported (``"raise"``).
    """
    xw = crosswalk.select("old_code", "new_code", "new_name", pl.col("share").cast(pl.Float64))
    joined = old_units.join(xw, left_on="unit_code", right_on="old_code", how="left")
    rest = joined.filter(pl.col("new_code").is_null()).drop("new_code", "new_name", "share")
    if unmapped == "raise" and rest.height:
        codes = sorted(set(rest["unit_code"].to_list()))
        raise InputError(f"Đơn vị không có trong bảng chuyển đổi: {', '.join(codes)}.",
                         f"Units not in the crosswalk: {codes}.", column="unit_code", rule="unit_crosswalk")
    mapped = joined.filter(pl.col("new_code").is_not_null())
    if values is None:
        from .counts import normalize_counts

        rest = normalize_counts(rest) if rest.height else rest
        use = pl.col("available") & pl.col("numerator").is_not_null()
        use_den = pl.col("available") & pl.col("denominator").is_not_null()
        agg = (
            mapped.group_by("period", "new_code", "indicator", maintain_order=True).agg(
                pl.col("new_name").first().alias("unit_name"),
                pl.when(use).then(pl.col("numerator") * pl.col("share")).sum().alias("numerator"),
                pl.when(use_den).then(pl.col("denominator") * pl.col("share")).sum().alias("denominator"),
                use.any().alias("_any_num"), use_den.any().alias("_any_den"),
                pl.col("provisional").any().alias("provisional"),
                pl.col("available").any().alias("available"),
                pl.col("unit_code").unique(maintain_order=True).alias("_from"),
            )
            .with_columns(
                pl.when(pl.col("_any_num")).then(pl.col("numerator")).alias("numerator"),
                pl.when(pl.col("_any_den")).then(pl.col("denominator")).alias("denominator"),
                pl.lit(new_group).alias("unit_group"),
                pl.lit(None, dtype=pl.Float64).alias("source_score"),
                pl.lit(None, dtype=pl.Float64).alias("source_max"),
                (pl.lit("Cộng từ ") + pl.col("_from").list.len().cast(pl.String) + pl.lit(" đơn vị cũ: ")
                 + pl.col("_from").list.join(", ")).alias("note"),
            )
            .rename({"new_code": "unit_code"})
            .drop("_any_num", "_any_den", "_from")
        )
        result = normalize_counts(agg)
        if unmapped == "keep" and rest.height:
            result = pl.concat([result, rest.select(result.columns)], how="vertical_relaxed")
        return result.sort("period", "unit_code", "indicator")
    w = pl.col("share") * (pl.col(weight).cast(pl.Float64) if weight else pl.lit(1.0))
    agg = mapped.group_by("period", "new_code", maintain_order=True).agg(
        pl.col("new_name").first().alias("unit_name"),
        *[((pl.col(v) * w).sum() / w.filter(pl.col(v).is_not_null()).sum()).alias(v) for v in values],
        *([(pl.col(weight) * pl.col("share")).sum().alias(weight)] if weight and weight not in values else []),
    ).rename({"new_code": "unit_code"})
    if unmapped == "keep" and rest.height:
        agg = pl.concat([agg, rest.select([c for c in agg.columns if c in rest.columns])], how="diagonal_relaxed")
    return agg.sort("period", "unit_code")


__all__ = ["check_crosswalk", "crosswalk_map", "load_crosswalk", "load_registry", "match_names", "units_valid_on"]
