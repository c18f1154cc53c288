"""Receipts, bills and statements as PDF (Chinese or English), and statements as Excel.

reportlab's built-in CID font STSong-Light draws Chinese (and Latin) text without
shipping a font file; the PDF names the font and every reader supplies it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, A6
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from meterhub.billing import reconciliation, tariffs
from meterhub.billing.ledger import balance_of, cents
from meterhub.billing.models import Account, Bill, LedgerEntry, Payment
from meterhub.billing.settlement import local_midnight

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
TITLE = ParagraphStyle("title", fontName=FONT, fontSize=15, leading=20, spaceAfter=6)
BODY = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13)
SMALL = ParagraphStyle("small", fontName=FONT, fontSize=8, leading=10, textColor=colors.grey)
GRID = TableStyle([("FONT", (0, 0), (-1, -1), FONT, 9), ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                   ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f6")),
                   ("ALIGN", (1, 1), (-1, -1), "RIGHT"), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")])
PAIRS = TableStyle([("FONT", (0, 0), (-1, -1), FONT, 9.5), ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                    ("LINEBELOW", (0, -1), (-1, -1), 0.4, colors.grey)])


def line_label(code: str) -> str:
    """What a bill line code means, in the active language."""
    head, _sep, tail = code.partition(":")
    if head == "energy":
        periods = {"sharp": _("sharp"), "peak": _("peak"), "flat": _("flat"), "valley": _("valley")}
        return _("Energy (%(period)s)") % {"period": periods.get(tail, tail)} if tail else _("Energy")
    if head == "tier":
        return _("Block %(n)s") % {"n": tail}
    if head == "standing":
        return _("Standing charge")
    if code == "prepaid:consumption":
        return _("Prepaid consumption (already deducted)")
    return code


def _money(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount:,.{tariffs.minor_unit(currency)}f}"


def _qty(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else f"{value:.3f}"


def _build(story: list, pagesize=A4) -> bytes:
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=pagesize, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                      bottomMargin=15 * mm, title="meterhub").build(story)
    return out.getvalue()


def _header(account: Account) -> list:
    customer, site = account.customer, account.site
    rows = [[_("Account"), account.number], [_("Customer"), f"{customer.account_no} {customer.name}"],
            [_("Premise"), str(account.premise or "")], [_("Meter"), account.meter.serial], [_("Site"), site.name]]
    table = Table(rows, colWidths=[35 * mm, 120 * mm], hAlign="LEFT")
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), FONT, 9.5)]))
    return [table, Spacer(1, 4 * mm)]


def _bill_story(bill: Bill) -> list:
    account, currency = bill.account, bill.account.site.currency
    story = [Paragraph(_("Bill %(period)s") % {"period": bill.period}, TITLE), *_header(account)]
    story.append(Paragraph(_("Period %(start)s to %(end)s, issued %(issued)s, due %(due)s") % {
        "start": bill.period_start, "end": bill.period_end, "issued": bill.issued_on, "due": bill.due_on}, BODY))
    story.append(Spacer(1, 3 * mm))
    if bill.reads:
        rows = [[_("Register"), _("Opening"), _("Closing")]]
        for quantity, (opening, closing) in sorted(bill.reads.items()):
            rows.append([quantity, opening[1] if opening else "-", closing[1] if closing else "-"])
        reads = Table(rows, colWidths=[60 * mm, 45 * mm, 45 * mm], hAlign="LEFT")
        reads.setStyle(GRID)
        story += [reads, Spacer(1, 3 * mm)]
    rows = [[_("Item"), _("Usage"), _("Price"), _("Amount")]]
    for line in bill.lines.all():
        label = line_label(line.code)
        if line.valid_from:
            label += " " + _("from %(day)s") % {"day": line.valid_from}
        rows.append([label, f"{_qty(line.quantity)} {line.unit}", f"{line.unit_price}",
                     _money(line.amount, currency)])
    lines = Table(rows, colWidths=[75 * mm, 35 * mm, 30 * mm, 40 * mm], hAlign="LEFT")
    lines.setStyle(GRID)
    story += [lines, Spacer(1, 3 * mm)]
    totals = Table([[_("Balance brought forward"), _money(bill.opening_balance, currency)],
                    [_("Charges this period"), _money(bill.charges, currency)],
                    [_("Balance"), _money(bill.closing_balance, currency)],
                    [_("Amount due"), _money(bill.amount_due, currency)]], colWidths=[60 * mm, 40 * mm],
                   hAlign="RIGHT")
    totals.setStyle(PAIRS)
    story.append(totals)
    if bill.estimated:
        story.append(Paragraph(_("Some reads on this bill are estimated."), SMALL))
    return story


def bill_pdf(bills: Iterable[Bill], language: str = "zh-hans") -> bytes:
    """One bill, or many (batch printing): one page each."""
    story: list = []
    with translation.override(language):
        for bill in bills:
            if story:
                story.append(PageBreak())
            story += _bill_story(bill)
        if not story:
            story.append(Paragraph(_("No bills."), BODY))
        return _build(story)


def balance_after(entry: LedgerEntry) -> Decimal:
    """The account's balance just after this entry (entries ordered by time, then id)."""
    earlier = entry.account.entries.filter(Q(at__lt=entry.at) | Q(at=entry.at, id__lte=entry.pk))
    return cents(earlier.aggregate(s=Sum("amount"))["s"])


def receipt_pdf(payment: Payment, language: str = "zh-hans", *, customer_name: str | None = None,
                terminal: str = "") -> bytes:
    """A receipt on A6. A self-service terminal prints the customer's name masked (`customer_name`)
    and names itself (`terminal`)."""
    account, currency = payment.account, payment.account.site.currency
    with translation.override(language):
        title = _("Refund receipt") if payment.kind == Payment.Kind.REFUND else _("Receipt")
        rows = [[_("Receipt"), payment.receipt_no], [_("Time"), f"{timezone.localtime(payment.received_at):%Y-%m-%d %H:%M}"],
                [_("Account"), account.number],
                [_("Customer"), account.customer.name if customer_name is None else customer_name],
                [_("Method"), payment.get_method_display() + (f" ({payment.provider})" if payment.provider else "")],
                [_("Amount"), _money(payment.amount, currency)],
                [_("Balance after"), _money(balance_after(payment.entry), currency)]]
        if payment.operator:
            rows.append([_("Operator"), payment.operator.username])
        if terminal:
            rows.append([_("Terminal"), terminal])
        table = Table(rows, colWidths=[25 * mm, 50 * mm], hAlign="LEFT")
        table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), FONT, 9)]))
        return _build([Paragraph(f"{account.site.name} {title}", TITLE), table], pagesize=A6)


@dataclass
class Statement:
    account: Account
    start: date
    end: date  # inclusive
    opening: Decimal
    entries: list[LedgerEntry]
    closing: Decimal


def statement(account: Account, start: date, end: date) -> Statement:
    tz = account.site.time_zone
    since, until = local_midnight(start, tz), local_midnight(end + timedelta(days=1), tz)
    entries = list(account.entries.filter(at__gte=since, at__lt=until).order_by("at", "id"))
    opening = balance_of(account, since)
    return Statement(account, start, end, opening, entries, opening + sum((e.amount for e in entries), Decimal(0)))


def _statement_rows(st: Statement) -> list[list]:
    rows, running = [], st.opening
    for e in st.entries:
        running += e.amount
        rows.append([f"{timezone.localtime(e.at):%Y-%m-%d %H:%M}", e.get_kind_display(), e.reference or e.memo,
                     e.amount, running])
    return rows


def statement_pdf(st: Statement, language: str = "zh-hans") -> bytes:
    currency = st.account.site.currency
    with translation.override(language):
        story = [Paragraph(_("Account statement %(start)s to %(end)s") % {"start": st.start, "end": st.end}, TITLE),
                 *_header(st.account)]
        rows = [[_("Time"), _("Item"), _("Reference"), _("Amount"), _("Balance")],
                ["", _("Balance brought forward"), "", "", _money(st.opening, currency)]]
        rows += [[t, kind, ref, _money(amount, currency), _money(balance, currency)]
                 for t, kind, ref, amount, balance in _statement_rows(st)]
        rows.append(["", _("Closing balance"), "", "", _money(st.closing, currency)])
        table = Table(rows, colWidths=[32 * mm, 38 * mm, 36 * mm, 32 * mm, 32 * mm], hAlign="LEFT", repeatRows=1)
        table.setStyle(GRID)
        story.append(table)
        return _build(story)


def statement_xlsx(st: Statement, language: str = "zh-hans") -> bytes:
    with translation.override(language):
        book = Workbook()
        sheet = book.active
        sheet.title = st.account.number[:31]
        sheet.append([_("Account"), st.account.number, st.account.customer.name])
        sheet.append([_("From"), st.start, _("To"), st.end])
        sheet.append([_("Time"), _("Item"), _("Reference"), _("Amount"), _("Balance")])
        sheet.append(["", _("Balance brought forward"), "", None, st.opening])
        for row in _statement_rows(st):
            sheet.append(row)
        sheet.append(["", _("Closing balance"), "", None, st.closing])
        for column, width in zip("ABCDE", (18, 22, 22, 14, 14), strict=True):
            sheet.column_dimensions[column].width = width
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()


def bills_xlsx(bills: Iterable[Bill], language: str = "zh-hans") -> bytes:
    """A period's bills, one row each, for finance to share."""
    with translation.override(language):
        book = Workbook()
        sheet = book.active
        sheet.append([_("Account"), _("Customer"), _("Meter"), _("Period"), _("Consumption"),
                      _("Balance brought forward"), _("Charges this period"), _("Balance"), _("Amount due"),
                      _("Due"), _("Estimated")])
        for b in bills:
            sheet.append([b.account.number, b.account.customer.name, b.account.meter.serial, b.period, b.volume,
                          b.opening_balance, b.charges, b.closing_balance, b.amount_due, b.due_on,
                          _("yes") if b.estimated else ""])
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()


def reconciliation_xlsx(report: reconciliation.Report, language: str = "zh-hans") -> bytes:
    with translation.override(language):
        book = Workbook()
        sheet = book.active
        sheet.title = str(report.day)
        sheet.append([_("Method"), _("Provider"), _("Operator"), _("Payments"), _("Received"), _("Refunds"),
                      _("Refunded"), _("Net")])
        for r in report.rows:
            sheet.append([r.method, r.provider, r.operator, r.payments, r.received, r.refunds, r.refunded, r.net])
        sheet.append([_("Total"), "", "", None, None, None, None, report.net])
        sheet.append([_("Ledger"), "", "", None, None, None, None, report.ledger_net])
        refused = book.create_sheet(_("Refused payment references"))  # the page's table below the sums
        refused.append([_("Time"), _("Reference"), _("Sent by"), _("Credited before"), _("Sent now")])
        for r in report.refused_references:
            account, amount = r.changes["account"], r.changes["amount"]
            refused.append([f"{timezone.localtime(r.at):%Y-%m-%d %H:%M:%S}", r.changes["reference"][1],
                            r.changes["sender"][1], f"{account[0]} {amount[0]}", f"{account[1]} {amount[1]}"])
        if not report.refused_references:
            refused.append([_("None on this day.")])
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()


def now_stamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M")
