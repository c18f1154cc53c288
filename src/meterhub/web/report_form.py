"""The reports page's criteria: which report, which site, which days, which meters."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from meterhub.aggregates.quantities import REGISTERS
from meterhub.aggregates.reports import REPORTS, Criteria
from meterhub.assets.models import Building, Meter, MeterKind, Site
from meterhub.readings.quantities import label

MAX_DAYS = 3 * 366


class ReportForm(forms.Form):
    report = forms.ChoiceField(label=_("Report"), choices=[(k, t) for k, (t, _f) in REPORTS.items()])
    site = forms.ModelChoiceField(label=_("Site"), queryset=Site.objects.all(), empty_label=None)
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    kind = forms.ChoiceField(label=_("Utility"), choices=MeterKind.choices, initial=MeterKind.ELECTRICITY)
    scope = forms.ChoiceField(label=_("Per"), initial="meter", choices=[
        ("meter", _("Meter")), ("building", _("Building")), ("site", _("Site"))])
    register = forms.ChoiceField(label=_("Quantity"), required=False, choices=[("", _("Main register"))] + [
        (q, label(q)) for q in REGISTERS[MeterKind.ELECTRICITY][1:]])
    building = forms.ModelChoiceField(label=_("Building"), queryset=Building.objects.all(), required=False,
                                      empty_label=_("All buildings"))
    meter = forms.CharField(label=_("Meter number"), required=False, max_length=40)

    def __init__(self, data=None, **kwargs):
        site = Site.objects.order_by("code").first()
        today = timezone.now().astimezone(ZoneInfo(site.time_zone)).date() if site else timezone.now().date()
        defaults = {"report": "daily", "site": site.pk if site else None, "start": today - timedelta(days=6),
                    "end": today, "kind": MeterKind.ELECTRICITY, "scope": "meter"}
        merged = {**defaults, **{k: v for k, v in (data or {}).items() if v not in ("", None)}}
        super().__init__(merged, **kwargs)
        site_id = merged.get("site")
        self.fields["building"].queryset = Building.objects.filter(site_id=site_id) if str(site_id).isdigit() \
            else Building.objects.none()

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date is after the end date"))
        if start and end and (end - start).days > MAX_DAYS:
            raise forms.ValidationError(_("At most %(n)d days at a time") % {"n": MAX_DAYS})
        serial = data.get("meter")
        if serial and data.get("site"):
            data["meter"] = Meter.objects.filter(site=data["site"], serial=serial).first()
            if data["meter"] is None:
                self.add_error("meter", _("No meter %(serial)s on this site") % {"serial": serial})
        else:
            data["meter"] = None
        return data

    def criteria(self) -> Criteria:
        d = self.cleaned_data
        register = d["register"] if d["kind"] == MeterKind.ELECTRICITY else ""
        return Criteria(site=d["site"], start=d["start"], end=d["end"], kind=d["kind"], scope=d["scope"],
                        register=register, building=d["building"], meter=d["meter"])
