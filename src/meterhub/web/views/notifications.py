"""Alarms > Message log: every notification sent or tried, searchable, as Excel too; and the
route where gateways post their delivery reports."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from meterhub.accounts import roles
from meterhub.notifications import receipts
from meterhub.notifications.models import Channel, Status
from meterhub.notifications.search import messages_xlsx, search
from meterhub.web.access import requires
from meterhub.web.views.audit import _day

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@requires(roles.ALARMS_VIEW)
def message_log(request):
    request.section = "alarms"
    rows = search(request.GET, _day(request.GET.get("from", "")), _day(request.GET.get("to", ""), end=True))
    if request.GET.get("format") == "xlsx":
        response = HttpResponse(messages_xlsx(rows[:50_000], timezone.get_current_timezone(),
                                              request.LANGUAGE_CODE), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="messages-{timezone.localdate():%Y%m%d}.xlsx"'
        return response
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("format", None)
    return render(request, "notifications/messages.html", {
        "page": page, "query": query, "channels": Channel.choices, "statuses": Status.choices,
        "export_query": query.urlencode()})


@csrf_exempt
@require_POST
def delivery_report(request, channel):
    """Public by design: the gateway's signature, not a session, authenticates it."""
    result = receipts.handle(channel, request.body, request.headers, remote_addr=request.META.get("REMOTE_ADDR", ""))
    return JsonResponse(result.body, status=result.status)
