"""Reading a spreadsheet (CSV or Excel) into rows of text with their line numbers.

Only reading: what the columns mean is the importer's business.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


class TableError(ValueError):
    """The file itself cannot be read (not a row problem)."""


@dataclass
class Table:
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (line number as the user sees it, column -> text)


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores 2400 as 2400.0
    if isinstance(value, (float, Decimal)):
        return str(value)
    return str(value).strip()


def _decode(data: bytes) -> str:
    # Excel on Chinese Windows saves CSV as GB18030; everything else is UTF-8 (maybe with BOM).
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableError("the file is neither UTF-8 nor GB18030 text")


def _from_rows(raw_rows: Iterator[list], aliases: dict[str, str]) -> Table:
    try:
        header_row = next(raw_rows)
    except StopIteration:
        raise TableError("the file is empty") from None
    header = [aliases.get(_cell_text(h).lower(), _cell_text(h).lower()) for h in header_row]
    rows = []
    for line, raw in enumerate(raw_rows, start=2):
        cells = [_cell_text(v) for v in raw]
        if not any(cells):
            continue  # blank lines are not rows
        rows.append((line, {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(header) if h}))
    return Table(header=[h for h in header if h], rows=rows)


def read_table(data: bytes, filename: str, aliases: dict[str, str] | None = None) -> Table:
    aliases = aliases or {}
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a damaged file
            raise TableError(f"not a readable Excel workbook: {exc}") from exc
        sheet = book.worksheets[0]
        return _from_rows(iter(sheet.iter_rows(values_only=True)), aliases)
    if name.endswith((".csv", ".txt")):
        text = _decode(data)
        dialect = csv.excel
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        except csv.Error:
            pass
        return _from_rows(iter(csv.reader(io.StringIO(text), dialect)), aliases)
    raise TableError("use a .csv or .xlsx file")
