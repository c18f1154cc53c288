"""The portal's forms: what a customer types, labelled for a phone keyboard."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from meterhub.notifications.forms import ContactPreferenceForm


class PhoneForm(forms.Form):
    phone = forms.CharField(label=_("Mobile number"), max_length=24, widget=forms.TextInput(attrs={
        "inputmode": "tel", "autocomplete": "tel", "placeholder": "13800000001", "autofocus": True}))


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Code from the SMS"), max_length=12, widget=forms.TextInput(attrs={
        "inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9 ]*", "placeholder": "123456",
        "autofocus": True}))


class BindForm(forms.Form):
    account_number = forms.CharField(label=_("Account number"), max_length=32,
                                     help_text=_("As printed on your bill or receipt"),
                                     widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}))
    name = forms.CharField(label=_("Account holder's name"), max_length=120,
                           widget=forms.TextInput(attrs={"autocomplete": "name"}))
    id_number = forms.CharField(label=_("Account holder's ID number"), max_length=40,
                                widget=forms.TextInput(attrs={"autocomplete": "off"}))


class AmountForm(forms.Form):
    amount = forms.CharField(label=_("Amount"), max_length=16, widget=forms.TextInput(attrs={
        "inputmode": "decimal", "autocomplete": "off", "placeholder": "100"}))


class ContactForm(ContactPreferenceForm):
    """The console's contact preference form (the same rules), worded for the customer. The
    WeChat open id can be stopped here but not typed: every phone bound to the account opens
    this page, and an open id typed by one of them would send the holder's messages to it."""

    stop_wechat = forms.BooleanField(label=_("Stop WeChat messages"), required=False)

    class Meta(ContactPreferenceForm.Meta):
        fields = ["sms", "email", "quiet_from", "quiet_until"]
        labels = {"sms": _("Text messages (SMS)"), "email": _("E-mail"),
                  "quiet_from": _("Quiet from"), "quiet_until": _("Quiet until")}
        help_texts = {"quiet_until": _("Messages that can wait are held during quiet hours; a gas leak "
                                       "is never held")}

    def clean(self):
        data = super().clean()
        if data.pop("stop_wechat", False):
            data["wechat_openid"] = ""
        return data
