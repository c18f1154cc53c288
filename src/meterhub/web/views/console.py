"""Dashboard, section landing pages, reports, settings index."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from meterhub.accounts import roles
from meterhub.accounts.models import AuditEntry
from meterhub.aggregates import dashboard as figures
from meterhub.assets.models import Customer, Meter, MeterKind
from meterhub.web.access import can, requires
from meterhub.web.exports import meter_register_xlsx


@requires(roles.CONSOLE)
def dashboard(request):
    request.section = "dashboard"
    meters_by_kind = dict(Meter.objects.filter(active=True).values_list("kind").annotate(n=Count("id")))
    sites = figures.all_sites()
    context = {
        "sites": sites,
        "collector_count": sum(s.collectors for s in sites),
        "collectors_online": sum(s.collectors_online for s in sites),
        "meter_count": sum(meters_by_kind.values()),
        "meters_online": sum(s.meters_online for s in sites),
        "expected_today": sum(s.collection.expected for s in sites),
        "read_today": sum(s.collection.read for s in sites),
        "meters_by_kind": [(Meter(kind=k).get_kind_display(), n) for k, n in sorted(meters_by_kind.items())],
        "customer_count": Customer.objects.filter(active=True).count(),
        "open_alarms": sum(s.open_alarms for s in sites),
        "kinds": dict(MeterKind.choices),
        # What operators changed: the head-end's own commands (re-reads, time syncs), customers'
        # downloads and kiosk lookups are in the audit log, not here. One line per import
        # file, not one per imported row.
        "recent": (AuditEntry.objects.filter(actor__isnull=False).exclude(action="import")[:10]
                   if can(request.user, roles.AUDIT_VIEW) else []),
    }
    return render(request, "web/dashboard.html", context)


@requires(roles.REPORTS_VIEW)
def meter_register_export(request):
    site = request.GET.get("site")
    meters = Meter.objects.select_related("site", "collector").prefetch_related("installations__premise__building")
    if site:
        meters = meters.filter(site__code=site)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = HttpResponse(
        meter_register_xlsx(meters, language=request.LANGUAGE_CODE),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="meter-register-{site or "all"}-{stamp}.xlsx"'
    return response


@requires(roles.CONSOLE)
def settings_index(request):
    request.section = "settings"
    return render(request, "web/settings.html")
