"""Forms of the Seals section. Business rules live in meterhub.seals; these read input."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from meterhub.accounts.models import User
from meterhub.accounts.roles import Role
from meterhub.assets.models import Meter
from meterhub.seals.models import Case, Finding, Position, SealType


class BatchForm(forms.Form):
    reference = forms.CharField(label=_("batch"), max_length=40)
    seal_type = forms.ChoiceField(label=_("type"), choices=SealType.choices)
    prefix = forms.CharField(label=_("serial prefix"), max_length=8, required=False)
    first = forms.IntegerField(label=_("first number"), min_value=0)
    last = forms.IntegerField(label=_("last number"), min_value=0)
    digits = forms.IntegerField(label=_("digits"), min_value=1, max_value=12, initial=6)
    supplier = forms.CharField(label=_("supplier"), max_length=120, required=False)


def technicians():
    return User.objects.filter(is_active=True, role=Role.TECHNICIAN).order_by("username")


class ActionForm(forms.Form):
    """One form for every custody action; which fields matter depends on the action."""

    action = forms.ChoiceField(choices=[(a, a) for a in (
        "issue", "hand_back", "install", "remove", "return", "destroy", "lose", "void")])
    technician = forms.ModelChoiceField(label=_("technician"), queryset=User.objects.none(), required=False)
    meter = forms.CharField(label=_("meter number"), max_length=40, required=False)
    position = forms.ChoiceField(label=_("position"), choices=[("", "—"), *Position.choices], required=False)
    reason = forms.CharField(label=_("reason"), max_length=200, required=False)
    job = forms.CharField(label=_("work order"), max_length=60, required=False)
    location = forms.CharField(label=_("where"), max_length=200, required=False)
    notes = forms.CharField(label=_("notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    photo = forms.FileField(label=_("photo"), required=False, widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["technician"].queryset = technicians()

    def clean_meter(self):
        serial = self.cleaned_data["meter"].strip()
        if not serial:
            return None
        meter = Meter.objects.filter(serial=serial).first()
        if meter is None:
            raise forms.ValidationError(_("No meter %(s)s.") % {"s": serial})
        return meter


class InspectionForm(forms.Form):
    meter = forms.CharField(label=_("meter number"), max_length=40)
    notes = forms.CharField(label=_("notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_meter(self):
        meter = Meter.objects.filter(serial=self.cleaned_data["meter"].strip()).first()
        if meter is None:
            raise forms.ValidationError(_("No such meter."))
        return meter


class FindingForm(forms.Form):
    position = forms.ChoiceField(label=_("position"), choices=Position.choices)
    condition = forms.ChoiceField(label=_("condition"), choices=Finding.Condition.choices)
    seal_serial = forms.CharField(label=_("seal number found"), max_length=24, required=False)
    code = forms.CharField(label=_("scanned code"), max_length=400, required=False)
    photo = forms.FileField(label=_("photo"), required=False, widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}))


FindingFormSet = forms.formset_factory(FindingForm, extra=3, max_num=6)


class CaseUpdateForm(forms.Form):
    assignee = forms.ModelChoiceField(label=_("assigned to"), queryset=User.objects.none(), required=False)
    note = forms.CharField(label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    photo = forms.FileField(label=_("photo"), required=False, widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = User.objects.filter(is_active=True).order_by("username")


class CaseCloseForm(forms.Form):
    outcome = forms.ChoiceField(label=_("outcome"), choices=Case.Outcome.choices)
    unbilled_kwh = forms.DecimalField(label=_("estimated unbilled energy (kWh)"), required=False, min_value=0,
                                      max_digits=14, decimal_places=2)
    note = forms.CharField(label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
