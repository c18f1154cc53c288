"""Settings > Audit log and Login history: searchable, read-only."""

from __future__ import annotations

from datetime import date, datetime, time

from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import render
from django.utils import timezone

from meterhub.accounts import roles
from meterhub.accounts.models import AuditEntry, LoginEvent
from meterhub.web.access import requires


def _day(text: str, end: bool = False) -> datetime | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    moment = datetime.combine(day, time.max if end else time.min)
    return timezone.make_aware(moment, timezone.get_current_timezone())


def _date_range(rows, request):
    start, end = _day(request.GET.get("from", "")), _day(request.GET.get("to", ""), end=True)
    if start:
        rows = rows.filter(at__gte=start)
    if end:
        rows = rows.filter(at__lte=end)
    return rows


@requires(roles.AUDIT_VIEW)
def audit_log(request):
    request.section = "settings"
    rows = _date_range(AuditEntry.objects.all(), request)
    q = request.GET.get("q", "").strip()
    if q:
        rows = rows.filter(Q(object_repr__icontains=q) | Q(object_id=q) | Q(actor_name__icontains=q))
    for name in ("action", "object_type", "actor_name"):
        if request.GET.get(name):
            rows = rows.filter(**{name: request.GET[name]})
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    object_types = AuditEntry.objects.order_by().values_list("object_type", flat=True).distinct()
    return render(request, "web/audit_log.html", {"page": page, "object_types": sorted(object_types),
                                                  "query": request.GET.copy()})


@requires(roles.AUDIT_VIEW)
def login_history(request):
    request.section = "settings"
    rows = _date_range(LoginEvent.objects.all(), request)
    if request.GET.get("username"):
        rows = rows.filter(username__icontains=request.GET["username"])
    if request.GET.get("outcome"):
        rows = rows.filter(outcome=request.GET["outcome"])
    if request.GET.get("ip"):
        rows = rows.filter(ip=request.GET["ip"])
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    return render(request, "web/login_history.html", {"page": page, "outcomes": LoginEvent.Outcome.choices,
                                                      "query": request.GET.copy()})
