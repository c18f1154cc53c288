"""The Alarms section: open alarms first, acknowledge and clear them."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.handlers.asgi import ASGIRequest
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.views.decorators.http import require_POST

from meterhub.accounts import roles
from meterhub.alarms import live, services
from meterhub.alarms.models import Alarm, Kind, State
from meterhub.assets.models import Site
from meterhub.web.access import can, requires


@requires(roles.ALARMS_VIEW)
def alarm_list(request):
    """Open alarms first; with filters, the alarm history of a meter, a collector or a site."""
    request.section = "alarms"
    params = request.GET
    state = params.get("state", "open")
    alarms = history(params, state)
    page = Paginator(alarms, 100).get_page(params.get("page"))
    query = params.copy()
    return render(request, "alarms/list.html", {
        "page": page, "alarms": page.object_list, "state": state, "states": State.choices, "kinds": Kind.choices,
        "sites": Site.objects.order_by("code"), "query": query,
        "can_change": can(request.user, roles.ALARMS_CHANGE), "can_investigate": can(request.user, roles.SEALS_CHANGE)})


def history(params, state: str = "open"):
    alarms = Alarm.objects.select_related("meter", "collector", "site", "acknowledged_by", "cleared_by")
    if state == "open":
        alarms = alarms.exclude(state=State.CLEARED)
    elif state in State.values:
        alarms = alarms.filter(state=state)
    if params.get("kind") in Kind.values:
        alarms = alarms.filter(kind=params["kind"])
    if params.get("meter"):
        alarms = alarms.filter(meter__serial=params["meter"].strip())
    if params.get("collector"):
        alarms = alarms.filter(collector__code=params["collector"].strip())
    if params.get("site"):
        alarms = alarms.filter(site__code=params["site"])
    if (params.get("id") or "").isdigit():
        alarms = alarms.filter(pk=int(params["id"]))
    return alarms


@require_POST
@requires(roles.ALARMS_CHANGE)
def alarm_acknowledge(request, pk):
    try:
        services.acknowledge(get_object_or_404(Alarm, pk=pk), request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("section-alarms")


@require_POST
@requires(roles.ALARMS_CHANGE)
def alarm_clear(request, pk):
    try:
        services.clear(get_object_or_404(Alarm, pk=pk), request.user, request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("section-alarms")


@requires(roles.ALARMS_VIEW)
def alarm_stream(request):
    """New alarms as server-sent events (alarms.live)."""
    try:
        after = int(request.headers.get("Last-Event-ID") or request.GET.get("after") or -1)
    except ValueError:
        after = -1
    if after < 0:
        after = live.latest_id()
    language = translation.get_language()
    stream = (live.async_stream if isinstance(request, ASGIRequest) else live.sync_stream)(after, language)
    response = StreamingHttpResponse(stream, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must not hold the events back
    return response
