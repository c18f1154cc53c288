"""The message log: every notification with its status, searchable (the "SMS sending
records" operators are asked for), and as an Excel sheet."""

from __future__ import annotations

import io
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import override
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from meterhub.notifications.models import CONFIDENTIAL_EVENTS, Message


def search(params, start: datetime | None = None, end: datetime | None = None) -> QuerySet:
    """Messages matching a search form's fields: q (recipient, name or text), channel, status,
    event, alarm (id), created between start and end."""
    rows = Message.objects.select_related("alarm", "site")
    q = (params.get("q") or "").strip()
    if q:
        in_text = Q(body__icontains=q) & ~Q(event__in=CONFIDENTIAL_EVENTS)  # a code must not be found digit by digit
        rows = rows.filter(Q(recipient__icontains=q) | Q(recipient_name__icontains=q) | in_text | Q(provider_ref=q))
    for name in ("channel", "status", "event"):
        if params.get(name):
            rows = rows.filter(**{name: params[name]})
    if (params.get("alarm") or "").isdigit():
        rows = rows.filter(alarm_id=int(params["alarm"]))
    if start:
        rows = rows.filter(created_at__gte=start)
    if end:
        rows = rows.filter(created_at__lte=end)
    return rows


def messages_xlsx(rows, tz, language: str = "en") -> bytes:
    from meterhub.web.exports import _bold

    def local(moment):
        return moment.astimezone(tz).replace(tzinfo=None) if moment else None

    with override(language):
        book = Workbook(write_only=True)
        sheet = book.create_sheet(_("Messages"))
        headings = [_("Created"), _("Channel"), _("Recipient"), _("Name"), _("Event"), _("Alarm"), _("Status"),
                    _("Attempts"), _("Sent"), _("Delivered"), _("Gateway reference"), _("Why it failed"), _("Text")]
        for i, width in enumerate([19, 8, 20, 14, 14, 8, 10, 8, 19, 19, 18, 30, 60], start=1):
            sheet.column_dimensions[get_column_letter(i)].width = width
        sheet.freeze_panes = "A2"
        sheet.append([_bold(sheet, h) for h in headings])
        for m in rows:
            sheet.append([local(m.created_at), m.get_channel_display(), m.recipient, m.recipient_name, m.event,
                          m.alarm_id, m.get_status_display(), m.attempts, local(m.sent_at), local(m.delivered_at),
                          m.provider_ref, m.error, m.text])
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
