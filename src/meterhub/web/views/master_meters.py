"""Master meters: which meter measures a building's (or the site's) supply, for line loss."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from meterhub.accounts import roles
from meterhub.aggregates import masters
from meterhub.aggregates.models import MasterMeter
from meterhub.assets.models import Building, Meter
from meterhub.web.access import requires


class MasterMeterForm(forms.Form):
    meter = forms.CharField(label=gettext_lazy("Meter number"), max_length=40)
    building = forms.ModelChoiceField(label=gettext_lazy("Building"), queryset=Building.objects.select_related("site"),
                                      required=False, empty_label=gettext_lazy("The whole site"))

    def clean_meter(self):
        meter = Meter.objects.filter(serial=self.cleaned_data["meter"]).first()
        if meter is None:
            raise forms.ValidationError(_("No meter %(serial)s") % {"serial": self.cleaned_data["meter"]})
        return meter


@requires(roles.ASSETS_CHANGE)
def master_meter_list(request):
    request.section = "settings"
    form = MasterMeterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            masters.mark(form.cleaned_data["meter"], form.cleaned_data["building"], actor=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("%(m)s is a master meter; its totals are recomputed")
                             % {"m": form.cleaned_data["meter"]})
            return redirect("master-meter-list")
    rows = MasterMeter.objects.select_related("meter", "site", "building").order_by("site__code", "meter__serial")
    return render(request, "web/master_meters.html", {"rows": rows, "form": form})


@require_POST
@requires(roles.ASSETS_CHANGE)
def master_meter_remove(request, pk):
    row = get_object_or_404(MasterMeter.objects.select_related("meter"), pk=pk)
    masters.unmark(row.meter, actor=request.user)
    messages.success(request, _("%(m)s is no longer a master meter") % {"m": row.meter})
    return redirect("master-meter-list")
