"""Console pages for VEE: findings to judge, a meter's readings with their quality, the edit
form, and a site's thresholds. Thin: the work is in findings.py and editing.py."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meterhub.accounts import roles
from meterhub.assets.models import Meter, Site
from meterhub.readings.models import Quality, Reading
from meterhub.readings.quantities import label as quantity_label
from meterhub.vee import editing, findings, labels
from meterhub.vee.forms import DecideForm, EditReadingForm, VeeSettingsForm
from meterhub.vee.models import Finding, VeeSettings
from meterhub.web.access import requires


def _edit_target(finding: Finding) -> str | None:
    """The reading a finding is about (its own time, or the one its detail points at)."""
    ts = finding.ts.isoformat() if finding.ts else finding.detail.get("at") or finding.detail.get("first")
    if not ts or not finding.quantity:
        return None
    return reverse("vee-reading-edit", args=[finding.meter_id]) + "?" + urlencode({"quantity": finding.quantity, "ts": ts})


@requires(roles.REPORTS_VIEW)
def finding_list(request):
    request.section = "vee"
    rows = Finding.objects.select_related("meter__site", "decided_by")
    query = request.GET.copy()
    query.setdefault("status", Finding.Status.OPEN)
    if query.get("site"):
        rows = rows.filter(meter__site__code=query["site"])
    if query.get("rule"):
        rows = rows.filter(rule=query["rule"])
    if query.get("status") != "all":
        rows = rows.filter(status=query["status"])
    if query.get("meter"):
        rows = rows.filter(meter__serial__icontains=query["meter"].strip())
    page = Paginator(rows.order_by("-day", "meter__serial", "rule", "ts"), 50).get_page(request.GET.get("page"))
    for finding in page:
        finding.rule_label = labels.rule_label(finding.rule)
        finding.quantity_label = quantity_label(finding.quantity) if finding.quantity else ""
        finding.edit_url = _edit_target(finding)
        finding.text = labels.describe(finding.rule, finding.detail, ZoneInfo(finding.meter.site.time_zone))
    return render(request, "vee/findings.html", {
        "page": page, "query": query, "sites": Site.objects.all(), "rules": labels.RULES.items(),
        "statuses": Finding.Status.choices, "decide_form": DecideForm(),
        "can_decide": request.user.has_capability(roles.READINGS_EDIT)})


@require_POST
@requires(roles.READINGS_EDIT)
def finding_decide(request, pk):
    finding = get_object_or_404(Finding, pk=pk)
    form = DecideForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose accept or resolve and add a note"))
    else:
        try:
            findings.decide(finding, form.cleaned_data["status"], form.cleaned_data["note"], request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Finding %(rule)s on %(meter)s: %(status)s")
                             % {"rule": labels.rule_label(finding.rule), "meter": finding.meter,
                                "status": Finding.Status(form.cleaned_data["status"]).label})
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("vee-findings")
    return redirect(back)


def _local_day(request, meter: Meter) -> tuple[date, datetime, datetime]:
    zone = ZoneInfo(meter.site.time_zone)
    try:
        day = date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = datetime.now(zone).date()
    start = datetime.combine(day, time.min, zone)
    return day, start, start + timedelta(days=1)


@requires(roles.ASSETS_VIEW)
def meter_readings(request, pk):
    """One local day of a meter's readings with their quality, each with an edit link."""
    request.section = "meters"
    meter = get_object_or_404(Meter.objects.select_related("site"), pk=pk)
    day, start, end = _local_day(request, meter)
    quantities = sorted(Reading.objects.filter(meter=meter, ts__gte=start - timedelta(days=31), ts__lt=end)
                        .order_by().values_list("quantity", flat=True).distinct())
    rows = Reading.objects.filter(meter=meter, ts__gte=start, ts__lt=end).order_by("ts", "quantity")
    day_findings = list(Finding.objects.filter(meter=meter, day=day).order_by("rule", "quantity", "ts"))
    for finding in day_findings:
        finding.rule_label = labels.rule_label(finding.rule)
        finding.quantity_label = quantity_label(finding.quantity) if finding.quantity else ""
    chosen = request.GET.get("quantity", "")
    if chosen:
        rows = rows.filter(quantity=chosen)
    return render(request, "vee/meter_readings.html", {
        "meter": meter, "day": day, "previous": day - timedelta(days=1), "next": day + timedelta(days=1),
        "rows": rows[:2000], "quantities": [(q, quantity_label(q)) for q in quantities], "chosen": chosen,
        "findings": day_findings,
        "can_edit": request.user.has_capability(roles.READINGS_EDIT)})


def _reading_ref(request) -> tuple[str, datetime] | None:
    source = request.POST if request.method == "POST" else request.GET
    quantity = source.get("quantity", "")
    try:
        ts = datetime.fromisoformat(source.get("ts", ""))
    except ValueError:
        return None
    if not quantity or ts.tzinfo is None:
        return None
    return quantity, ts


@requires(roles.READINGS_EDIT)
def reading_edit(request, pk):
    """Change a reading, or supply a missing one, with a reason; its edit history below."""
    request.section = "meters"
    meter = get_object_or_404(Meter.objects.select_related("site"), pk=pk)
    ref = _reading_ref(request)
    if ref is None:
        return HttpResponseBadRequest(_("Which reading? Give quantity and ts (ISO 8601 with its offset)."))
    quantity, ts = ref
    reading = Reading.objects.filter(meter=meter, quantity=quantity, ts=ts).first()
    form = EditReadingForm(request.POST or None,
                           initial={"value": format(reading.raw_value.normalize(), "f")} if reading else None)
    if request.method == "POST" and form.is_valid():
        try:
            editing.edit_reading(meter, quantity, ts, form.cleaned_data["value"], form.cleaned_data["reason"],
                                 request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Reading saved as edited; the original is kept in its history."))
            local = ts.astimezone(ZoneInfo(meter.site.time_zone)).date()
            return redirect(reverse("vee-meter-readings", args=[meter.pk]) + f"?day={local.isoformat()}")
    return render(request, "vee/reading_edit.html", {
        "meter": meter, "quantity": quantity, "quantity_label": quantity_label(quantity), "ts": ts,
        "reading": reading, "form": form, "history": editing.history(meter, quantity, ts),
        "is_insert": reading is None or reading.quality == Quality.ESTIMATED})


@requires(roles.ASSETS_CHANGE)
def site_settings(request, pk):
    request.section = "settings"
    site = get_object_or_404(Site, pk=pk)
    row = VeeSettings.objects.filter(site=site).first() or VeeSettings(site=site)
    form = VeeSettingsForm(request.POST or None, instance=row)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Validation settings for %(site)s saved.") % {"site": site})
        return redirect("vee-settings", pk=site.pk)
    return render(request, "web/simple_form.html",
                  {"form": form, "title": _("Validation and estimation settings: %(site)s") % {"site": site}})
