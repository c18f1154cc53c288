"""What is typed at a terminal (large fields for a touch screen) and in the console's terminal register."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from meterhub.kiosk.models import Terminal

BIG = {"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}


class PairForm(forms.Form):
    code = forms.CharField(label=_("Terminal code"), max_length=20, widget=forms.TextInput(attrs={**BIG,
                                                                                                "autofocus": True}))
    key = forms.CharField(label=_("Terminal key"), max_length=40, widget=forms.TextInput(attrs={
        **BIG, "placeholder": "XXXX-XXXX-XXXX-XXXX-XXXX"}))


class LookupForm(forms.Form):
    number = forms.CharField(label=_("Account number or meter number"), max_length=40, widget=forms.TextInput(
        attrs={**BIG, "autofocus": True, "data-keyboard": "letters"}),
        error_messages={"required": _("Type an account number or a meter number.")})


class AmountForm(forms.Form):
    amount = forms.CharField(label=_("Other amount"), max_length=12, widget=forms.TextInput(attrs={
        **BIG, "inputmode": "decimal", "data-keyboard": "digits", "placeholder": "0.00"}),
        error_messages={"required": _("Choose an amount or type one.")})


class TerminalForm(forms.ModelForm):
    """Register a terminal, or change one: its code is fixed once a device may have paired with it."""

    class Meta:
        model = Terminal
        fields = ["code", "name", "site", "location", "language"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["code"].disabled = True
