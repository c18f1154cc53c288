"""Dashboard, section landing pages, reports, settings index."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from meterhub.accounts import roles
from meterhub.accounts.models import AuditEntry
from meterhub.assets.models import Collector, Customer, Meter, Site
from meterhub.comms.models import BusLink, MeterCommStatus
from meterhub.web.access import can, requires
from meterhub.web.exports import meter_register_xlsx


@requires(roles.CONSOLE)
def dashboard(request):
    request.section = "dashboard"
    meters_by_kind = dict(Meter.objects.filter(active=True).values_list("kind").annotate(n=Count("id")))
    context = {
        "sites": Site.objects.annotate(n_meters=Count("meters", distinct=True),
                                       n_collectors=Count("collectors", distinct=True)),
        "collector_count": Collector.objects.count(),
        "meter_count": sum(meters_by_kind.values()),
        "meters_by_kind": [(Meter(kind=k).get_kind_display(), n) for k, n in sorted(meters_by_kind.items())],
        "customer_count": Customer.objects.filter(active=True).count(),
        "collectors_online": BusLink.objects.filter(online=True).values("collector").distinct().count(),
        "meters_read_24h": MeterCommStatus.objects.filter(
            last_success__gte=timezone.now() - timedelta(hours=24)).count(),
        # One line per import file, not one per imported row.
        "recent": AuditEntry.objects.exclude(action="import")[:10] if can(request.user, roles.AUDIT_VIEW) else [],
    }
    return render(request, "web/dashboard.html", context)


# Sections whose capabilities arrive with later releases: the page says what they will hold.
SECTIONS = {
    "billing": (roles.BILLING_VIEW, _("Billing"),
                _("Tariffs, the prepaid ledger, payments, bills, receipts and statements.")),
}


def section_page(key: str):
    capability, title, summary = SECTIONS[key]

    @requires(capability)
    def view(request):
        request.section = key
        return render(request, "web/section.html", {"title": title, "summary": summary})

    return view


@requires(roles.REPORTS_VIEW)
def reports(request):
    request.section = "reports"
    return render(request, "web/reports.html", {"sites": Site.objects.all()})


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
