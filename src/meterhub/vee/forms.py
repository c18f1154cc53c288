from django import forms
from django.utils.translation import gettext_lazy as _

from meterhub.vee.models import Finding, VeeSettings


class EditReadingForm(forms.Form):
    value = forms.DecimalField(label=_("Register value"), max_digits=20, decimal_places=6,
                               help_text=_("As the meter shows it; the stored value is this times the CT x PT ratio"))
    reason = forms.CharField(label=_("Reason"), max_length=300, widget=forms.Textarea(attrs={"rows": 2}))


class DecideForm(forms.Form):
    status = forms.ChoiceField(choices=[(Finding.Status.ACCEPTED, Finding.Status.ACCEPTED.label),
                                        (Finding.Status.RESOLVED, Finding.Status.RESOLVED.label)])
    note = forms.CharField(label=_("Note"), max_length=300)


class VeeSettingsForm(forms.ModelForm):
    class Meta:
        model = VeeSettings
        exclude = ["site"]
