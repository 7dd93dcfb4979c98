"""The annual SIPAS and PAR INDEX analysis, in the style of the Sở Nội vụ report 661/BC-SNV.

Reads the tidy tables written by :func:`chiso.annual.build` (``data/processed/annual-<year>/``)
and returns :mod:`chiso.doc` blocks. Every figure comes from those tables; every sentence
comes from ``annual_wording.yaml`` with the figures filled in.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from pathlib import Path
from typing import Any

import polars as pl

from .. import annual, charts, doc, privacy, sniff
from ..io import sha256
from ..lineage import code_version, file_entries, generation_iso, generation_time
from ..numbers import fmt_count, fmt_num, fmt_signed, fmt_units, round_half_up
from ..params import load_params
from .validation import repair_blocks

MISSING = "…"
DERIVED = " (s)"


# ----------------------------------------------------------------------------------
# Formatting helpers
# ----------------------------------------------------------------------------------
def W() -> dict[str, Any]:
    return annual.wording()


def pct(x: float | None) -> str:
    """A SIPAS percentage / percentage-point value: 82,96."""
    return fmt_num(x, 2)


def pts(x: float | None, decimals: int = 4) -> str:
    """Points as printed: up to ``decimals`` decimals, trailing zeros dropped (1,0923; 0,96; 1)."""
    return MISSING if x is None else fmt_num(x, decimals, strip=True)


def pts2(x: float | None) -> str:
    """Field and total scores with their two printed decimals: 9,43; 88,23."""
    return MISSING if x is None else fmt_num(x, 2)


def signed(x: float | None, decimals: int = 2) -> str:
    return MISSING if x is None else fmt_signed(x, decimals)


def signed_strip(x: float | None, decimals: int = 4) -> str:
    if x is None:
        return MISSING
    text = fmt_num(abs(x), decimals, strip=True)
    return ("+" if x > 0 else "-" if x < 0 else "") + text if text != "0" else "0"


def _axis_range(values: list[float | None], lo: float, hi: float, pad: float = 2.0) -> tuple[float, float]:
    """The chart's range [lo, hi], widened (never clipped) when a value falls outside it."""
    known = [v for v in values if v is not None]
    if not known:
        return lo, hi
    return min(lo, math.floor(min(known) - pad)), max(hi, math.ceil(max(known) + pad))


def change_phrase(x: float, section: str, decimals: int = 2) -> str:
    w = W()[section]
    if round_half_up(x, decimals) > 0:
        return w["up_points"].format(x=fmt_num(abs(x), decimals))
    if round_half_up(x, decimals) < 0:
        return w["down_points"].format(x=fmt_num(abs(x), decimals))
    return w["same_points"]


def places_phrase(gained: int, section: str) -> str:
    w = W()[section]
    if gained > 0:
        return w["up_places"].format(n=fmt_units(gained))
    if gained < 0:
        return w["down_places"].format(n=fmt_units(-gained))
    return w["same_places"]


def lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    return text if (len(first) > 1 and first.isupper()) else text[:1].lower() + text[1:]


def shorten(text: str, limit: int) -> str:
    """Cut a long reason at a word boundary, ending with "…"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return cut + " …"


def date_vi(iso: Any) -> str:
    d = iso if isinstance(iso, _dt.date) else _dt.date.fromisoformat(str(iso))
    return f"{d.day}/{d.month}/{d.year}"


def _sum(values: list[float | None], decimals: int = 4) -> str:
    """Sum of the known values; "+ …" when some are not printed."""
    known = [v for v in values if v is not None]
    if not known:
        return MISSING
    text = fmt_num(sum(known), decimals, strip=True)
    return ("≥\u00a0" if len(known) < len(values) else "") + text


# ----------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------
class _Inputs:
    def __init__(self, year: str, root: Path):
        self.lay = annual.AnnualLayout(str(year), root)
        p = self.lay.processed
        missing = [n for n in annual.OUTPUTS if not (p / f"{n}.parquet").exists()]
        if missing:
            raise FileNotFoundError(f"{p}: chưa có {', '.join(missing)}.parquet; chạy chiso.annual.build trước")
        self.t = {n: pl.read_parquet(p / f"{n}.parquet") for n in annual.OUTPUTS}
        self.validation = json.loads((p / "validation.json").read_text(encoding="utf-8"))
        import yaml

        with self.lay.raw_files()["metadata"].open(encoding="utf-8") as fh:
            self.meta = yaml.safe_load(fh)
        self.year, self.prev = self.lay.year, self.lay.prev_year
        parent = self.meta["document"]["parent_body"]
        self.province = re.sub(r"^(UBND|Ủy ban nhân dân)\s+tỉnh\s+", "", parent, flags=re.I)

    def __getitem__(self, name: str) -> pl.DataFrame:
        return self.t[name]


# ----------------------------------------------------------------------------------
# Front matter
# ----------------------------------------------------------------------------------
def front_blocks(x: _Inputs) -> list[doc.Block]:
    w = W()["front"]
    d = x.meta["document"]
    generated = generation_iso()
    decisions = x.meta.get("source_decisions") or []
    numbers = [str(s["number"]).split("/", 1) for s in decisions]
    suffixes = {n[1] for n in numbers if len(n) == 2}
    dec_text = (", ".join(n[0] for n in numbers) + "/" + suffixes.pop()) if len(suffixes) == 1 else \
        ", ".join(str(s["number"]) for s in decisions)
    dec_dates = {date_vi(s["date"]) for s in decisions}
    issuers = {s.get("issuer", "") for s in decisions}
    fmt = dict(year=x.year, prev=x.prev, province=x.province, province_upper=x.province.upper(),
               place=d["place"], issue_year=int(x.year) + 1, suffix=str(d["report_number"]).split("/", 1)[1])
    return [
        doc.DocumentMeta(title=w["meta_title"].format(**fmt), running_header=w["running_header"].format(**fmt),
                         synthetic=False, generated_at=generated),
        doc.FrontMatter(issuer_parent=w["issuer_parent"].format(**fmt), issuer=w["issuer"].format(**fmt),
                        number=w["number"].format(**fmt), place_date=w["place_date"].format(**fmt),
                        title=w["title"], subtitle=" ".join(w["subtitle"].format(**fmt).split())),
        doc.Paragraph(" ".join(w["intro"].format(
            decision_issuer=issuers.pop() if len(issuers) == 1 else "", decisions=dec_text,
            decision_date=", ".join(sorted(dec_dates)), **fmt).split())),
        doc.Paragraph(" ".join(w["source_note"].format(number=d["report_number"], date=date_vi(d["date"]),
                                                       issuer=d["issuing_body"]).split())),
    ]


# ----------------------------------------------------------------------------------
# I. SIPAS
# ----------------------------------------------------------------------------------
def sipas_blocks(x: _Inputs) -> list[doc.Block]:
    w = W()["sipas"]
    items = x["sipas_items"]
    summ = x["sipas_summary"]
    cur = summ.filter(pl.col("year") == int(x.year)).row(0, named=True)
    prev = summ.filter(pl.col("year") == int(x.prev)).row(0, named=True)
    crit = items.filter(pl.col("level") == "criterion")
    groups = items.filter(pl.col("level") == "group")
    areas = items.filter(pl.col("level") == "area")
    design = x.meta.get("sipas_survey_design") or {}
    out: list[doc.Block] = [doc.Heading(w["heading"], 1), doc.Heading(w["h_overall"], 2)]
    if design:
        out.append(doc.Paragraph(" ".join(w["survey"].format(
            respondents=design["respondents"], n_districts=fmt_units(len(design["districts"])),
            districts=", ".join(design["districts"]), communes=fmt_units(design["communes_per_district"]),
            villages=fmt_units(design["villages_per_commune"]), villages_total=design["villages_total"],
            fieldwork=design["fieldwork"], n_criteria=crit.height, n_groups=fmt_units(groups.height)).split())))
    out.append(doc.Paragraph(" ".join(w["overall"].format(
        year=x.year, prev=x.prev, pct=pct(cur["overall_pct"]), rank=cur["rank"], out_of=cur["out_of"],
        change_phrase=change_phrase(cur["overall_pct"] - prev["overall_pct"], "sipas"),
        rank_phrase=places_phrase(prev["rank"] - cur["rank"], "sipas"),
        pct_prev=pct(prev["overall_pct"]), rank_prev=prev["rank"], out_of_prev=prev["out_of"]).split())))
    n_up = crit.filter(pl.col("change") > 0).height
    n_down = crit.filter(pl.col("change") < 0).height
    line = (w["all_up"] if n_up == crit.height else w["some_up"]).format(
        n=n_up, total=crit.height, n_groups=fmt_units(groups.height), prev=x.prev, n_down=fmt_units(n_down))
    area_items = [w["area_item"].format(name=r["name"], pct=pct(r["pct_cur"]), prev=x.prev, pct_prev=pct(r["pct_prev"]),
                                        change_phrase=change_phrase(r["change"], "sipas"))
                  for r in areas.iter_rows(named=True)]
    out.append(doc.Paragraph(line + " " + w["areas_lead"]))
    out.append(doc.Bullets(area_items))

    # 2. groups and criteria
    out.append(doc.Heading(w["h_groups"], 2))
    out.append(doc.Paragraph(w["groups_lead"].format(n_groups=fmt_units(groups.height), year=x.year, prev=x.prev)))
    gs = groups.sort("pct_cur", descending=True)
    gc = groups.sort("change", descending=True)
    hi, lo = gs.row(0, named=True), gs.row(-1, named=True)
    up, dn = gc.row(0, named=True), gc.row(-1, named=True)
    out.append(doc.Bullets([
        w["group_best"].format(code=hi["code"], name=hi["name"], pct=pct(hi["pct_cur"]), low_code=lo["code"],
                               low_name=lo["name"], low_pct=pct(lo["pct_cur"])),
        w["group_most_up"].format(code=up["code"], name=up["name"], change=signed(up["change"]), low_code=dn["code"],
                                  low_name=dn["name"], low_change=signed(dn["change"])),
    ]))
    svg = charts.grouped_hbars(
        [f"{r['code']}. {r['name']}" for r in groups.iter_rows(named=True)], groups["pct_cur"].to_list(),
        groups["pct_prev"].to_list(), f"Năm {x.year}", f"Năm {x.prev}", w["fig_groups_title"], "%", decimals=2,
        xlim=_axis_range([*groups["pct_cur"].to_list(), *groups["pct_prev"].to_list()], 70, 88), label_width=40)
    out.append(doc.Figure(svg, caption=w["fig_groups_caption"].format(n_groups=fmt_units(groups.height), prev=x.prev,
                                                                       year=x.year, province=x.province)))
    out.append(sipas_table(x, items))

    # 3. movers
    out.append(doc.Heading(w["h_movers"], 2))
    n = int(w["top_n"])
    gnames = {r["code"]: r["code"] for r in groups.iter_rows(named=True)}

    def mover(r: dict) -> str:
        text = w["mover_item"].format(code=r["code"], group=gnames.get(r["parent_code"], r["parent_code"]),
                                      name=r["name"], pct=pct(r["pct_cur"]), prev=x.prev, pct_prev=pct(r["pct_prev"]),
                                      change_phrase=change_phrase(r["change"], "sipas"))
        if not r["change_consistent"]:
            text = text.rstrip(".") + w["mover_flag"].format(printed=signed(r["change_printed"]))
        return text

    ranked = crit.sort(["change", "order"], descending=[True, False])
    out.append(doc.Paragraph(w["top_lead"].format(n=fmt_units(n), prev=x.prev)))
    out.append(doc.Bullets([mover(r) for r in ranked.head(n).iter_rows(named=True)]))
    falling = crit.filter(pl.col("change") < 0).sort("change")
    if falling.height:
        out.append(doc.Paragraph(w["bottom_lead_down"].format(prev=x.prev)))
        out.append(doc.Bullets([mover(r) for r in falling.iter_rows(named=True)]))
    else:
        out.append(doc.Paragraph(w["bottom_lead_up"].format(n=fmt_units(n), prev=x.prev)))
        out.append(doc.Bullets([mover(r) for r in ranked.tail(n).reverse().iter_rows(named=True)]))
    area_of = dict(zip(groups["code"].to_list(), groups["parent_code"].to_list()))
    first_area = areas["code"][0] if areas.height else None
    colours = [charts.ANNUAL_CURRENT_COLOUR if area_of.get(g) == first_area else charts.ANNUAL_PREVIOUS_COLOUR
               for g in ranked["parent_code"].to_list()]
    labels = [shorten(f"{r['code']}. {r['name']}", 56).replace(" …", "…") for r in ranked.iter_rows(named=True)]
    out.append(doc.Figure(charts.change_bars(labels, ranked["change"].to_list(), w["fig_changes_title"], "điểm phần trăm",
                                             colours=colours, label_width=200),
                          caption=w["fig_changes_caption"].format(n=crit.height, year=x.year, prev=x.prev) + ". "
                          + w["fig_changes_legend"]))

    # 4. wishes
    wishes = x["sipas_wishes"].sort("pct", descending=True)
    if wishes.height:
        out.append(doc.Heading(w["h_wishes"], 2))
        out.append(doc.Paragraph(" ".join(w["wishes_lead"].format(year=x.year).split())))
        out.append(doc.Bullets([w["wish_item"].format(pct=fmt_num(r["pct"], 2, strip=True), wish=r["wish"])
                                for r in wishes.iter_rows(named=True)]))
    return out


def sipas_table(x: _Inputs, items: pl.DataFrame) -> doc.Table:
    w = W()["sipas"]
    rows = []
    bad, derived = [], []
    for r in items.sort("order").iter_rows(named=True):
        level = r["level"]
        if level == "area":
            label = f"{r['code']}. {r['name'].upper()}"
        elif level == "overall":
            label = r["name"].upper()
        else:
            label = f"{r['code']}. {r['name']}"
        cur = pct(r["pct_cur"]) + (DERIVED if r.get("pct_cur_derived") else "")
        prv = pct(r["pct_prev"]) + (DERIVED if r.get("pct_prev_derived") else "")
        chg = signed(r["change"])
        if not r["change_consistent"]:
            chg += " (*)"
            bad.append(f"{w['level_labels'][level].lower()} {r['code']} in {signed(r['change_printed'])}")
        if r.get("pct_cur_derived") or r.get("pct_prev_derived"):
            derived.append(f"{w['level_labels'][level].lower()} {r['code']}")
        rows.append([label, cur, prv, chg])
    notes = [w["table_note_aggregates"]]
    if bad:
        notes.insert(0, " ".join(w["table_note_change"].format(year=x.year, prev=x.prev, items="; ".join(bad)).split()))
    if derived:
        notes.append(" ".join(w["table_note_reconstructed"].format(items=", ".join(derived)).split()))
    cols = [c.format(year=x.year, prev=x.prev) for c in w["table_columns"]]
    n_crit = items.filter(pl.col("level") == "criterion").height
    return doc.Table(columns=cols, rows=rows, align=["left", "right", "right", "right"], widths=[5.2, 1.1, 1.1, 1.3],
                     caption=w["table_caption"].format(n_criteria=n_crit, year=x.year, prev=x.prev), notes=notes,
                     searchable=True)


# ----------------------------------------------------------------------------------
# II. PAR INDEX
# ----------------------------------------------------------------------------------
def par_blocks(x: _Inputs, show_names: bool) -> list[doc.Block]:
    w = W()["par"]
    ps = x["par_summary"]
    comp = {(r["year"], r["component"]): r for r in ps.iter_rows(named=True)}
    y, p = int(x.year), int(x.prev)
    tot, tot_prev = comp[(y, "total")], comp[(p, "total")]
    hist = x["par_history"].sort("year")
    first = int(hist["year"].min())
    record = (w["record"].format(first=first)
              if hist.filter(pl.col("year") == y).height and tot["score"] >= hist["total"].max() - annual.EPS else "")
    out: list[doc.Block] = [doc.Heading(w["heading"], 1), doc.Heading(w["h_overall"], 2)]
    out.append(doc.Paragraph(" ".join(w["overall"].format(
        year=x.year, prev=x.prev, province=x.province, score=pts2(tot["score"]), max=pts(tot["max"]),
        change_phrase=change_phrase(tot["score"] - tot_prev["score"], "par"), score_prev=pts2(tot_prev["score"]),
        record_phrase=record, rank=tot["rank"], out_of=tot["out_of"],
        rank_phrase=places_phrase(tot_prev["rank"] - tot["rank"], "par"), rank_prev=tot_prev["rank"],
        out_of_prev=tot_prev["out_of"]).split())))
    sa, ap = comp.get((y, "tlkc_self_assessed")), comp[(y, "tlkc_appraised")]
    if sa:
        out.append(doc.Paragraph(" ".join(w["self_assessment"].format(
            self=pts(sa["score"]), max=pts(sa["max"]), self_pct=fmt_num(sa["score"] / sa["max"] * 100, 2),
            appraised=pts(ap["score"]), lost=pts(sa["score"] - ap["score"], 3)).split())))
    out.append(doc.Paragraph(w["components_lead"]))
    rows = []
    for key, label in w["components_labels"].items():
        r = comp.get((y, key))
        if r:
            rows.append([label, pts(r["score"]), pts(r["max"]), fmt_num(r["score"] / r["max"] * 100, 2)])
    out.append(doc.Table(columns=w["components_columns"], rows=rows, align=["left", "right", "right", "right"],
                         widths=[4.2, 1.1, 1.1, 1.1], caption=w["components_caption"].format(year=x.year)))

    # 2. fields
    fc = x["par_field_change"].sort("field")
    crit = x["par_criteria"]
    out.append(doc.Heading(w["h_fields"], 2))
    out.append(doc.Paragraph(w["fields_lead"].format(n=fmt_units(fc.height), year=x.year, prev=x.prev)))
    bullets = []
    for direction, key in (("up", "fields_up"), ("down", "fields_down"), ("same", "fields_same")):
        sub = fc.filter(pl.col("direction") == direction)
        if sub.height:
            bullets.append(w[key].format(n=fmt_units(sub.height), items="; ".join(
                w["field_change_item"].format(name=r["chart_label"],
                                              change_phrase=change_phrase(r["change"], "par"),
                                              score=pts2(r["score_cur"]), max=pts(r["max_full"]))
                for r in sub.iter_rows(named=True))))
    thr = float(w["high_threshold"])
    high = fc.filter(pl.col("pct_cur") >= thr - annual.EPS)
    if high.height:
        bullets.append(w["fields_high"].format(threshold=fmt_num(thr, 0), items="; ".join(
            w["field_high_item"].format(name=r["chart_label"], pct=fmt_num(r["pct_cur"], 2)) for r in high.iter_rows(named=True))))
    out.append(doc.Bullets(bullets))
    out.append(fields_table(x, fc))
    svg = charts.grouped_hbars(
        [f"{r['field']}. {r['chart_label']}" for r in fc.iter_rows(named=True)], fc["score_cur"].to_list(),
        fc["score_prev"].to_list(), f"Năm {x.year}", f"Năm {x.prev}", w["fig_fields_title"], "Điểm", decimals=2,
        maxima=fc["max_full"].to_list(), max_label=w["fig_max_label"], label_width=38)
    out.append(doc.Figure(svg, caption=w["fig_fields_caption"].format(prev=x.prev, year=x.year, province=x.province)))

    # 3. history
    out.append(doc.Heading(w["h_history"], 2))
    years, totals = hist["year"].to_list(), hist["total"].to_list()
    diffs = hist.with_columns(pl.col("total").diff().alias("d"))
    down = diffs.filter(pl.col("d") < 0)["year"].to_list()
    change = totals[-1] - totals[0]
    if down:
        out.append(doc.Paragraph(" ".join(w["history"].format(
            first=years[0], year=years[-1], trend_phrase="tăng" if change > 0 else "giảm", first_score=pts2(totals[0]),
            score=pts2(totals[-1]), change=signed(change), down_years=", ".join(str(v) for v in down)).split())))
    else:
        out.append(doc.Paragraph(w["history_no_down"].format(first=years[0], year=years[-1], first_score=pts2(totals[0]),
                                                               score=pts2(totals[-1]))))
    ranks = {r["year"]: w["rank_note"].format(rank=r["rank"], out_of=r["out_of"])
             for r in hist.filter(pl.col("rank").is_not_null()).iter_rows(named=True)}
    out.append(doc.Figure(charts.history_line(years, totals, w["fig_history_title"].format(province=x.province),
                                              w["fig_history_ylabel"], notes=ranks),
                          caption=w["fig_history_caption"].format(province=x.province, first=years[0], year=years[-1])))
    integer_years = hist.filter(pl.col("total__dec") == 0)["year"].to_list() if "total__dec" in hist.columns else []
    if integer_years:
        out.append(doc.Paragraph("*" + w["history_note"].format(notes=w["history_note_integer"].format(
            years=", ".join(str(v) for v in integer_years))) + ".*"))

    # 4. weaknesses
    out += weakness_blocks(x, fc, crit, tot, tot_prev, show_names)
    return out


def fields_table(x: _Inputs, fc: pl.DataFrame) -> doc.Table:
    w = W()["par"]
    rows, derived, text = [], [], []
    for r in fc.iter_rows(named=True):
        cur = pts2(r["score_cur"]) + (" (v)" if r["source_cur"] == "text" else "")
        prv = pts2(r["score_prev"]) + (DERIVED if r["source_prev"] == "derived" else "")
        if r["source_prev"] == "derived":
            derived.append(str(r["field"]))
        if r["source_cur"] == "text":
            text.append(str(r["field"]))
        rows.append([f"{r['field']}. {r['chart_label']}", pts(r["max_full"]), cur, prv, signed(r["change"]),
                     fmt_num(r["pct_cur"], 2), f"{pts(r['score_tlkc_cur'])}/{pts(r['max_tlkc'])}"])
    rows.append([w["fields_sum_label"].format(n=fmt_units(fc.height)), pts(fc["max_full"].sum()), pts2(fc["score_cur"].sum()),
                 pts2(fc["score_prev"].sum()), signed(fc["change"].sum()),
                 fmt_num(fc["score_cur"].sum() / fc["max_full"].sum() * 100, 2),
                 f"{pts(fc['score_tlkc_cur'].sum())}/{pts(fc['max_tlkc'].sum())}"])
    ps = x["par_summary"]
    tot = {r["year"]: r["score"] for r in ps.filter(pl.col("component") == "total").iter_rows(named=True)}
    notes = [" ".join(w["fields_note_basis"].format(max_total=pts(fc["max_full"].sum())).split()),
             " ".join(w["fields_note_sum"].format(n=fmt_units(fc.height), year=x.year, prev=x.prev,
                                                  sum_cur=pts2(fc["score_cur"].sum()), sum_prev=pts2(fc["score_prev"].sum()),
                                                  total=pts2(tot.get(int(x.year))), total_prev=pts2(tot.get(int(x.prev))))
                      .split())]
    if derived:
        notes.append(" ".join(w["fields_note_derived"].format(prev=x.prev, items="lĩnh vực " + ", ".join(derived)).split()))
    if text:
        notes.append(" ".join(w["fields_note_text"].format(year=x.year, items="lĩnh vực " + ", ".join(text)).split()))
    cols = [c.format(year=x.year, prev=x.prev) for c in w["fields_columns"]]
    return doc.Table(columns=cols, rows=rows, align=["left"] + ["right"] * 6, widths=[3.2, 0.8, 0.9, 0.9, 0.9, 0.9, 1.1],
                     caption=w["fields_caption"].format(year=x.year, prev=x.prev), notes=notes)


def weakness_blocks(x: _Inputs, fc: pl.DataFrame, crit: pl.DataFrame, tot: dict, tot_prev: dict,
                    show_names: bool) -> list[doc.Block]:
    w = W()["par"]
    out: list[doc.Block] = [doc.Heading(w["h_weak"], 2)]
    items: list[doc.BulletItem] = []
    gained = tot_prev["rank"] - tot["rank"]
    if gained < 0:
        items.append(doc.BulletItem(" ".join(w["weak_rank"].format(
            change_phrase=change_phrase(tot["score"] - tot_prev["score"], "par"), rank_phrase=places_phrase(gained, "par"),
            rank_prev=tot_prev["rank"], rank=tot["rank"], out_of=tot["out_of"], prev=x.prev, year=x.year).split())))
    down = fc.filter(pl.col("direction") == "down")
    if down.height:
        items.append(doc.BulletItem(w["weak_fields"].format(n=fmt_units(down.height), prev=x.prev), [
            w["weak_field_item"].format(name=r["chart_label"], x=fmt_num(-r["change"], 2), score=pts2(r["score_cur"]),
                                        max=pts(r["max_full"]), pct=fmt_num(r["pct_cur"], 2))
            for r in down.iter_rows(named=True)]))
    tlkc_change = _tlkc_changes(x)
    for r in fc.filter(pl.col("pct_tlkc_cur") < float(w["weak_tlkc_threshold"])).iter_rows(named=True):
        ch = tlkc_change.get(r["field"])
        change_part = w["weak_tlkc_change"].format(x=pts(-ch, 3), prev=x.prev) if ch is not None and ch < 0 else ""
        items.append(doc.BulletItem(w["weak_tlkc_item"].format(
            name=lower_first(r["chart_label"]), score=pts(r["score_tlkc_cur"]), max=pts(r["max_tlkc"]),
            pct=fmt_num(r["pct_tlkc_cur"], 2), change_part=change_part)))
    total = x["par_criteria_total"].row(0, named=True)
    stated = int(total["n_criteria_stated"])
    k = stated - crit.height
    missing_phrase = w["weak_missing_one"] if k == 1 else w["weak_missing_many"].format(k=fmt_units(k))
    sub = []
    none = crit.filter(pl.col("no_numbers"))["code"].to_list()
    if none:
        sub.append(w["weak_no_numbers"].format(codes=", ".join(none)))
    partial = crit.filter(~pl.col("no_numbers") & pl.any_horizontal(
        pl.col("max_points", "self_assessed", "appraised").is_null()))
    if partial.height:
        sub.append(w["weak_partial"].format(items="; ".join(
            f"{r['code']} ({', '.join(_missing_cols(r))})" for r in partial.iter_rows(named=True))))
    complete = crit.filter(pl.col("shortfall").is_not_null())
    ded = crit.filter(pl.col("deduction").is_not_null())
    sub.append(" ".join(w["weak_shortfall"].format(n=fmt_units(complete.height), shortfall=pts(complete["shortfall"].sum(), 4),
                                                   deduction=pts(ded["deduction"].sum(), 4), n_ded=fmt_units(ded.height)).split()))
    text = " ".join(w["weak_criteria"].format(stated=fmt_units(stated), n=fmt_units(crit.height),
                                              codes=", ".join(crit["code"].to_list()),
                                              missing_phrase=missing_phrase).split()) if k > 0 else \
        " ".join(w["weak_criteria_all"].format(n=fmt_units(crit.height)).split())
    items.append(doc.BulletItem(text, sub))
    out.append(doc.Bullets(items))
    deps = x["par_departments"]
    out.append(doc.Paragraph(w["departments_lead"]))
    out.append(departments_table(x, deps))
    out.append(criteria_table(x, crit, total, show_names))
    return out


def _missing_cols(r: dict) -> list[str]:
    names = {"max_points": "điểm chuẩn", "self_assessed": "tự đánh giá", "appraised": "thẩm định"}
    return [v for k, v in names.items() if r[k] is None]


def _tlkc_changes(x: _Inputs) -> dict[int, float]:
    """Printed change of the TLKC part of a field (only where the text gives one)."""
    raw = annual.load_tables(x.year, x.lay.root).par_fields
    return {r["field"]: r["change_tlkc_printed"] for r in raw.iter_rows(named=True) if r["change_tlkc_printed"] is not None}


def _department(name: str | None) -> str:
    return name if name else W()["par"]["department_unknown"]


def _of_department(crit: pl.DataFrame, responsible: str | None) -> pl.DataFrame:
    """The criteria of one responsible department (``None``: department not printed)."""
    return crit.filter(pl.col("responsible").is_null() if responsible is None else pl.col("responsible") == responsible)


def _cell(r: dict, col: str) -> str:
    return pts(r[col]) + (DERIVED if r.get(f"{col}_derived") and r[col] is not None else "")


def criteria_table(x: _Inputs, crit: pl.DataFrame, total: dict, show_names: bool) -> doc.Table:
    w = W()["par"]
    deps = x["par_departments"]
    rows: list = []
    redacted = []
    for d in deps.iter_rows(named=True):
        sub = _of_department(crit, d["responsible"]).sort("order")
        rows.append(doc.SectionRow(w["criteria_group_row"].format(department=_department(d["responsible"]),
                                                                 n=fmt_units(sub.height))))
        for r in sub.iter_rows(named=True):
            reason = r["reason"] or MISSING
            if r["contains_personal_names"] and not show_names:
                reason = privacy.redact_listed_names(reason, w["names_redacted"])
                redacted.append(r["code"])
            rows.append([r["code"], r["name"], _cell(r, "max_points"), _cell(r, "self_assessed"), _cell(r, "appraised"),
                         _cell(r, "deduction"), pts(r["shortfall"]), reason])
        if sub.height > 1:
            rows.append(["", w["criteria_subtotal"]] + [_sum(sub[c].to_list()) for c in
                        ("max_points", "self_assessed", "appraised", "deduction", "shortfall")] + [""])
    rows.append(["", w["criteria_total_read"].format(n=fmt_units(crit.height))] + [_sum(crit[c].to_list()) for c in
                ("max_points", "self_assessed", "appraised", "deduction", "shortfall")] + [""])
    line_diff = total["self_assessed"] - total["appraised"]
    rows.append(["", w["criteria_total_printed"].format(stated=fmt_units(int(total["n_criteria_stated"])))]
                + [pts(total[c]) for c in ("max_points", "self_assessed", "appraised", "deduction")] + [MISSING]
                + [f"Bản gốc in: “{total['printed_line']}”; {pts(total['self_assessed'])} − {pts(total['appraised'])} = "
                   f"{pts(line_diff)}" + (" ≠ " + pts(total["deduction"]) if abs(line_diff - total["deduction"]) > annual.PAR_LINE_TOL
                                           else "") + " (xem Phụ lục)."])
    notes = list(w["criteria_notes"])
    unc = crit.filter(pl.col("uncertain_reading"))["code"].to_list()
    if unc:
        notes.append(w["criteria_note_uncertain"].format(codes=", ".join(unc)))
    if redacted:
        notes.append(" ".join(w["criteria_note_names"].format(codes=", ".join(redacted)).split()))
    return doc.Table(columns=w["criteria_columns"], rows=rows,
                     align=["left", "left", "right", "right", "right", "right", "right", "left"],
                     widths=[0.55, 2.3, 0.62, 0.66, 0.66, 0.7, 0.72, 4.6], caption=w["criteria_caption"].format(year=x.year),
                     notes=notes, landscape=True, searchable=True)


def departments_table(x: _Inputs, deps: pl.DataFrame) -> doc.Table:
    w = W()["par"]
    rows = []
    for d in deps.iter_rows(named=True):
        sub = _of_department(x["par_criteria"], d["responsible"])
        rows.append([_department(d["responsible"]), fmt_count(d["n_criteria"]), ", ".join(d["codes"])]
                    + [_sum(sub[c].to_list()) for c in ("max_points", "self_assessed", "appraised", "deduction", "shortfall")])
    return doc.Table(columns=w["departments_columns"], rows=rows,
                     align=["left", "right", "left", "right", "right", "right", "right", "right"],
                     widths=[2.2, 0.6, 1.3, 0.75, 0.85, 0.85, 0.8, 0.85], caption=w["departments_caption"], sortable=True)


# ----------------------------------------------------------------------------------
# III. Solutions, IV. recommendations
# ----------------------------------------------------------------------------------
def solution_blocks(x: _Inputs) -> list[doc.Block]:
    w = W()["solutions"]
    nxt = int(x.year) + 1
    out: list[doc.Block] = [doc.Heading(w["heading"].format(next=nxt), 1),
                            doc.Paragraph(" ".join(w["lead"].format(next=nxt, year=x.year).split())),
                            doc.Heading(w["h_fields"], 2)]
    fc = x["par_field_change"].sort("field")
    crit = x["par_criteria"]
    down = fc.filter(pl.col("direction") == "down")
    if down.height:
        items = []
        for r in down.iter_rows(named=True):
            deps = crit.filter((pl.col("field") == r["field"]) & pl.col("responsible").is_not_null())["responsible"] \
                .unique(maintain_order=True).to_list()
            items.append(w["field_item"].format(
                name=r["chart_label"], change_phrase=change_phrase(r["change"], "par"),
                prev=x.prev, score=pts2(r["score_cur"]), max=pts(r["max_full"]),
                departments_part=w["field_departments"].format(departments=", ".join(deps)) if deps else "",
                advice=w["field_advice"][int(r["field"])]))
        out.append(doc.Bullets(items))
    else:
        out.append(doc.Paragraph(w["no_field_down"].format(prev=x.prev)))

    out.append(doc.Heading(w["h_sipas"], 2))
    items_ = x["sipas_items"]
    groups = items_.filter(pl.col("level") == "group").sort("pct_cur")
    n = int(w["sipas_lowest_n"])
    bullets = []
    for k, r in enumerate(groups.head(n).iter_rows(named=True), start=1):
        position = w["sipas_position_lowest"] if k == 1 else w["sipas_position_low"].format(k=k)
        bullets.append(w["sipas_group_item"].format(
            code=r["code"], name=r["name"], pct=pct(r["pct_cur"]), position=position, n_groups=fmt_units(groups.height),
            change_phrase=change_phrase(r["change"], "sipas"), prev=x.prev,
            advice=w["sipas_group_advice"].get(r["code"], "")))
    wishes = x["sipas_wishes"].sort("pct", descending=True).head(int(w["sipas_wishes_n"]))
    for r in wishes.iter_rows(named=True):
        bullets.append(w["sipas_wish_item"].format(wish=r["wish"], pct=fmt_num(r["pct"], 2, strip=True),
                                                   advice=w["sipas_wish_advice"].format(next=nxt)))
    out.append(doc.Bullets(bullets))
    return out


def recommendation_blocks(x: _Inputs, show_names: bool) -> list[doc.Block]:
    w = W()["recommendations"]
    nxt = int(x.year) + 1
    out: list[doc.Block] = [doc.Heading(w["heading"], 1), doc.Heading(w["h_departments"], 2)]
    crit = x["par_criteria"]
    limit = int(w["reason_max_chars"])
    advice = w["criterion_advice"]
    items = []
    for d in x["par_departments"].iter_rows(named=True):
        sub = _of_department(crit, d["responsible"]).sort("order")
        lines = []
        for r in sub.iter_rows(named=True):
            score = (w["score_part"].format(appraised=pts(r["appraised"]), max=pts(r["max_points"]),
                                            shortfall=pts(r["shortfall"])) if r["shortfall"] is not None
                     else w["score_part_unknown"])
            reason = r["reason"] or MISSING
            if r["contains_personal_names"] and not show_names:
                reason = privacy.redact_listed_names(reason, W()["par"]["names_redacted"])
            short = shorten(reason, limit)
            short = short if short.endswith("…") else short.rstrip(".") + "."
            lines.append(w["criterion_item"].format(code=r["code"], name=r["name"], score_part=score, reason=short,
                                                    advice=advice.get(r["code"], advice["default"]).format(next=nxt)))
        unknown = sub.filter(pl.col("shortfall").is_null()).height
        unknown_part = W()["par"]["department_unknown_part"].format(k=fmt_units(unknown)) if unknown else ""
        if d["responsible"] is None:
            lead = w["department_unknown_lead"].format(n=fmt_units(sub.height), codes=", ".join(d["codes"]))
        else:
            shortfall = pts(d["shortfall"]) if not unknown else W()["par"]["at_least"].format(x=pts(d["shortfall"]))
            lead = w["department_lead"].format(department=d["responsible"], n=fmt_units(sub.height),
                                               codes=", ".join(d["codes"]), shortfall=shortfall,
                                               unknown_part=unknown_part)
        items.append(doc.BulletItem(" ".join(lead.split()), lines))
    out.append(doc.Bullets(items))
    out.append(doc.Heading(w["h_general"], 2))
    out.append(doc.Bullets(list(w["general"])))
    return out


# ----------------------------------------------------------------------------------
# Appendix: the seed audit, and lineage
# ----------------------------------------------------------------------------------
def audit_blocks(x: _Inputs) -> list[doc.Block]:
    w = W()["appendix"]
    a = x["seed_audit"]
    counts = {v: a.filter(pl.col("verdict") == v).height for v in annual.VERDICTS}
    inner: list[doc.Block] = [doc.Paragraph(" ".join(w["summary"].format(
        n=a.height, **{k: fmt_units(v) for k, v in counts.items()}).split()))]
    agg = x["sipas_aggregation"]

    def fit(hyp: str, levels: list[str]) -> tuple[int, int]:
        s = agg.filter((pl.col("hypothesis") == hyp) & pl.col("level").is_in(levels))
        return int(s["n_match"].sum()), int(s["n"].sum())

    cm, cn = fit("mean_of_criteria", ["group", "area", "overall"])
    gm, gn = fit("mean_of_groups", ["area", "overall"])
    am, an = fit("mean_of_areas", ["overall"])
    inner.append(doc.Paragraph(" ".join(w["aggregation"].format(crit_match=cm, crit_n=cn, group_match=gm, group_n=gn,
                                                                area_match=am, area_n=an).split())))
    shown = a.filter(pl.col("verdict").is_in(["mismatch", "missing", "derived"]))
    order = {c: i for i, c in enumerate(w["checks"])}
    shown = shown.with_columns(pl.col("check").replace_strict(order, default=len(order)).alias("_o")).sort("_o", maintain_order=True)
    rows = [[w["checks"].get(r["check"], r["check"]), r["item"], pts(r["printed"]), pts(r["recomputed"]),
             signed_strip(r["difference"]), w["verdicts"][r["verdict"]], r["note"] or ""]
            for r in shown.iter_rows(named=True)]
    inner.append(doc.Table(columns=w["table_columns"], rows=rows, caption=w["table_caption"],
                           align=["left", "left", "right", "right", "right", "left", "left"],
                           widths=[1.9, 2.3, 0.85, 0.9, 0.85, 0.95, 4.6],
                           notes=[w["table_note"].format(n=a.height, year=x.year)], sortable=True, searchable=True))
    v = x.validation
    n_rules = sum(len(s["results"]) for s in v)
    crit_fail = [r for s in v for r in s["results"] if not r["success"] and r["severity"] == "critical"]
    warns = [(s["suite"], r) for s in v for r in s["results"] if not r["success"] and r["severity"] != "critical"]
    critical_phrase = w["validation_ok"] if not crit_fail else w["validation_failed"].format(n=fmt_units(len(crit_fail)))
    inner.append(doc.Paragraph(" ".join(w["validation"].format(n_suites=fmt_units(len(v)), n_rules=n_rules,
                                                               critical_phrase=critical_phrase,
                                                               n_warn=fmt_units(len(warns))).split())))
    if warns:
        inner.append(doc.Bullets([w["validation_item"].format(
            rule=r["rule_vi"], suite=s, units=", ".join(_unit_label(u) for u in r["units"]) or "toàn bảng")
            for s, r in warns]))
    inner.extend(repair_blocks(sniff.repairs_frame(r for s in v for r in s.get("repairs", []))))
    number = x.meta["document"]["report_number"]
    return [doc.Section([doc.Heading(w["heading"], 1),
                         doc.Callout(w["callout_title"].format(number=number), inner, kind="audit")], landscape=True)]


def _unit_label(u: str) -> str:
    """"criterion:34" → "tiêu chí 34"; other row ids are shown as they are."""
    level, sep, code = u.partition(":")
    labels = W()["sipas"]["level_labels"]
    if sep and level in labels:
        return f"{labels[level].lower()} {code}".strip() if level != "overall" else labels[level].lower()
    return u


def lineage_block(x: _Inputs, params_path: Path, show_names: bool) -> doc.Lineage:
    w = W()["lineage"]
    d = x.meta["document"]
    root = x.lay.root
    files = x.lay.raw_files()
    inputs = [files[k] for k in ("sipas", "sipas_summary", "sipas_wishes", "par_summary", "par_fields", "par_history",
                                 "par_criteria", "par_criteria_total", "metadata")]
    suites = [annual.validation.EXPECTATIONS_DIR / f"{s}.json" for s in annual.SUITES]
    items = [(w["seed"], w["seed_value"].format(number=d["report_number"], date=date_vi(d["date"]),
                                                issuer=d["issuing_body"], file=x.meta.get("source_file", "")))]
    items += file_entries(inputs, root)
    items.append((w["suites"], "; ".join(f"{p.name} (SHA-256 {sha256(p)[:12]}…)" for p in suites)))
    items.append((w["wording"], f"{annual.WORDING_FILE.name} (SHA-256 {sha256(annual.WORDING_FILE)[:12]}…)"))
    items.append((w["params"], f"{params_path.name}: report.show_personal_names = {str(show_names).lower()}"))
    items.append((w["outputs"], f"data/processed/annual-{x.year}/ ({', '.join(annual.OUTPUTS)})"))
    items.append((w["code"], code_version(root)))
    items.append((w["time"], generation_time()))
    return doc.Lineage(items=items)


# ----------------------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------------------
def build_annual_report(year: str = "2024", params_file: str | Path = "params.yaml", root: str | Path = ".") -> list[doc.Block]:
    """All blocks of the annual analysis (DocumentMeta first)."""
    root = Path(root)
    params_path = root / params_file
    params = load_params(params_path)
    show_names = privacy.show_personal_names(params)
    x = _Inputs(str(year), root)
    d = x.meta["document"]
    blocks = front_blocks(x)
    blocks += sipas_blocks(x)
    blocks += par_blocks(x, show_names)
    blocks += solution_blocks(x)
    blocks += recommendation_blocks(x, show_names)
    blocks.append(doc.Paragraph(" ".join(W()["recommendations"]["closing_sentence"].format(
        province=x.province, year=x.year).split())))
    recipients = list(d.get("recipients") or [])
    recipients = [r + ("." if i == len(recipients) - 1 else ";") for i, r in enumerate(recipients)]
    blocks.append(doc.Closing(recipients=recipients, signer_title=[d.get("signer_title", "")], signer_name=None))
    blocks += audit_blocks(x)
    blocks.append(lineage_block(x, params_path, show_names))
    return blocks


def report_text(blocks: list[doc.Block]) -> str:
    """All visible text of the blocks (for tests and quick checks)."""
    out: list[str] = []

    def walk(b: Any) -> None:
        if isinstance(b, dict):
            for k, v in b.items():
                if k != "svg":
                    walk(v)
        elif isinstance(b, list):
            for v in b:
                walk(v)
        elif isinstance(b, str):
            out.append(b)

    for b in blocks:
        walk(b.to_dict())
    return "\n".join(out)
