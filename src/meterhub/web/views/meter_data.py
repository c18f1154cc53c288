"""The meter page's live parts, as JSON: its chart data, and reading the meter now."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from meterhub.accounts import roles
from meterhub.assets.models import Meter
from meterhub.comms.models import Command
from meterhub.readings import latest, series
from meterhub.readings.models import Quality
from meterhub.readings.quantities import label
from meterhub.web import read_now
from meterhub.web.access import requires
from meterhub.web.ranges import parse_range

DEFAULT_QUANTITY = {"electricity": "energy_import", "water": "water_volume", "gas": "gas_volume"}


def default_quantity(meter: Meter) -> str:
    return DEFAULT_QUANTITY.get(meter.kind, "energy_import")


def page_context(meter: Meter) -> dict:
    """What the meter page needs to draw its chart: the quantities this meter has sent."""
    quantities = sorted(set(latest.quantities_sent(meter.pk)) | {default_quantity(meter)}, key=lambda q: (q != default_quantity(meter), q))
    return {"chart_quantities": [(q, label(q)) for q in quantities], "read_now_available": read_now.available(meter),
            "chart_text": {"consumption": _("Consumption"), "register": _("Register"), "mean": _("Mean"),
                           "low": _("Lowest"), "high": _("Highest"), "no_data": _("No readings in this range."),
                           "failed": _("The request failed; try again."),
                           "qualities": {str(k): str(v) for k, v in Quality.choices}},
            "chart_config": {"series": reverse("meter-series", kwargs={"pk": meter.pk}),
                             "read_now": reverse("meter-read-now", kwargs={"pk": meter.pk}),
                             "time_zone": meter.site.time_zone}}


def resolution(bucket_s: int) -> str:
    if not bucket_s:
        return _("every reading")
    if bucket_s % 86400 == 0:
        return ngettext("one point per day", "one point per %(n)d days", bucket_s // 86400) % {"n": bucket_s // 86400}
    if bucket_s % 3600 == 0:
        return ngettext("one point per hour", "one point per %(n)d hours", bucket_s // 3600) % {"n": bucket_s // 3600}
    return _("one point per %(n)d minutes") % {"n": bucket_s // 60}


@requires(roles.ASSETS_VIEW)
def meter_series(request, pk):
    meter = get_object_or_404(Meter.objects.select_related("site"), pk=pk)
    zone = ZoneInfo(meter.site.time_zone)
    quantity = request.GET.get("quantity") or default_quantity(meter)
    try:
        days = min(max(int(request.GET.get("days") or 7), 1), 366)
        start, end = parse_range(request.GET.get("start", ""), request.GET.get("end", ""), zone, default_days=days)
        data = series.meter_series(meter.pk, quantity, start, end, time_zone=meter.site.time_zone).as_json()
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    data.update(meter=meter.pk, label=str(label(quantity)), time_zone=meter.site.time_zone,
                resolution=resolution(data["bucket_s"]),
                range=f"{start.astimezone(zone):%Y-%m-%d %H:%M} – {end.astimezone(zone):%Y-%m-%d %H:%M}")
    return JsonResponse(data)


@require_POST
@requires(roles.COMMANDS_SEND)
def meter_read_now(request, pk):
    meter = get_object_or_404(Meter.objects.select_related("site"), pk=pk)
    if not read_now.available(meter):
        return JsonResponse({"error": _("Read now needs a DL/T 645 meter on a collector")}, status=400)
    try:
        command = read_now.request(meter, request.user)
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    return JsonResponse({"command": command.pk,
                         "poll": reverse("meter-read-now-answer", kwargs={"pk": pk, "command_pk": command.pk})},
                        status=202)


@requires(roles.ASSETS_VIEW)
def meter_read_now_answer(request, pk, command_pk):
    command = get_object_or_404(Command.objects.select_related("meter__site"), pk=command_pk, meter_id=pk,
                                kind=Command.Kind.READ_NOW)
    return JsonResponse(read_now.answer(command).as_json())

