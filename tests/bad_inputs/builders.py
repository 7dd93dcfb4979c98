"""How to build the bad files of the catalogue (``catalogue.py``): small good inputs of
every kind, and the mutations that break them the way exports from government
systems are broken."""

from __future__ import annotations

import copy
import io
import json
import shutil
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path

from chiso import sniff

from ..helpers import RAW as PUBLISHED
from ..helpers import ROOT

RAW_DIR = ROOT / "data" / "raw"
PERIOD = "2024-06"

# -- the counts template ------------------------------------------------------
HEADER_VI = "Kỳ,Mã đơn vị,Tên đơn vị,Nhóm đơn vị,Chỉ tiêu,Tử số,Mẫu số,Số liệu tạm,Điểm nguồn,Điểm tối đa nguồn,Ghi chú"
ROWS = [
    '2024-06,H18.01,Sở Nội vụ,"Sở, ban, ngành cấp tỉnh",on_time,45,50,không,,,',
    '2024-06,H18.01,Sở Nội vụ,"Sở, ban, ngành cấp tỉnh",online_submission,29,81,không,,,',
    '2024-06,H18.D01.C01,UBND phường Him Lam,"UBND các xã, phường, thị trấn",on_time,120,130,không,,,',
    '2024-06,H18.D01.C01,UBND phường Him Lam,"UBND các xã, phường, thị trấn",group_ckmb,,,không,"11,79",18,',
]
TEMPLATE = HEADER_VI + "\n" + "\n".join(ROWS) + "\n"
UNIT_NAMES = {"Sở Nội vụ", "UBND phường Him Lam"}


def template(edit: Callable[[str], str] | None = None) -> str:
    return edit(TEMPLATE) if edit else TEMPLATE


def replace_row(i: int, old: str, new: str) -> Callable[[str], str]:
    """Edit data row ``i`` (1 = first data row, file row i + 1)."""
    def edit(text: str) -> str:
        lines = text.split("\n")
        assert old in lines[i], (old, lines[i])
        lines[i] = lines[i].replace(old, new, 1)
        return "\n".join(lines)
    return edit


def redelimit(text: str, delimiter: str = ";") -> str:
    """The same CSV written with another delimiter (decimal commas then need no quotes)."""
    import csv

    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(csv.reader(io.StringIO(text)))
    return out.getvalue()


def encode_cp1258(text: str) -> bytes:
    """Windows-1258 (Excel "CSV" on Vietnamese Windows): base letters + combining tones."""
    tones = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            nfd = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in nfd if c not in tones))
            out += base.encode("cp1258") + "".join(c for c in nfd if c in tones).encode("cp1258")
    return bytes(out)


def write(name: str, content: str | bytes, encoding: str = "utf-8") -> Callable[[Path], Path]:
    """A builder: write ``content`` (text in ``encoding``, or bytes) to ``tmp/name``."""
    def build(tmp: Path) -> Path:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            data = content
        elif encoding == "cp1258":
            data = encode_cp1258(content)
        elif encoding in ("tcvn3", "vni"):
            data = sniff.encode_legacy(content, encoding)
        elif encoding == "utf-8-sig":
            data = b"\xef\xbb\xbf" + content.encode("utf-8")
        else:
            data = content.encode(encoding)
        path.write_bytes(data)
        return path
    return build


# -- XLSX -----------------------------------------------------------------------
def xlsx_bytes(rows: list[list], formats: dict[tuple[int, int], str] | None = None,
               merged: list[str] | None = None) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    for (r, c), fmt in (formats or {}).items():
        ws.cell(row=r, column=c).number_format = fmt
    for rng in merged or []:
        ws.merge_cells(rng)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def template_rows() -> list[list]:
    """The template as spreadsheet cells (numbers as numbers)."""
    import csv

    out = []
    for rec in csv.reader(io.StringIO(TEMPLATE)):
        out.append([int(v) if v.isdigit() else (v or None) for v in rec])
    return out


def with_cached_formula_values(data: bytes, values: dict[str, str]) -> bytes:
    """Add the value Excel would have stored (<v>) to formula cells (openpyxl writes none)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = body.decode("utf-8")
                for ref, value in values.items():
                    start = text.index(f'<c r="{ref}"')
                    end = text.index("</c>", start)
                    cell = text[start:end].replace("<v />", "").replace("<v/>", "").replace("<v></v>", "")
                    text = text[:start] + cell + f"<v>{value}</v>" + text[end:]
                body = text.encode("utf-8")
            dst.writestr(item, body)
    return out.getvalue()


# -- published tables -------------------------------------------------------------
def published(table_id: str = "dienbiendong_2024-06", edit: Callable[[str], str] | None = None,
              meta_edit: Callable[[str], str] | None = None, encoding: str = "utf-8",
              raw_bytes: bytes | None = None, meta: bool = True) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        csv = tmp / f"{table_id}.csv"
        text = (PUBLISHED / f"{table_id}.csv").read_text(encoding="utf-8")
        if edit:
            text = edit(text)
        write(csv.name, raw_bytes if raw_bytes is not None else text, encoding)(tmp)
        if meta:
            m = (PUBLISHED / f"{table_id}.meta.yaml").read_text(encoding="utf-8")
            (tmp / f"{table_id}.meta.yaml").write_text(meta_edit(m) if meta_edit else m, encoding="utf-8")
        return csv
    return build


# -- the national portal's JSON ---------------------------------------------------
def portal_doc() -> dict:
    """Three units of a monthly capture, in the crawler's structure."""
    def unit(code: str, name: str, group: str, received: int, on_time: int) -> dict:
        return {
            "departmentId": code.lower(), "departmentName": name, "departmentCode": code, "childGroup": group,
            "totalScore": 80.0, "groupScores": {"CKMB": 16.84, "TDGQ": 19.5, "MDHL": 18.0},
            "componentIndicators": {
                "TDGQ_TienDoGiaiQuyet": {"totalReceived": received, "totalOnTime": on_time, "score": 19.5, "maxScore": 20},
                "CKMB_CongKhaiMinhBach": {"score": 16.84, "maxScore": 18, "metrics": [
                    {"code": "PUBLISH_ON_TIME", "numerator": 19, "denominator": 22, "score": 5.18, "maxScore": 6},
                    {"code": "PUBLIC_UPDATE_ON_TIME", "numerator": 79, "denominator": 83, "score": 3.81, "maxScore": 4},
                ]},
                "MDHL_MucDoHaiLong": {"score": 18.0, "maxScore": 18, "metrics": [
                    {"code": "PETITION_PROCESSING_ON_TIME", "numerator": 0, "denominator": 0, "score": 6, "maxScore": 6},
                ]},
            },
            "rank": 1, "groupRank": 1,
        }
    return {
        "metadata": {"province": "UBND tỉnh Điện Biên", "provinceCode": "H18", "timeType": "month", "year": 2024,
                     "period": 6, "periodLabel": "Tháng 6 năm 2024"},
        "unitsDetail": [unit("H18.02", "Sở Tư pháp", "AGENCY", 200, 190),
                        unit("H18.03", "Sở Kế hoạch và Đầu tư", "AGENCY", 150, 150),
                        unit("H18.D01.C02", "UBND phường Mường Thanh", "COMMUNE", 90, 80)],
    }


def portal(edit: Callable[[dict], object] | None = None, name: str = "portal.json", encoding: str = "utf-8",
           text_edit: Callable[[str], str] | None = None, ascii_escapes: bool = False) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        doc = copy.deepcopy(portal_doc())
        if edit:
            result = edit(doc)
            doc = result if isinstance(result, dict) else doc
        text = json.dumps(doc, ensure_ascii=ascii_escapes)
        if text_edit:
            text = text_edit(text)
        return write(name, text, encoding)(tmp)
    return build


def set_in(path: list, value) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        obj = doc
        for key in path[:-1]:
            obj = obj[key]
        obj[path[-1]] = value
    return edit


# -- a period folder (data/raw/<YYYY-MM>/) in a throw-away root --------------------
def period_root(files: dict[str, Callable[[Path], Path]], registry: bool = True) -> Callable[[Path], Path]:
    """``tmp/root`` with params.yaml, the unit registry and ``data/raw/2024-06/<files>``."""
    def build(tmp: Path) -> Path:
        root = tmp / "root"
        folder = root / "data" / "raw" / PERIOD
        folder.mkdir(parents=True)
        shutil.copy(ROOT / "params.yaml", root / "params.yaml")
        if registry:
            (root / "data" / "raw" / "units").mkdir(parents=True)
            shutil.copy(RAW_DIR / "units" / "registry.csv", root / "data" / "raw" / "units" / "registry.csv")
        for builder in files.values():
            builder(folder)
        return root
    return build


# -- dossier exports (chiso.dossiers, read-only for this catalogue) -----------------
DOSSIER_HEADER = "Mã hồ sơ,Mã đơn vị,Tên đơn vị,Ngày tiếp nhận,Ngày hẹn trả,Ngày hoàn thành,Hình thức nộp"
DOSSIER_ROWS = ["HS1,H18.01,Sở Nội vụ,03/06/2024,10/06/2024,07/06/2024,Trực tuyến",
                "HS2,H18.02,Sở Tư pháp,04/06/2024,11/06/2024,,Trực tiếp"]
DOSSIERS = DOSSIER_HEADER + "\n" + "\n".join(DOSSIER_ROWS) + "\n"


# -- annual tables (chiso.annual, read-only for this catalogue) ----------------------
def annual_root(file: str = "sipas_2024.csv", edit: Callable[[str], str] | None = None,
                raw_bytes: bytes | None = None) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        root = tmp / "root"
        shutil.copytree(RAW_DIR / "annual", root / "data" / "raw" / "annual")
        target = root / "data" / "raw" / "annual" / file
        if raw_bytes is not None:
            target.write_bytes(raw_bytes)
        elif edit:
            target.write_text(edit(target.read_text(encoding="utf-8")), encoding="utf-8")
        return root
    return build
