"""Alarms > Settings: thresholds per site, who is on duty, integrators' webhooks."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meterhub.accounts import audit, roles
from meterhub.alarms.models import AlarmSettings
from meterhub.assets.models import Site
from meterhub.notifications.forms import DutyShiftForm, ThresholdsForm, WebhookForm
from meterhub.notifications.models import DutyShift, WebhookEndpoint
from meterhub.web.access import can, requires


@requires(roles.ALARMS_VIEW)
def alarm_settings(request):
    request.section = "alarms"
    now = timezone.now()
    return render(request, "notifications/settings.html", {
        "sites": Site.objects.order_by("code"), "shifts": DutyShift.objects.select_related("user", "site")
        .filter(ends_at__gt=now).order_by("starts_at")[:200],
        "webhooks": WebhookEndpoint.objects.order_by("name"), "now": now,
        "shift_form": DutyShiftForm(), "webhook_form": WebhookForm(),
        "can_change": can(request.user, roles.ALARMS_CHANGE),
        "can_manage": can(request.user, roles.OPERATORS_MANAGE)})


@requires(roles.ALARMS_CHANGE)
def site_thresholds(request, code):
    request.section = "alarms"
    site = get_object_or_404(Site, code=code)
    instance = AlarmSettings.objects.filter(site=site).first() or AlarmSettings(site=site)
    form = ThresholdsForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        form.save()
        audit.record("alarm_settings", site, {k: [None, str(v)] for k, v in form.cleaned_data.items()},
                     actor=request.user)
        messages.success(request, _("Alarm thresholds of %(s)s saved.") % {"s": site.name})
        return redirect("alarm-settings")
    return render(request, "web/simple_form.html",
                  {"form": form, "title": _("Alarm thresholds: %(s)s") % {"s": site.name}})


@require_POST
@requires(roles.ALARMS_CHANGE)
def shift_add(request):
    form = DutyShiftForm(request.POST)
    if form.is_valid():
        shift = form.save()
        audit.record("duty_shift", shift.user, {"shift": [None, f"{shift.starts_at:%Y-%m-%d %H:%M} - "
                                                                f"{shift.ends_at:%Y-%m-%d %H:%M} L{shift.level}"]},
                     actor=request.user)
        messages.success(request, _("Shift added."))
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("alarm-settings")


@require_POST
@requires(roles.ALARMS_CHANGE)
def shift_delete(request, pk):
    get_object_or_404(DutyShift, pk=pk).delete()
    return redirect("alarm-settings")


@require_POST
@requires(roles.OPERATORS_MANAGE)
def webhook_add(request):
    form = WebhookForm(request.POST)
    if form.is_valid():
        endpoint = form.save()
        audit.record("webhook", endpoint, {"url": [None, endpoint.url]}, actor=request.user)
        messages.success(request, _("Webhook %(n)s added; its signing secret is shown in the list.")
                         % {"n": endpoint.name})
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("alarm-settings")


@require_POST
@requires(roles.OPERATORS_MANAGE)
def webhook_toggle(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    endpoint.active = not endpoint.active
    endpoint.save(update_fields=["active"])
    audit.record("webhook", endpoint, {"active": [not endpoint.active, endpoint.active]}, actor=request.user)
    return redirect("alarm-settings")
