"""Excel exports people print and share."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _
from django.utils.translation import override
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter


def meter_register_xlsx(meters, language: str = "en") -> bytes:
    """The meter register: one row per meter with where it is installed now."""
    with override(language):
        book = Workbook(write_only=True)
        sheet = book.create_sheet(_("Meters"))
        headings = [_("Meter number"), _("Site"), _("Kind"), _("Protocol"), _("Address"), _("Collector"),
                    _("Port"), _("Phase"), _("CT ratio"), _("PT ratio"), _("Multiplier"), _("Payment"),
                    _("Relay / valve"), _("Premise"), _("Installed since")]
        widths = [16, 16, 10, 14, 14, 14, 6, 10, 8, 8, 10, 10, 10, 14, 20]
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = width
        sheet.freeze_panes = "A2"
        sheet.append([_bold(sheet, h) for h in headings])
        for m in meters:
            current = next((i for i in m.installations.all() if i.valid_to is None), None)
            sheet.append([
                m.serial, m.site.code, m.get_kind_display(), m.get_protocol_display(), m.address,
                m.collector.code if m.collector else "", m.bus_port, m.get_phase_display(),
                float(m.ct_ratio), float(m.pt_ratio), float(m.multiplier), m.get_payment_mode_display(),
                m.get_switch_display(), str(current.premise) if current else "",
                _local(current.valid_from, m.site.time_zone) if current else None,
            ])
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()


def _local(moment, tz_name: str):
    """Excel has no time zones: show the site's wall-clock time."""
    return moment.astimezone(ZoneInfo(tz_name)).replace(tzinfo=None)


def _bold(sheet, text):
    cell = WriteOnlyCell(sheet, value=text)
    cell.font = Font(bold=True)
    return cell


def import_template_xlsx(columns, example: dict) -> bytes:
    """An empty import sheet: the column names in bold and one example row to overwrite."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("import")
    for i, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = max(12, len(column) + 2)
    sheet.append([_bold(sheet, c) for c in columns])
    sheet.append([example.get(c, "") for c in columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def report_xlsx(report, language: str = "en") -> bytes:
    """Any report (aggregates/reports.py): the headings in bold, one row per report row,
    numbers as numbers and days as dates so the sheet can be summed and filtered."""
    from meterhub.aggregates.reports import DATE, MONTH, SHARE, plain

    with override(language):
        book = Workbook(write_only=True)
        sheet = book.create_sheet(str(report.title)[:31].replace("/", "-").replace(":", ""))
        for i, column in enumerate(report.columns, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = max(10, len(str(column.label)) + 2)
        sheet.freeze_panes = "A2"
        sheet.append([_bold(sheet, str(c.label)) for c in report.columns])
        formats = {DATE: "yyyy-mm-dd", MONTH: "yyyy-mm", SHARE: "0.0%"}
        for row in report.rows:
            cells = []
            for column, value in zip(report.columns, row, strict=True):
                cell = WriteOnlyCell(sheet, value=plain(value))
                if column.kind in formats and value is not None:
                    cell.number_format = formats[column.kind]
                cells.append(cell)
            sheet.append(cells)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
