"""Annual analysis of SIPAS and PAR INDEX from the transcribed Sở Nội vụ report.

Inputs are the hand transcription in ``data/raw/annual/`` (see the README there): the
SIPAS table (39 criteria in 9 groups, two years), the PAR INDEX totals and components,
the 8 fields (lĩnh vực), the history since 2012 and the table of criteria that did not
reach their maximum. :func:`build` validates them with the Great Expectations suites
``expectations/annual_*.json``, derives tidy tables and audits every sum and difference
the seed prints; it writes everything to ``data/processed/annual-<year>/``.

Column names of the raw files carry the years (``pct_2024``, ``score_full_2023``); on
loading they become ``*_cur`` / ``*_prev`` so the code and the suites serve any year.
Tidy outputs are long (one row per item and year) where a year is a dimension.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from . import sniff, validation
from .errors import InputError
from .io import atomic_write_text, write_parquet
from .numbers import fmt_num

WORDING_FILE = Path(__file__).parent / "reports" / "annual_wording.yaml"
EPS = 1e-9
SIPAS_DECIMALS = 2
# a printed SIPAS change may differ from the difference of two printed values by three half
# units of the last printed digit, a printed mean from the mean of printed values by two
SIPAS_CHANGE_TOL = 3 * 0.5 * 10 ** -SIPAS_DECIMALS
SIPAS_MEAN_TOL = 2 * 0.5 * 10 ** -SIPAS_DECIMALS
# PAR INDEX points are printed with three decimals; a difference of two printed totals
# may differ from a printed difference by three half units
PAR_DECIMALS = 3
PAR_LINE_TOL = 3 * 0.5 * 10 ** -PAR_DECIMALS

AUDIT_SCHEMA = {
    "check": pl.String, "item": pl.String, "printed": pl.Float64, "recomputed": pl.Float64,
    "difference": pl.Float64, "verdict": pl.String, "note": pl.String,
}
VERDICTS = ("ok", "rounding", "mismatch", "missing", "derived")
# Each suite (expectations/<suite>.json) → the raw files (keys of ``AnnualLayout.raw_files``)
# whose reading repairs are reported with it in validation.json: the suite's own table and
# the tables it takes parameters from or belongs with. Every transcription CSV is in exactly one.
SUITE_FILES = {
    "annual_sipas": ("sipas", "sipas_summary", "sipas_wishes"),
    "annual_par_summary": ("par_summary",),
    "annual_par_fields": ("par_fields",),
    "annual_par_criteria": ("par_criteria", "par_criteria_total"),
    "annual_par_history": ("par_history",),
}
SUITES = tuple(SUITE_FILES)


@lru_cache(maxsize=1)
def wording() -> dict[str, Any]:
    """Vietnamese wording of the annual report and of the audit notes."""
    with WORDING_FILE.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _note(key: str, **kw: Any) -> str:
    return wording()["audit"]["notes"][key].format(**kw)


# ----------------------------------------------------------------------------------
# Layout and loading
# ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AnnualLayout:
    """Where the annual inputs and outputs of one year live."""

    year: str
    root: Path = Path(".")

    @property
    def prev_year(self) -> str:
        return str(int(self.year) - 1)

    @property
    def raw(self) -> Path:
        return self.root / "data" / "raw" / "annual"

    @property
    def processed(self) -> Path:
        return self.root / "data" / "processed" / f"annual-{self.year}"

    @property
    def reports(self) -> Path:
        return self.root / "reports" / f"annual-{self.year}"

    def raw_files(self) -> dict[str, Path]:
        y = self.year
        return {
            "sipas": self.raw / f"sipas_{y}.csv",
            "sipas_summary": self.raw / "sipas_summary.csv",
            "sipas_wishes": self.raw / "sipas_wishes.csv",
            "par_summary": self.raw / "par_summary.csv",
            "par_fields": self.raw / "par_fields.csv",
            "par_history": self.raw / "par_history.csv",
            "par_criteria": self.raw / f"par_criteria_{y}.csv",
            "par_criteria_total": self.raw / f"par_criteria_{y}_total.csv",
            "metadata": self.raw / "metadata.yaml",
            "readme": self.raw / "README.md",
        }


def _decimals(col: str) -> pl.Expr:
    """Digits after the decimal point of a number kept as printed text (null stays null;
    "82,88%", read as 82.88, has 2)."""
    raw = pl.col(col).str.strip_chars()
    return pl.when(raw.is_null() | (raw == "")).then(None).otherwise(
        raw.str.extract(r"[.,](\d+)%?$", 1).str.len_chars().fill_null(0)).cast(pl.Int64)


LINE = "__line"  # row of a cell in its file, as a spreadsheet numbers it


def _read_csv(path: Path, numeric: list[str], keep_decimals: bool = False, text: tuple[str, ...] = ()) -> pl.DataFrame:
    """A transcription CSV, every cell as text, then the numeric columns as Float64
    (``<col>__dec`` = printed decimals when ``keep_decimals``).

    The file is read by ``chiso.sniff`` (encoding, delimiter, header row, empty rows,
    too long cells; empty files refused) and must have the columns ``text`` and
    ``numeric`` (data/raw/annual/README.md). Numbers are parsed as every reader parses
    them (``chiso.sniff.parse_numbers``): "82,88%" is 82.88 (a recorded repair), a cell
    that is not a number raises ``InputError`` naming its row and column.
    """
    file = str(path)
    required = [*text, *numeric]
    table = sniff.read_table(path, {sniff.norm_header(c) for c in required})
    missing = [c for c in required if c not in table.header]
    if missing:
        raise InputError(f"Thiếu cột bắt buộc: {', '.join(missing)} (xem data/raw/annual/README.md).",
                         f"Missing required columns: {', '.join(missing)}.", file=file, row=table.header_line,
                         column=missing[0], rule="required_columns")
    df = table.frame(LINE)
    if keep_decimals:
        df = df.with_columns([_decimals(c).alias(f"{c}__dec") for c in numeric])
    df = sniff.parse_numbers(df, numeric)
    sniff.raise_number_problem(df, numeric, file, row=LINE)
    sniff.record_number_repairs(df, numeric, file, row=LINE)
    return sniff.drop_number_helpers(df, numeric).drop(LINE)


def _rename_years(df: pl.DataFrame, year: str, prev: str) -> pl.DataFrame:
    """``pct_2024`` → ``pct_cur``, ``score_full_2023_chart`` → ``score_full_prev_chart``."""
    mapping = {}
    for c in df.columns:
        new = re.sub(rf"(?<=_){year}(?=_|$)", "cur", c)
        new = re.sub(rf"(?<=_){prev}(?=_|$)", "prev", new)
        if new != c:
            mapping[c] = new
    return df.rename(mapping)


@dataclass
class AnnualTables:
    """The transcribed tables of one year, typed, with generic ``cur``/``prev`` columns."""

    year: str
    prev_year: str
    sipas: pl.DataFrame
    sipas_summary: pl.DataFrame
    sipas_wishes: pl.DataFrame
    par_summary: pl.DataFrame
    par_fields: pl.DataFrame
    par_history: pl.DataFrame
    par_criteria: pl.DataFrame
    par_criteria_total: pl.DataFrame
    metadata: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)


def load_tables(year: str = "2024", root: str | Path = ".") -> AnnualTables:
    lay = AnnualLayout(str(year), Path(root))
    f = lay.raw_files()
    y, p = lay.year, lay.prev_year
    sipas = _rename_years(_read_csv(f["sipas"], [f"pct_{y}", f"pct_{p}", "change_printed"],
                                    text=("level", "code", "parent_code", "name", "notes")), y, p)
    sipas = sipas.with_row_index("order", offset=1).with_columns(
        pl.col("order").cast(pl.Int64), (pl.col("level") + ":" + pl.col("code")).alias("key"))
    sipas_summary = _read_csv(f["sipas_summary"], ["overall_pct", "rank", "out_of", "change_pct_points_printed",
                                                   "change_rank_places_printed"], text=("year", "notes")).with_columns(
        pl.col("year").cast(pl.Int64), pl.col("rank", "out_of").cast(pl.Int64))
    wishes = _read_csv(f["sipas_wishes"], ["pct"], text=("order", "wish", "notes")).with_columns(
        pl.col("order").cast(pl.Int64))
    par_summary = _read_csv(f["par_summary"], ["score", "max", "pct_of_max_printed", "rank", "out_of", "change_printed",
                                               "rank_change_printed"], keep_decimals=True,
                            text=("year", "component", "parent_component", "label", "notes")).with_columns(
        pl.col("year").cast(pl.Int64), pl.col("rank", "out_of", "rank_change_printed").cast(pl.Int64))
    field_cols = ["max_tlkc", f"score_tlkc_{y}", f"pct_tlkc_{y}_printed", "change_tlkc_printed", f"score_tlkc_{p}_derived",
                  "max_full", f"score_full_{y}_text", f"pct_full_{y}_printed", "change_full_printed",
                  f"score_full_{y}_chart", f"score_full_{p}_chart", f"score_full_{y}", f"score_full_{p}"]
    par_fields = _rename_years(_read_csv(f["par_fields"], field_cols, keep_decimals=True,
                                         text=("field", "name", "chart_label", "notes")), y, p).with_columns(
        pl.col("field").cast(pl.Int64))
    history = _read_csv(f["par_history"], ["total", "max", "rank", "out_of"], keep_decimals=True,
                        text=("year", "printed", "source", "notes")).with_columns(
        pl.col("year").cast(pl.Int64), pl.col("rank", "out_of").cast(pl.Int64))
    crit = _read_csv(f["par_criteria"], ["max_points", "self_assessed", "appraised", "deduction"], keep_decimals=True,
                     text=("code", "field", "name", "deduction_printed", "reason", "responsible",
                           "contains_personal_names", "notes"))
    crit = crit.with_row_index("order", offset=1).with_columns(
        pl.col("order").cast(pl.Int64), pl.col("field").cast(pl.Int64),
        (pl.col("deduction_printed").str.to_lowercase() == "true").alias("deduction_printed"),
        (pl.col("contains_personal_names").str.to_lowercase() == "true").alias("contains_personal_names"),
        pl.col("responsible").replace("", None))
    total = _read_csv(f["par_criteria_total"], ["n_criteria_stated", "max_points", "self_assessed", "appraised",
                                                "deduction"], keep_decimals=True,
                      text=("label", "printed_line", "notes"))
    with f["metadata"].open(encoding="utf-8") as fh:
        meta = yaml.safe_load(fh)
    return AnnualTables(y, p, sipas, sipas_summary, wishes, par_summary, par_fields, history, crit, total, meta, f)


# ----------------------------------------------------------------------------------
# SIPAS
# ----------------------------------------------------------------------------------
def _sipas_membership(sipas: pl.DataFrame) -> pl.DataFrame:
    """Every criterion with each aggregate it belongs to: its group, its area, overall."""
    crit = sipas.filter(pl.col("level") == "criterion").select("code", "parent_code", "pct_cur", "pct_prev")
    groups = sipas.filter(pl.col("level") == "group").select(pl.col("code").alias("parent_code"),
                                                            pl.col("parent_code").alias("area"))
    overall = sipas.filter(pl.col("level") == "overall")["code"].to_list()
    crit = crit.join(groups, on="parent_code", how="left")
    return pl.concat([
        crit.select("code", "pct_cur", "pct_prev", pl.lit("group:").add(pl.col("parent_code")).alias("agg_key")),
        crit.select("code", "pct_cur", "pct_prev", pl.lit("area:").add(pl.col("area")).alias("agg_key")),
        crit.select("code", "pct_cur", "pct_prev", pl.lit("overall:" + (overall[0] if overall else "ALL")).alias("agg_key")),
    ])


def sipas_items(sipas: pl.DataFrame, year: str | None = None, prev: str | None = None) -> pl.DataFrame:
    """One row per SIPAS item (overall, areas, groups, criteria) with the change computed from
    the two years, the mean of its criteria (aggregates) and the rank of criteria by change.
    With the years given, ``pct_cur_derived`` / ``pct_prev_derived`` flag the values the
    transcription reconstructed (read from the notes, e.g. "pct_2024 … reconstructed")."""
    if year and prev:
        notes = pl.col("notes").fill_null("")
        sipas = sipas.with_columns(notes.str.contains(rf"pct_{year}[^;.]*reconstructed").alias("pct_cur_derived"),
                                   notes.str.contains(rf"pct_{prev}[^;.]*reconstructed").alias("pct_prev_derived"))
    tol_change = SIPAS_CHANGE_TOL
    means = _sipas_membership(sipas).group_by("agg_key").agg(
        pl.col("pct_cur").mean().alias("mean_cur"), pl.col("pct_prev").mean().alias("mean_prev"),
        pl.len().cast(pl.Int64).alias("n_criteria"), pl.col("code").alias("criteria"))
    out = sipas.join(means, left_on="key", right_on="agg_key", how="left").with_columns(
        (pl.col("pct_cur") - pl.col("pct_prev")).alias("change"),
    ).with_columns(
        (pl.col("change") - pl.col("change_printed")).alias("change_diff"),
        (pl.col("pct_cur") - pl.col("mean_cur")).alias("mean_diff_cur"),
        (pl.col("pct_prev") - pl.col("mean_prev")).alias("mean_diff_prev"),
    ).with_columns(
        ((pl.col("change_diff").abs() <= tol_change + EPS)).alias("change_consistent"),
        pl.when(pl.col("level") == "criterion").then(
            pl.col("change").rank("ordinal", descending=True).over("level")).cast(pl.Int64).alias("change_rank"),
    )
    return out.sort("order")


def sipas_long(sipas: pl.DataFrame, year: str, prev: str) -> pl.DataFrame:
    """Tidy SIPAS: one row per item and year."""
    return sipas.unpivot(index=["order", "key", "level", "code", "parent_code", "name"], on=["pct_cur", "pct_prev"],
                         variable_name="period", value_name="pct").with_columns(
        pl.col("period").replace_strict({"pct_cur": int(year), "pct_prev": int(prev)}, return_dtype=pl.Int64).alias("year")
    ).drop("period").sort("order", "year")


def sipas_aggregation_hypotheses(sipas: pl.DataFrame) -> pl.DataFrame:
    """How the seed aggregates: each printed group/area/overall value compared with the mean
    of its criteria, the mean of its groups (areas, overall) and the mean of the areas
    (overall); counts of matches within printed precision (0,01) per hypothesis."""
    tol = SIPAS_MEAN_TOL
    crit_means = _sipas_membership(sipas).group_by("agg_key").agg(
        pl.col("pct_cur").mean().alias("cur"), pl.col("pct_prev").mean().alias("prev"))
    groups = sipas.filter(pl.col("level") == "group")
    areas = sipas.filter(pl.col("level") == "area")
    overall_key = sipas.filter(pl.col("level") == "overall")["key"].to_list()
    group_means = pl.concat([
        groups.group_by("parent_code").agg(pl.col("pct_cur").mean().alias("cur"), pl.col("pct_prev").mean().alias("prev"))
        .select(pl.lit("area:").add(pl.col("parent_code")).alias("agg_key"), "cur", "prev"),
        groups.select(pl.lit(overall_key[0]).alias("agg_key"), pl.col("pct_cur").mean().alias("cur"),
                      pl.col("pct_prev").mean().alias("prev")),
    ])
    area_means = areas.select(pl.lit(overall_key[0]).alias("agg_key"), pl.col("pct_cur").mean().alias("cur"),
                              pl.col("pct_prev").mean().alias("prev"))
    hyp = pl.concat([crit_means.with_columns(pl.lit("mean_of_criteria").alias("hypothesis")),
                     group_means.with_columns(pl.lit("mean_of_groups").alias("hypothesis")),
                     area_means.with_columns(pl.lit("mean_of_areas").alias("hypothesis"))])
    printed = sipas.filter(pl.col("level") != "criterion").select("key", "level", "pct_cur", "pct_prev")
    long = printed.join(hyp, left_on="key", right_on="agg_key").unpivot(
        index=["key", "level", "hypothesis"], on=["pct_cur", "pct_prev", "cur", "prev"])
    joined = long.filter(pl.col("variable").str.starts_with("pct_")).with_columns(
        pl.col("variable").str.replace("pct_", "").alias("period")).join(
        long.filter(~pl.col("variable").str.starts_with("pct_")).rename({"variable": "period", "value": "recomputed"}),
        on=["key", "level", "hypothesis", "period"])
    return joined.group_by("hypothesis", "level", "period").agg(
        pl.len().cast(pl.Int64).alias("n"),
        ((pl.col("value") - pl.col("recomputed")).abs() <= tol + EPS).sum().cast(pl.Int64).alias("n_match"),
        (pl.col("value") - pl.col("recomputed")).abs().max().alias("max_abs_diff"),
    ).sort("hypothesis", "level", "period")


# ----------------------------------------------------------------------------------
# PAR INDEX
# ----------------------------------------------------------------------------------
def par_field_change(fields: pl.DataFrame) -> pl.DataFrame:
    """The 8 fields this year vs last (full basis, what the bar chart shows)."""
    return fields.select(
        "field", "name", "chart_label", "max_tlkc", "score_tlkc_cur", "max_full",
        pl.col("score_full_cur").alias("score_cur"), pl.col("score_full_prev").alias("score_prev"),
        pl.when(pl.col("score_full_cur_chart").is_not_null()).then(pl.lit("chart")).otherwise(pl.lit("text"))
        .alias("source_cur"),
        pl.when(pl.col("score_full_prev_chart").is_not_null()).then(pl.lit("chart")).otherwise(pl.lit("derived"))
        .alias("source_prev"),
    ).with_columns(
        (pl.col("score_cur") - pl.col("score_prev")).alias("change"),
        (pl.col("score_cur") / pl.col("max_full") * 100).alias("pct_cur"),
        (pl.col("score_tlkc_cur") / pl.col("max_tlkc") * 100).alias("pct_tlkc_cur"),
        (pl.col("max_full") - pl.col("score_cur")).alias("shortfall_cur"),
    ).with_columns(
        pl.when(pl.col("change") > EPS).then(pl.lit("up")).when(pl.col("change") < -EPS).then(pl.lit("down"))
        .otherwise(pl.lit("same")).alias("direction"))


def par_fields_long(fields: pl.DataFrame, year: str, prev: str) -> pl.DataFrame:
    """Tidy field scores: field × basis (tlkc / full) × year, with the maximum and the source."""
    full = fields.select("field", "name", "max_full", "score_full_cur", "score_full_prev",
                         "score_full_cur_chart", "score_full_prev_chart")
    full_long = pl.concat([
        full.select("field", "name", pl.lit("full").alias("basis"), pl.lit(int(year)).alias("year"),
                    pl.col("score_full_cur").alias("score"), pl.col("max_full").alias("max"),
                    pl.when(pl.col("score_full_cur_chart").is_not_null()).then(pl.lit("chart")).otherwise(pl.lit("text"))
                    .alias("source")),
        full.select("field", "name", pl.lit("full").alias("basis"), pl.lit(int(prev)).alias("year"),
                    pl.col("score_full_prev").alias("score"), pl.col("max_full").alias("max"),
                    pl.when(pl.col("score_full_prev_chart").is_not_null()).then(pl.lit("chart"))
                    .otherwise(pl.lit("derived")).alias("source")),
        fields.select("field", "name", pl.lit("tlkc").alias("basis"), pl.lit(int(year)).alias("year"),
                      pl.col("score_tlkc_cur").alias("score"), pl.col("max_tlkc").alias("max"),
                      pl.lit("text").alias("source")),
        fields.filter(pl.col("score_tlkc_prev_derived").is_not_null()).select(
            "field", "name", pl.lit("tlkc").alias("basis"), pl.lit(int(prev)).alias("year"),
            pl.col("score_tlkc_prev_derived").alias("score"), pl.col("max_tlkc").alias("max"),
            pl.lit("derived").alias("source")),
    ])
    return full_long.with_columns(pl.col("year").cast(pl.Int64)).sort("basis", "field", "year")


_DERIVED_CELL = r"\b{col}\b (?:NOT printed|unreadable)[^:.]*: reconstructed"
_FROM_FIELD = r"reconstructed = [\d.]+ from field \d"
_UNCERTAIN = r"(?i)uncertain|cannot be excluded|a guess|best guess"


def par_criteria_table(crit: pl.DataFrame, summary: pl.DataFrame, year: str) -> pl.DataFrame:
    """The criteria that did not reach their max, with computed shortfall (max − appraised),
    computed deduction (self − appraised), which cells were derived in the transcription
    (flags read from the notes) and whether the row is the Văn phòng Chính phủ component."""
    gov = summary.filter((pl.col("year") == int(year)) & (pl.col("component") == "government_office"))
    gov_score, gov_max = (gov["score"][0], gov["max"][0]) if gov.height else (None, None)
    notes = pl.col("notes").fill_null("")
    return crit.with_columns(
        (pl.col("max_points") - pl.col("appraised")).alias("shortfall"),
        (pl.col("self_assessed") - pl.col("appraised")).alias("deduction_computed"),
        *[notes.str.contains(_DERIVED_CELL.format(col=c)).alias(f"{c}_derived")
          for c in ("max_points", "self_assessed", "appraised", "deduction")],
        notes.str.contains(_FROM_FIELD).alias("derived_from_field_total"),
        notes.str.contains(_UNCERTAIN).alias("uncertain_reading"),
        pl.all_horizontal(pl.col("max_points", "self_assessed", "appraised", "deduction").is_null()).alias("no_numbers"),
        ((pl.col("max_points") == gov_max) & ((pl.col("appraised") - gov_score).abs() < EPS)).fill_null(False)
        .alias("is_government_office"),
    )


def par_departments(criteria: pl.DataFrame) -> pl.DataFrame:
    """Totals per responsible department (null = not printed / unreadable in the seed)."""
    return criteria.group_by(pl.col("responsible"), maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("n_criteria"),
        pl.col("code").alias("codes"),
        pl.col("max_points").sum().alias("max_points"),
        pl.col("self_assessed").sum().alias("self_assessed"),
        pl.col("appraised").sum().alias("appraised"),
        pl.col("deduction").sum().alias("deduction_printed"),
        pl.col("shortfall").sum().alias("shortfall"),
        pl.col("shortfall").is_null().sum().cast(pl.Int64).alias("n_shortfall_unknown"),
        pl.col("deduction").is_null().sum().cast(pl.Int64).alias("n_deduction_not_printed"),
        pl.col("field").unique(maintain_order=True).alias("fields"),
    ).sort(pl.col("responsible").is_null(), pl.col("shortfall"), descending=[False, True])


# ----------------------------------------------------------------------------------
# Audit of the seed's own figures
# ----------------------------------------------------------------------------------
def _half(dec: pl.Expr | int) -> pl.Expr:
    d = dec if isinstance(dec, pl.Expr) else pl.lit(dec)
    return 0.5 * pl.lit(10.0).pow(-d.cast(pl.Float64))


def _half_pts(dec: pl.Expr) -> pl.Expr:
    """Half a unit of the last printed digit of a point value; points printed without
    decimals ("0", "1", maxima) are exact."""
    return pl.when(dec > 0).then(_half(dec)).otherwise(pl.lit(0.0))


def _finish(df: pl.DataFrame, check: str) -> pl.DataFrame:
    """Add ``difference`` and ``verdict`` (unless given) from printed, recomputed, tol."""
    if df.height == 0:
        return pl.DataFrame(schema=AUDIT_SCHEMA)
    if "note" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.String).alias("note"))
    if "verdict" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.String).alias("verdict"))
    diff = pl.col("printed") - pl.col("recomputed")
    return df.with_columns(
        pl.lit(check).alias("check"),
        diff.alias("difference"),
        pl.coalesce(pl.col("verdict"),
                    pl.when(pl.col("printed").is_null() | pl.col("recomputed").is_null()).then(pl.lit("missing"))
                    .when(diff.abs() <= EPS).then(pl.lit("ok"))
                    .when(diff.abs() <= pl.col("tol") + EPS).then(pl.lit("rounding"))
                    .otherwise(pl.lit("mismatch"))).alias("verdict"),
    ).select(list(AUDIT_SCHEMA)).cast(AUDIT_SCHEMA)


def _rows(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"item": pl.String, "printed": pl.Float64, "recomputed": pl.Float64,
                                      "tol": pl.Float64, "note": pl.String, "verdict": pl.String})


def _fmt(x: float | None, d: int = 3, strip: bool = True) -> str:
    """Vietnamese number for notes: up to ``d`` decimals (trailing zeros dropped)."""
    return fmt_num(x, d, strip=strip)


def _pct(x: float | None) -> str:
    """A SIPAS percentage or change, always with its 2 printed decimals."""
    return _fmt(x, SIPAS_DECIMALS, strip=False)


def _sipas_labels() -> dict[str, str]:
    return wording()["sipas"]["level_labels"]


def audit_sipas(t: AnnualTables) -> list[pl.DataFrame]:
    items = sipas_items(t.sipas)
    labels = _sipas_labels()
    tol_mean = SIPAS_MEAN_TOL
    item_label = (pl.col("level").replace_strict(labels, default=pl.col("level")) + " "
                  + pl.when(pl.col("level") == "overall").then(pl.lit("")).otherwise(pl.col("code"))).str.strip_chars()

    # Diagnosis of each inconsistent criterion: does the 2024 value implied by the printed
    # change (prev + printed change) reproduce the printed group mean?
    crit = items.filter(pl.col("level") == "criterion")
    groups = items.filter(pl.col("level") == "group").select(pl.col("code").alias("parent_code"),
                                                             pl.col("pct_cur").alias("group_printed"),
                                                             pl.col("mean_cur").alias("group_mean"),
                                                             pl.col("n_criteria").alias("group_n"))
    bad = crit.filter(~pl.col("change_consistent")).join(groups, on="parent_code").with_columns(
        (pl.col("pct_prev") + pl.col("change_printed")).alias("alt_cur"),
    ).with_columns(
        (pl.col("group_mean") + (pl.col("alt_cur") - pl.col("pct_cur")) / pl.col("group_n")).alias("alt_group_mean"),
    ).with_columns(
        ((pl.col("group_mean") - pl.col("group_printed")).abs() <= tol_mean + EPS).alias("read_fits"),
        ((pl.col("alt_group_mean") - pl.col("group_printed")).abs() <= tol_mean + EPS).alias("alt_fits"),
    )
    diag = {r["code"]: _note(
        "sipas_change_alt_fits" if r["alt_fits"] and not r["read_fits"] else
        "sipas_change_read_fits" if r["read_fits"] and not r["alt_fits"] else "sipas_change_undecided",
        year=t.year, alt=_pct(r["alt_cur"]), prev=_pct(r["pct_prev"]), change=_pct(r["change_printed"]),
        group=r["parent_code"], alt_mean=_fmt(r["alt_group_mean"], 3), read_mean=_fmt(r["group_mean"], 3),
        printed=_pct(r["group_printed"])) for r in bad.iter_rows(named=True)}
    change = _finish(items.select(
        item_label.alias("item"), pl.col("change_printed").alias("printed"), pl.col("change").alias("recomputed"),
        pl.lit(SIPAS_CHANGE_TOL).alias("tol"),
        pl.when(pl.col("level") == "criterion").then(pl.col("code").replace_strict(diag, default=None))
        .otherwise(None).alias("note")), "sipas_change")

    bad_codes = bad["code"].to_list()
    mean_rows = items.filter(pl.col("level") != "criterion").with_columns(
        pl.col("criteria").list.set_intersection(pl.lit(bad_codes, dtype=pl.List(pl.String))).alias("bad"))
    mean_long = pl.concat([
        mean_rows.select(item_label.alias("base"), pl.lit(t.year).alias("yr"), pl.col("pct_cur").alias("printed"),
                         pl.col("mean_cur").alias("recomputed"), "bad"),
        mean_rows.select(item_label.alias("base"), pl.lit(t.prev_year).alias("yr"), pl.col("pct_prev").alias("printed"),
                         pl.col("mean_prev").alias("recomputed"), "bad"),
    ])
    note_bad = wording()["audit"]["notes"]["sipas_mean_bad_criteria"]
    means = _finish(mean_long.select(
        (pl.col("base") + " – năm " + pl.col("yr")).alias("item"), "printed", "recomputed", pl.lit(tol_mean).alias("tol"),
        pl.when(((pl.col("printed") - pl.col("recomputed")).abs() > tol_mean + EPS) & (pl.col("bad").list.len() > 0))
        .then(pl.lit(note_bad.split("{codes}")[0]) + pl.col("bad").list.join(", ") + pl.lit(note_bad.split("{codes}")[1]))
        .otherwise(None).alias("note")), "sipas_mean_of_criteria")

    s = t.sipas_summary
    cur = s.filter(pl.col("year") == int(t.year)).row(0, named=True)
    prev = s.filter(pl.col("year") == int(t.prev_year)).row(0, named=True)
    overall = items.filter(pl.col("level") == "overall").row(0, named=True)
    w = wording()["audit"]["items"]
    summary = _finish(_rows([
        {"item": w["sipas_overall_text_vs_table"].format(year=t.year), "printed": cur["overall_pct"],
         "recomputed": overall["pct_cur"], "tol": 0.0},
        {"item": w["sipas_overall_text_vs_table"].format(year=t.prev_year), "printed": prev["overall_pct"],
         "recomputed": overall["pct_prev"], "tol": 0.0},
        {"item": w["sipas_overall_change"], "printed": cur["change_pct_points_printed"],
         "recomputed": cur["overall_pct"] - prev["overall_pct"], "tol": SIPAS_CHANGE_TOL,
         "note": _note("sipas_change_unit")},
        {"item": w["sipas_rank_change"], "printed": cur["change_rank_places_printed"],
         "recomputed": float(prev["rank"] - cur["rank"]), "tol": 0.0},
    ]), "sipas_summary")
    return [change, means, summary]


def _component_name() -> pl.Expr:
    return pl.col("component").replace_strict(wording()["par"]["component_names"], default=pl.col("component"))


def audit_par_summary(t: AnnualTables) -> list[pl.DataFrame]:
    w = wording()["audit"]["items"]
    ps = t.par_summary
    cur = ps.filter(pl.col("year") == int(t.year))
    tot = cur.filter(pl.col("component") == "total").row(0, named=True)
    prev_tot = ps.filter((pl.col("year") == int(t.prev_year)) & (pl.col("component") == "total")).row(0, named=True)
    children = cur.filter(pl.col("parent_component").is_not_null()).group_by("parent_component").agg(
        pl.col("score").sum().alias("sum_score"), pl.col("max").sum().alias("sum_max"),
        _half(pl.col("score__dec")).sum().alias("tol_children"), pl.col("label").alias("parts"))
    parents = cur.join(children, left_on="component", right_on="parent_component")
    comp = _finish(pl.concat([
        parents.select((pl.lit(w["par_components_score"]) + _component_name()).alias("item"),
                       pl.col("score").alias("printed"), pl.col("sum_score").alias("recomputed"),
                       (pl.col("tol_children") + _half(pl.col("score__dec"))).alias("tol")),
        parents.select((pl.lit(w["par_components_max"]) + _component_name()).alias("item"),
                       pl.col("max").alias("printed"), pl.col("sum_max").alias("recomputed"), pl.lit(0.0).alias("tol")),
    ]), "par_components")
    selfa = cur.filter(pl.col("pct_of_max_printed").is_not_null())
    pct = _finish(selfa.select(
        (pl.lit(w["par_pct_of_max"]) + _component_name()).alias("item"),
        pl.col("pct_of_max_printed").alias("printed"), (pl.col("score") / pl.col("max") * 100).alias("recomputed"),
        (0.0005 + _half(pl.col("score__dec")) / pl.col("max") * 100).alias("tol")), "par_pct_of_max")
    total = _finish(_rows([
        {"item": w["par_total_change"], "printed": tot["change_printed"], "recomputed": tot["score"] - prev_tot["score"],
         "tol": 3 * 0.005},
        {"item": w["par_rank_change"], "printed": float(tot["rank_change_printed"]),
         "recomputed": float(prev_tot["rank"] - tot["rank"]), "tol": 0.0, "note": _note("par_rank_change_year")},
    ]), "par_total")
    return [total, comp, pct]


def audit_par_fields(t: AnnualTables) -> list[pl.DataFrame]:
    w = wording()["audit"]["items"]
    f = t.par_fields
    ps = t.par_summary
    comp = {(r["year"], r["component"]): r for r in ps.iter_rows(named=True)}
    y, p = int(t.year), int(t.prev_year)
    half = lambda c: _half(pl.col(f"{c}__dec"))  # noqa: E731
    n_prev_derived = f.filter(pl.col("score_full_prev_chart").is_null()).height
    sums = f.select(
        pl.col("score_tlkc_cur").sum().alias("tlkc"), half("score_tlkc_cur").sum().alias("tlkc_tol"),
        pl.col("max_tlkc").sum().alias("max_tlkc"),
        pl.col("score_full_cur").sum().alias("full_cur"), half("score_full_cur").sum().alias("full_cur_tol"),
        pl.col("score_full_prev").sum().alias("full_prev"), half("score_full_prev").sum().alias("full_prev_tol"),
        pl.col("max_full").sum().alias("max_full")).row(0, named=True)
    sums_df = _finish(_rows([
        {"item": w["fields_tlkc_sum"].format(year=t.year), "printed": comp[(y, "tlkc_appraised")]["score"],
         "recomputed": sums["tlkc"], "tol": sums["tlkc_tol"] + 0.0005},
        {"item": w["fields_tlkc_max_sum"], "printed": comp[(y, "tlkc_appraised")]["max"], "recomputed": sums["max_tlkc"],
         "tol": 0.0},
        {"item": w["fields_full_sum"].format(year=t.year), "printed": comp[(y, "total")]["score"],
         "recomputed": sums["full_cur"], "tol": sums["full_cur_tol"] + 0.005, "note": _note("fields_chart_rounding")},
        {"item": w["fields_full_sum"].format(year=t.prev_year), "printed": comp[(p, "total")]["score"],
         "recomputed": sums["full_prev"], "tol": sums["full_prev_tol"] + 0.005,
         "note": _note("fields_prev_derived", n=f"{n_prev_derived:02d}")},
        {"item": w["fields_full_max_sum"], "printed": comp[(y, "total")]["max"], "recomputed": sums["max_full"],
         "tol": 0.0, "note": _note("fields_max8_derived")},
    ]), "par_fields_sum")

    # Percentages printed in the text vs the text's own fraction (and vs the chart value).
    pct_full = f.filter(pl.col("pct_full_cur_printed").is_not_null()).with_columns(
        (pl.col("score_full_cur_text") / pl.col("max_full") * 100).alias("rec"),
        (pl.col("score_full_cur_chart") / pl.col("max_full") * 100).alias("rec_chart"))
    note_chart = wording()["audit"]["notes"]["field_pct_fits_chart"]
    pct_full = pct_full.select(
        (pl.lit(w["field_pct"]) + pl.col("field").cast(pl.String) + ": " + pl.col("score_full_cur_text").map_elements(
            _fmt, return_dtype=pl.String) + "/" + pl.col("max_full").map_elements(_fmt, return_dtype=pl.String)).alias("item"),
        pl.col("pct_full_cur_printed").alias("printed"), pl.col("rec").alias("recomputed"),
        (0.005 + half("score_full_cur_text") / pl.col("max_full") * 100).alias("tol"),
        pl.when(((pl.col("rec_chart") - pl.col("pct_full_cur_printed")).abs() <= 0.005 + 0.005 / pl.col("max_full") * 100)
                & ((pl.col("score_full_cur_text") - pl.col("score_full_cur_chart")).abs() > EPS))
        .then(pl.lit(note_chart.split("{chart}")[0]) + pl.col("score_full_cur_chart").map_elements(_fmt, return_dtype=pl.String)
              + pl.lit(note_chart.split("{chart}")[1])).otherwise(None).alias("note"))
    pct_tlkc = f.filter(pl.col("pct_tlkc_cur_printed").is_not_null()).select(
        (pl.lit(w["field_pct_tlkc"]) + pl.col("field").cast(pl.String) + ": " + pl.col("score_tlkc_cur").map_elements(
            _fmt, return_dtype=pl.String) + "/" + pl.col("max_tlkc").map_elements(_fmt, return_dtype=pl.String)).alias("item"),
        pl.col("pct_tlkc_cur_printed").alias("printed"),
        (pl.col("score_tlkc_cur") / pl.col("max_tlkc") * 100).alias("recomputed"),
        (0.005 + half("score_tlkc_cur") / pl.col("max_tlkc") * 100).alias("tol"), pl.lit(None, pl.String).alias("note"))
    pct = _finish(pl.concat([pct_full, pct_tlkc]), "par_field_pct")

    # Scores written in the text vs the chart: when they differ, which chart value is it?
    chart_vals = pl.concat([
        f.select("field", pl.lit(t.year).alias("yr"), pl.col("score_full_cur_chart").alias("v")),
        f.select("field", pl.lit(t.prev_year).alias("yr"), pl.col("score_full_prev_chart").alias("v")),
    ]).drop_nulls("v")
    tc = f.filter(pl.col("score_full_cur_text").is_not_null() & pl.col("score_full_cur_chart").is_not_null())
    twins = tc.select("field", "score_full_cur_text").join(chart_vals, how="cross").filter(
        ((pl.col("v") - pl.col("score_full_cur_text")).abs() < EPS)
        & ~((pl.col("field") == pl.col("field_right")) & (pl.col("yr") == t.year)))
    twin_note = {r["field"]: _note("field_text_equals_other", field=r["field_right"], year=r["yr"])
                 for r in twins.iter_rows(named=True)}
    text_chart = _finish(tc.select(
        (pl.lit(w["field_text_vs_chart"]) + pl.col("field").cast(pl.String)).alias("item"),
        pl.col("score_full_cur_text").alias("printed"), pl.col("score_full_cur_chart").alias("recomputed"),
        pl.lit(0.0).alias("tol"), pl.col("field").replace_strict(twin_note, default=None).alias("note")),
        "par_field_text_vs_chart")

    # Printed changes vs the two chart values (only where both years were read on the chart).
    ch = _finish(f.filter(pl.col("change_full_printed").is_not_null() & pl.col("score_full_cur_chart").is_not_null()
                          & pl.col("score_full_prev_chart").is_not_null()).select(
        (pl.lit(w["field_change"]) + pl.col("field").cast(pl.String)).alias("item"),
        pl.col("change_full_printed").alias("printed"),
        (pl.col("score_full_cur_chart") - pl.col("score_full_prev_chart")).alias("recomputed"),
        (half("change_full_printed") + half("score_full_cur_chart") + half("score_full_prev_chart")).alias("tol")),
        "par_field_change")

    # Full field score = TLKC part + the non-TLKC part, matched to a component by its maximum.
    cur_comp = ps.filter((pl.col("year") == y) & pl.col("component").is_in(
        ["government_office", "survey_sipas", "survey_leaders"]))
    parts = f.with_columns((pl.col("max_full") - pl.col("max_tlkc")).alias("other_max")).filter(pl.col("other_max") > EPS)
    single = parts.join(cur_comp.filter(pl.col("component") != "survey_leaders").select(
        "component", pl.col("max").alias("other_max"), pl.col("score").alias("other_score"),
        pl.col("score__dec").alias("other_dec")), on="other_max", how="inner")
    rows = single.select(
        (pl.lit(w["field_parts"]) + pl.col("field").cast(pl.String) + " = TLKC + " + _component_name()).alias("item"),
        pl.col("score_full_cur").alias("printed"), (pl.col("score_tlkc_cur") + pl.col("other_score")).alias("recomputed"),
        (half("score_full_cur") + half("score_tlkc_cur") + _half(pl.col("other_dec"))).alias("tol"),
        pl.lit(_note("field_parts_assumed")).alias("note"))
    rest = parts.join(single.select("field"), on="field", how="anti")
    leaders = cur_comp.filter(pl.col("component") == "survey_leaders")
    if leaders.height and rest.height:
        lr = leaders.row(0, named=True)
        agg = rest.select((pl.col("score_full_cur") - pl.col("score_tlkc_cur")).sum().alias("s"),
                          (half("score_full_cur") + half("score_tlkc_cur")).sum().alias("tol"),
                          pl.col("other_max").sum().alias("m"), pl.col("field").cast(pl.String).str.join(", ").alias("fs")
                          ).row(0, named=True)
        rows = pl.concat([rows, pl.DataFrame([
            {"item": w["field_parts_leaders"].format(fields=agg["fs"]), "printed": lr["score"], "recomputed": agg["s"],
             "tol": agg["tol"] + 0.005, "note": _note("field_parts_assumed")},
            {"item": w["field_parts_leaders_max"].format(fields=agg["fs"]), "printed": lr["max"], "recomputed": agg["m"],
             "tol": 0.0, "note": _note("field_parts_assumed")},
        ], schema=rows.schema)])
    parts_df = _finish(rows, "par_field_parts")
    return [sums_df, pct, text_chart, ch, parts_df]


def audit_par_criteria(t: AnnualTables, criteria: pl.DataFrame) -> list[pl.DataFrame]:
    w = wording()["audit"]["items"]
    c = criteria
    half = lambda col: _half_pts(pl.col(f"{col}__dec"))  # noqa: E731
    ded = _finish(c.filter(pl.col("deduction").is_not_null() & pl.col("self_assessed").is_not_null()
                           & pl.col("appraised").is_not_null()).select(
        (pl.lit(w["criterion"]) + pl.col("code")).alias("item"), pl.col("deduction").alias("printed"),
        pl.col("deduction_computed").alias("recomputed"),
        (half("deduction") + half("self_assessed") + half("appraised")).alias("tol"),
        pl.when(pl.col("self_assessed_derived") | pl.col("deduction_derived")).then(pl.lit(_note("criterion_value_derived")))
        .otherwise(None).alias("note"),
        pl.when(pl.col("self_assessed_derived") | pl.col("deduction_derived")).then(pl.lit("derived"))
        .otherwise(None).alias("verdict")), "par_criteria_deduction")

    # The printed total line of the table.
    tl = t.par_criteria_total.row(0, named=True)
    missing = {col: c.filter(pl.col(col).is_null())["code"].to_list()
               for col in ("max_points", "self_assessed", "appraised", "deduction")}
    sums = c.select(pl.col("max_points", "self_assessed", "appraised", "deduction").sum()).row(0, named=True)

    def total_row(col: str, key: str) -> dict[str, Any]:
        miss = missing[col]
        return {"item": w[key], "printed": tl[col], "recomputed": sums[col],
                "tol": float(c.select(half(col).sum()).item() or 0) + 0.0005,
                "note": _note("total_rows_missing", n=f"{len(miss):02d}", codes=", ".join(miss)) if miss else None,
                "verdict": "missing" if miss else None}

    ps = t.par_summary.filter(pl.col("year") == int(t.year))
    comp = {r["component"]: r for r in ps.iter_rows(named=True)}
    gov_loss = c.filter(pl.col("is_government_office")).select(pl.col("shortfall").sum()).item() or 0.0
    tlkc_loss = comp["tlkc_appraised"]["max"] - comp["tlkc_appraised"]["score"]
    total = _finish(_rows([
        {"item": w["total_count"], "printed": tl["n_criteria_stated"], "recomputed": float(c.height), "tol": 0.0,
         "note": _note("total_count", stated=f"{int(tl['n_criteria_stated']):02d}", n=f"{c.height:02d}")},
        total_row("max_points", "total_max"),
        total_row("self_assessed", "total_self"),
        total_row("appraised", "total_appraised"),
        total_row("deduction", "total_deduction"),
        {"item": w["total_line_difference"], "printed": tl["deduction"],
         "recomputed": tl["self_assessed"] - tl["appraised"], "tol": PAR_LINE_TOL,
         "note": _note("total_line_difference")},
        {"item": w["total_vs_text"], "printed": tl["deduction"],
         "recomputed": comp["tlkc_self_assessed"]["score"] - comp["tlkc_appraised"]["score"], "tol": PAR_LINE_TOL,
         "note": _note("total_vs_text", self=_fmt(comp["tlkc_self_assessed"]["score"], 3),
                       appraised=_fmt(comp["tlkc_appraised"]["score"], 3))},
        {"item": w["total_max_interpretation"], "printed": tl["max_points"],
         "recomputed": tl["appraised"] + tlkc_loss + gov_loss, "tol": PAR_LINE_TOL,
         "note": _note("total_max_interpretation", appraised=_fmt(tl["appraised"], 3), tlkc_loss=_fmt(tlkc_loss, 3),
                       gov_loss=_fmt(gov_loss, 3))},
    ]), "par_criteria_total")

    # Per field: TLKC points lost (max − score) vs the shortfalls of its rows.
    fl = t.par_fields.select("field", (pl.col("max_tlkc") - pl.col("score_tlkc_cur")).alias("loss"),
                             (half("max_tlkc") + half("score_tlkc_cur")).alias("tol_f"))
    rows = c.filter(~pl.col("is_government_office")).group_by("field").agg(
        pl.col("shortfall").sum().alias("sum_short"), pl.col("shortfall").is_null().any().alias("incomplete"),
        pl.col("code").filter(pl.col("shortfall").is_null()).alias("codes_missing"),
        pl.col("derived_from_field_total").any().alias("circular"),
        pl.col("code").filter(pl.col("derived_from_field_total")).alias("codes_circular"),
        (half("max_points").fill_null(0) + half("appraised").fill_null(0)).sum().alias("tol_r"))
    loss = fl.join(rows, on="field", how="left").with_columns(
        pl.col("sum_short").fill_null(0.0), pl.col("incomplete").fill_null(False), pl.col("circular").fill_null(False),
        pl.col("tol_r").fill_null(0.0))
    nm = wording()["audit"]["notes"]
    loss_df = _finish(loss.sort("field").select(
        (pl.lit(w["field_tlkc_loss"]) + pl.col("field").cast(pl.String)).alias("item"),
        pl.col("loss").alias("printed"), pl.col("sum_short").alias("recomputed"),
        (pl.col("tol_f") + pl.col("tol_r")).alias("tol"),
        pl.when(pl.col("incomplete")).then(pl.lit(nm["field_loss_missing"]) + pl.col("codes_missing").list.join(", "))
        .when(pl.col("circular")).then(pl.lit(nm["field_loss_circular"]) + pl.col("codes_circular").list.join(", "))
        .otherwise(None).alias("note"),
        pl.when(pl.col("incomplete")).then(pl.lit("missing")).when(pl.col("circular")).then(pl.lit("derived"))
        .otherwise(None).alias("verdict")), "par_field_tlkc_loss")
    return [ded, total, loss_df] + audit_reasons(c)


_NUM = r"\d[\d.,]*\d|\d"
_PCT_FRACTION = rf"(?P<a>{_NUM})\s*/\s*(?P<b>{_NUM})[^;/%*]{{0,40}}?(?:chiếm|đạt)\s+(?P<p>{_NUM})\s*%"
_FORMULA = rf"(?P<a>{_NUM})\s*/\s*(?P<b>{_NUM})\s*\*\s*(?P<c>{_NUM})\s*=\s*(?P<d>{_NUM})"
_FRACTION = r"(?:^|[^\d/.,])(?P<a>\d+)/(?P<b>\d+)(?:[^\d/]|$)"  # a bare a/b, not part of a date


def vi_number(expr: pl.Expr) -> pl.Expr:
    """Parse numbers as printed in the seed's texts: "3.910.020" (dot thousands), "1,3223"
    (comma decimal), "0.5" (dot decimal when not followed by exactly three digits)."""
    s = expr.str.strip_chars(" .,")
    thousands = s.str.contains(r"^\d{1,3}(?:\.\d{3})+(?:,\d+)?$")
    return pl.when(thousands).then(s.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)) \
        .otherwise(s.str.replace(",", ".", literal=True)).cast(pl.Float64, strict=False)


def _vi_decimals(expr: pl.Expr) -> pl.Expr:
    s = expr.str.strip_chars(" .,")
    thousands = s.str.contains(r"^\d{1,3}(?:\.\d{3})+(?:,\d+)?$")
    frac = pl.when(thousands).then(s.str.extract(r",(\d+)$", 1)).otherwise(s.str.extract(r"[.,](\d+)$", 1))
    return frac.str.len_chars().fill_null(0).cast(pl.Int64)


def _extract(c: pl.DataFrame, pattern: str, names: list[str], source: str = "reason") -> pl.DataFrame:
    """All matches of ``pattern`` in each row's ``source`` text, one row per match."""
    m = c.select("code", "field", "name", "max_points", "appraised", "appraised__dec",
                 pl.col(source).str.extract_all(pattern).alias("m")).explode("m").drop_nulls("m")
    if m.height == 0:
        return m.with_columns([pl.lit(None, pl.String).alias(n) for n in names])
    return m.with_columns(pl.col("m").str.extract_groups(pattern).alias("g")).unnest("g")


def audit_reasons(c: pl.DataFrame) -> list[pl.DataFrame]:
    """Arithmetic printed inside the reason texts: "a/b, chiếm p%", "a/b * c = d", parts that
    must add up to a total, formula results vs the appraised score, a ratio vs the score."""
    w = wording()["audit"]["items"]
    nm = wording()["audit"]["notes"]
    # a/b … chiếm|đạt p%
    pf = _extract(c, _PCT_FRACTION, ["a", "b", "p"]).with_columns(
        vi_number(pl.col("a")).alias("av"), vi_number(pl.col("b")).alias("bv"), vi_number(pl.col("p")).alias("pv"),
        _vi_decimals(pl.col("p")).alias("pd"))
    pf = pf.with_columns((pl.col("av") / pl.col("bv") * 100).alias("rec"))
    trunc = (pl.col("rec") * pl.lit(10.0).pow(pl.col("pd"))).floor() / pl.lit(10.0).pow(pl.col("pd"))
    pct = _finish(pf.select(
        (pl.lit(w["criterion"]) + pl.col("code") + ": " + pl.col("a") + "/" + pl.col("b")).alias("item"),
        pl.col("pv").alias("printed"), pl.col("rec").alias("recomputed"), _half(pl.col("pd")).alias("tol"),
        pl.when(((trunc - pl.col("pv")).abs() < EPS) & ((pl.col("rec") - pl.col("pv")).abs() > _half(pl.col("pd")) + EPS))
        .then(pl.lit(nm["reason_truncated"])).otherwise(None).alias("note")), "par_reason_pct")

    # Shares of one whole (same denominator within a "*" section) must add up to it.
    sections = c.select("code", "field", "name", "max_points", "appraised", "appraised__dec",
                        pl.col("reason").str.split("*").alias("sec")).with_columns(
        pl.int_ranges(pl.col("sec").list.len()).alias("sec_i")).explode("sec", "sec_i")
    sec = sections.with_columns(pl.col("sec").str.extract_all(_PCT_FRACTION).alias("m")).explode("m").drop_nulls("m")
    sec = sec.with_columns(pl.col("m").str.extract_groups(_PCT_FRACTION).alias("g")).unnest("g").with_columns(
        vi_number(pl.col("a")).alias("av"), vi_number(pl.col("b")).alias("bv"))
    whole = sec.group_by("code", "sec_i", "bv", maintain_order=True).agg(
        pl.len().alias("n"), pl.col("av").sum().alias("sum_a"), pl.col("b").first().alias("b")).filter(pl.col("n") >= 2)
    shares_df = _finish(whole.select(
        (pl.lit(w["criterion"]) + pl.col("code") + ": " + pl.lit(w["reason_shares"]) + pl.col("b")).alias("item"),
        pl.col("bv").alias("printed"), pl.col("sum_a").alias("recomputed"), pl.lit(0.0).alias("tol")),
        "par_reason_shares")

    # "X/Y …, trong đó: + a1/b1 … + a2/b2 …": parts add up to the whole.
    split = c.filter(pl.col("reason").str.contains("trong đó")).select(
        "code", pl.col("reason").str.split_exact("trong đó", 1).alias("s")).unnest("s")
    head = split.select("code", pl.col("field_0").str.extract_all(_PCT_FRACTION).list.last().alias("m")).drop_nulls("m") \
        .with_columns(pl.col("m").str.extract_groups(_PCT_FRACTION).alias("g")).unnest("g").select(
        "code", vi_number(pl.col("a")).alias("A"), vi_number(pl.col("b")).alias("B"))
    tail = split.select("code", pl.col("field_1").str.extract_all(_PCT_FRACTION).alias("m")).explode("m").drop_nulls("m") \
        .with_columns(pl.col("m").str.extract_groups(_PCT_FRACTION).alias("g")).unnest("g").group_by("code").agg(
        vi_number(pl.col("a")).sum().alias("sa"), vi_number(pl.col("b")).sum().alias("sb"), pl.len().alias("n"))
    parts = head.join(tail, on="code")
    breakdown = _finish(pl.concat([
        parts.select((pl.lit(w["criterion"]) + pl.col("code") + ": " + pl.lit(w["reason_parts_num"])).alias("item"),
                     pl.col("A").alias("printed"), pl.col("sa").alias("recomputed"),
                     (pl.col("n") * 0.5 + 0.5).cast(pl.Float64).alias("tol"),
                     pl.lit(nm["reason_parts_rounding"]).alias("note")),
        parts.select((pl.lit(w["criterion"]) + pl.col("code") + ": " + pl.lit(w["reason_parts_den"])).alias("item"),
                     pl.col("B").alias("printed"), pl.col("sb").alias("recomputed"),
                     (pl.col("n") * 0.5 + 0.5).cast(pl.Float64).alias("tol"),
                     pl.lit(nm["reason_parts_rounding"]).alias("note")),
    ]), "par_reason_parts")

    # a/b * c = d
    fm = _extract(c, _FORMULA, ["a", "b", "c", "d"]).with_columns(
        vi_number(pl.col("a")).alias("av"), vi_number(pl.col("b")).alias("bv"), vi_number(pl.col("c")).alias("cv"),
        vi_number(pl.col("d")).alias("dv"), _vi_decimals(pl.col("d")).alias("dd"))
    formula = _finish(fm.select(
        (pl.lit(w["criterion"]) + pl.col("code") + ": " + pl.col("a") + "/" + pl.col("b") + " × " + pl.col("c")).alias("item"),
        pl.col("dv").alias("printed"), (pl.col("av") / pl.col("bv") * pl.col("cv")).alias("recomputed"),
        _half(pl.col("dd")).alias("tol")), "par_reason_formula")
    # the formula results of a row add up to its appraised score
    # (each result taken at least at the precision of the table's score; the note gives the
    # sum of the exact fractions)
    fsum = fm.group_by("code", maintain_order=True).agg(
        pl.col("dv").sum().alias("s"), (pl.col("av") / pl.col("bv") * pl.col("cv")).sum().alias("exact"),
        _half(pl.max_horizontal(pl.col("dd"), pl.col("appraised__dec"))).sum().alias("tol_d"),
        pl.col("appraised").first(), pl.col("appraised__dec").first())
    note_exact = nm["reason_points_exact"]
    points_sum = _finish(fsum.select(
        (pl.lit(w["criterion"]) + pl.col("code") + ": " + pl.lit(w["reason_points_sum"])).alias("item"),
        pl.col("appraised").alias("printed"), pl.col("s").alias("recomputed"),
        (pl.col("tol_d") + _half(pl.col("appraised__dec"))).alias("tol"),
        (pl.lit(note_exact.split("{exact}")[0]) + pl.col("exact").map_elements(lambda v: _fmt(v, 4), return_dtype=pl.String)
         + pl.lit(note_exact.split("{exact}")[1])).alias("note")), "par_reason_points_sum")

    # A "Tỷ lệ …" criterion whose reason gives a single ratio a/b (and no formula): a/b × max vs appraised.
    ratio_prefix = wording()["audit"]["ratio_criterion_prefix"]
    fr = c.filter(pl.col("name").str.starts_with(ratio_prefix) & ~pl.col("reason").str.contains(_FORMULA)).with_columns(
        pl.col("reason").str.extract_all(_FRACTION).alias("m")).filter(pl.col("m").list.len() == 1).explode("m") \
        .with_columns(pl.col("m").str.extract_groups(_FRACTION).alias("g")).unnest("g").with_columns(
        pl.col("a").cast(pl.Float64).alias("av"), pl.col("b").cast(pl.Float64).alias("bv"))
    fr = fr.with_columns((pl.col("appraised") / pl.col("max_points") * pl.col("bv")).round(0).alias("k"))
    note_ratio = nm["reason_ratio_nearest"]
    ratio = _finish(fr.select(
        (pl.lit(w["criterion"]) + pl.col("code") + ": " + pl.col("a") + "/" + pl.col("b") + " × "
         + pl.col("max_points").map_elements(_fmt, return_dtype=pl.String)).alias("item"),
        pl.col("appraised").alias("printed"), (pl.col("av") / pl.col("bv") * pl.col("max_points")).alias("recomputed"),
        _half(pl.col("appraised__dec")).alias("tol"),
        pl.when((pl.col("k") / pl.col("bv") * pl.col("max_points") - pl.col("appraised")).abs()
                <= _half(pl.col("appraised__dec")) + EPS)
        .then(pl.lit(note_ratio.split("{k}")[0]) + pl.col("k").cast(pl.Int64).cast(pl.String) + "/" + pl.col("b")
              + pl.lit(note_ratio.split("{k}")[1].split("{b}")[1])).otherwise(None).alias("note")), "par_reason_ratio")
    return [pct, shares_df, breakdown, formula, points_sum, ratio]


def audit_history(t: AnnualTables) -> list[pl.DataFrame]:
    w = wording()["audit"]["items"]
    h = t.par_history
    ps = t.par_summary.filter(pl.col("component") == "total")
    j = h.join(ps.select("year", pl.col("score").alias("s_score"), pl.col("rank").alias("s_rank")), on="year")
    rows = _finish(pl.concat([
        j.select((pl.lit(w["history_vs_summary"]) + pl.col("year").cast(pl.String)).alias("item"),
                 pl.col("total").alias("printed"), pl.col("s_score").alias("recomputed"), pl.lit(0.0).alias("tol")),
        j.filter(pl.col("rank").is_not_null()).select(
            (pl.lit(w["history_rank_vs_summary"]) + pl.col("year").cast(pl.String)).alias("item"),
            pl.col("rank").cast(pl.Float64).alias("printed"), pl.col("s_rank").cast(pl.Float64).alias("recomputed"),
            pl.lit(0.0).alias("tol")),
    ]), "par_history")
    cur = h.filter(pl.col("year") == int(t.year))
    record = _finish(_rows([{"item": w["history_record"].format(year=t.year, first=int(h["year"].min())),
                             "printed": cur["total"][0] if cur.height else None, "recomputed": h["total"].max(), "tol": 0.0,
                             "note": _note("history_record")}]), "par_history_record")
    return [rows, record]


def seed_audit(t: AnnualTables, criteria: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every sum, difference and percentage the seed prints, checked (tidy table)."""
    crit = criteria if criteria is not None else par_criteria_table(t.par_criteria, t.par_summary, t.year)
    frames = audit_sipas(t) + audit_par_summary(t) + audit_par_fields(t) + audit_par_criteria(t, crit) + audit_history(t)
    return pl.concat([f for f in frames if f.height], how="vertical")


# ----------------------------------------------------------------------------------
# Validation (Great Expectations)
# ----------------------------------------------------------------------------------
def validation_frames(t: AnnualTables) -> dict[str, tuple[pl.DataFrame, dict[str, Any], str, str]]:
    """suite name → (frame with derived columns, suite parameters, file, index column)."""
    tol_change = SIPAS_CHANGE_TOL
    items = sipas_items(t.sipas)
    design = t.metadata.get("sipas_survey_design") or {}
    # the parent of a criterion is a group, of a group an area, of an area the overall row
    parent_level = {"criterion": "group", "group": "area", "area": "overall"}
    parents = items.select((pl.col("level") + ":" + pl.col("code")).alias("parent_key"), pl.lit(True).alias("found"))
    items = items.with_columns(
        (pl.col("level").replace_strict(parent_level, default=None) + ":" + pl.col("parent_code")).alias("parent_key")
    ).join(parents, on="parent_key", how="left").with_columns(
        (pl.col("found").fill_null(False) | (pl.col("level") == "overall")).alias("parent_found")
    ).drop("parent_key", "found").sort("order")
    sipas = items.with_columns(
        pl.col("change_diff").abs().alias("change_gap"),
        pl.col("mean_diff_cur").abs().alias("mean_gap_cur"),
        pl.col("mean_diff_prev").abs().alias("mean_gap_prev"),
        pl.when(pl.col("level") == "criterion").then(pl.col("code")).alias("criterion_code"),
        pl.when(pl.col("level") == "group").then(pl.col("code")).alias("group_code"),
    ).drop("criteria")
    sipas_params = {"change_tolerance": tol_change + EPS, "mean_tolerance": SIPAS_MEAN_TOL + EPS,
                    "n_criteria": int(design.get("criteria", 39)), "n_groups": int(design.get("criterion_groups", 9))}

    ps = t.par_summary
    kids = ps.filter(pl.col("parent_component").is_not_null()).group_by("year", "parent_component").agg(
        pl.col("score").sum().alias("children_score"), _half(pl.col("score__dec")).sum().alias("children_tol"))
    ps_v = ps.join(kids, left_on=["year", "component"], right_on=["year", "parent_component"], how="left").with_columns(
        ((pl.col("score") - pl.col("children_score")).abs() - pl.col("children_tol") - _half(pl.col("score__dec")))
        .alias("children_excess"),
        (pl.col("year").cast(pl.String) + ":" + pl.col("component")).alias("key"))

    f = t.par_fields
    comp = {(r["year"], r["component"]): r for r in ps.iter_rows(named=True)}
    y, p = int(t.year), int(t.prev_year)
    half = lambda c: _half(pl.col(f"{c}__dec"))  # noqa: E731
    fields_v = f.with_columns(
        ((pl.col("pct_full_cur_printed") - pl.col("score_full_cur_text") / pl.col("max_full") * 100).abs()
         - 0.005 - half("score_full_cur_text") / pl.col("max_full") * 100).alias("pct_text_excess"),
        ((pl.col("score_full_cur_text") - pl.col("score_full_cur_chart")).abs()).alias("text_chart_gap"),
        ((pl.col("change_full_printed") - (pl.col("score_full_cur_chart") - pl.col("score_full_prev_chart"))).abs()
         - half("change_full_printed") - half("score_full_cur_chart") - half("score_full_prev_chart")).alias("change_excess"),
        pl.col("field").cast(pl.String).alias("field_id"),
    )
    tot_tol = lambda col: float(f.select(half(col).sum()).item())  # noqa: E731
    fields_params = {
        "tlkc_sum_min": comp[(y, "tlkc_appraised")]["score"] - tot_tol("score_tlkc_cur") - 0.0005 - EPS,
        "tlkc_sum_max": comp[(y, "tlkc_appraised")]["score"] + tot_tol("score_tlkc_cur") + 0.0005 + EPS,
        "tlkc_max_sum_min": comp[(y, "tlkc_appraised")]["max"] - EPS,
        "tlkc_max_sum_max": comp[(y, "tlkc_appraised")]["max"] + EPS,
        "full_max_sum_min": comp[(y, "total")]["max"] - EPS,
        "full_max_sum_max": comp[(y, "total")]["max"] + EPS,
        "full_cur_sum_min": comp[(y, "total")]["score"] - tot_tol("score_full_cur") - 0.005 - EPS,
        "full_cur_sum_max": comp[(y, "total")]["score"] + tot_tol("score_full_cur") + 0.005 + EPS,
        "full_prev_sum_min": comp[(p, "total")]["score"] - tot_tol("score_full_prev") - 0.005 - EPS,
        "full_prev_sum_max": comp[(p, "total")]["score"] + tot_tol("score_full_prev") + 0.005 + EPS,
        "n_fields": 8,
    }

    crit = par_criteria_table(t.par_criteria, t.par_summary, t.year)
    crit_v = crit.with_columns(
        ((pl.col("self_assessed") - pl.col("appraised") - pl.col("deduction")).abs()
         - half("self_assessed") - half("appraised") - half("deduction")).alias("deduction_excess"),
        (pl.col("code").str.extract(r"^(\d+)", 1).cast(pl.Int64, strict=False) == pl.col("field")).alias("field_matches_code"),
    ).drop("order")
    crit_params = {"n_criteria_stated": int(t.par_criteria_total["n_criteria_stated"][0])}

    h = t.par_history.sort("year").with_columns(pl.col("year").diff().alias("year_step"),
                                                pl.col("year").cast(pl.String).alias("year_id"))
    hist_params = {"first_year": int(h["year"].min()), "last_year": int(t.year)}
    f_ = t.files
    return {
        "annual_sipas": (sipas, sipas_params, str(f_["sipas"]), "key"),
        "annual_par_summary": (ps_v, {}, str(f_["par_summary"]), "key"),
        "annual_par_fields": (fields_v, fields_params, str(f_["par_fields"]), "field_id"),
        "annual_par_criteria": (crit_v, crit_params, str(f_["par_criteria"]), "code"),
        "annual_par_history": (h, hist_params, str(f_["par_history"]), "year_id"),
    }


def validate(t: AnnualTables) -> list[validation.ValidationOutcome]:
    """Run every annual suite. Great Expectations drops an expectation it cannot build
    (unknown type, bad kwargs) with a log message only; such a suite is an error here."""
    outcomes = []
    for name, (df, params, file, idx) in validation_frames(t).items():
        outcome = validation.run_suite(df, name, params, file, index_column=idx)
        expected = len(validation.load_suite_dict(name)["expectations"])
        if outcome.results.height != expected:
            raise RuntimeError(f"suite {name}: {outcome.results.height} of {expected} expectations ran; "
                               "check the expectation types and kwargs in expectations/{name}.json")
        outcomes.append(outcome)
    return outcomes


def validation_json(outcomes: list[validation.ValidationOutcome]) -> str:
    return json.dumps([json.loads(o.to_json()) for o in outcomes], ensure_ascii=False, indent=1, sort_keys=True) + "\n"


# ----------------------------------------------------------------------------------
# Stage
# ----------------------------------------------------------------------------------
OUTPUTS = ("sipas", "sipas_items", "sipas_summary", "sipas_wishes", "sipas_aggregation", "par_summary", "par_fields",
           "par_field_change", "par_history", "par_criteria", "par_criteria_total", "par_departments", "seed_audit")


def analyse(t: AnnualTables) -> dict[str, pl.DataFrame]:
    """All tidy tables of the annual analysis (nothing written)."""
    crit = par_criteria_table(t.par_criteria, t.par_summary, t.year)
    return {
        "sipas": sipas_long(t.sipas, t.year, t.prev_year),
        "sipas_items": sipas_items(t.sipas, t.year, t.prev_year),
        "sipas_summary": t.sipas_summary,
        "sipas_wishes": t.sipas_wishes,
        "sipas_aggregation": sipas_aggregation_hypotheses(t.sipas),
        "par_summary": t.par_summary,
        "par_fields": par_fields_long(t.par_fields, t.year, t.prev_year),
        "par_field_change": par_field_change(t.par_fields),
        "par_history": t.par_history,
        "par_criteria": crit,
        "par_criteria_total": t.par_criteria_total,
        "par_departments": par_departments(crit),
        "seed_audit": seed_audit(t, crit),
    }


def build(year: str = "2024", root: str | Path = ".") -> dict[str, Any]:
    """The annual stage: validate the transcription (critical rules stop it), then write the
    tidy tables, the seed audit (Parquet, CSV, JSON) and the validation results (with the
    repairs made while reading each file) to ``data/processed/annual-<year>/``. Returns a
    short summary."""
    lay = AnnualLayout(str(year), Path(root))
    with sniff.collect_repairs() as read_repairs:
        t = load_tables(lay.year, lay.root)
    outcomes = validate(t)
    repairs = sniff.repairs_frame(read_repairs)
    for o in outcomes:   # what was repaired while reading, with the suite of that file
        o.repairs = repairs.filter(pl.col("file").is_in([str(t.files[k]) for k in SUITE_FILES[o.suite]]))
    atomic_write_text(lay.processed / "validation.json", validation_json(outcomes))
    for o in outcomes:
        validation.raise_on_failure(o)
    tables = analyse(t)
    for name, df in tables.items():
        write_parquet(df, lay.processed / f"{name}.parquet")
    audit = tables["seed_audit"]
    atomic_write_text(lay.processed / "seed_audit.csv", _csv_text(audit))
    atomic_write_text(lay.processed / "seed_audit.json",
                      json.dumps(audit.to_dicts(), ensure_ascii=False, indent=1) + "\n")
    counts = dict(audit.group_by("verdict").len().iter_rows())
    return {"year": lay.year, "processed": str(lay.processed),
            "validation": {o.suite: {"success": o.success, "warnings": o.warnings.height} for o in outcomes},
            "audit": {v: int(counts.get(v, 0)) for v in VERDICTS}}


def _csv_text(df: pl.DataFrame) -> str:
    return df.with_columns(pl.col(pl.Float64).round(6)).write_csv()
