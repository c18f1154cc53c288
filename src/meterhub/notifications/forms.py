"""Forms for the alarm settings pages (thresholds, duty shifts, webhook endpoints) and for a
customer's contact preferences."""

from __future__ import annotations

import secrets

from django import forms
from django.utils.translation import gettext_lazy as _

from meterhub.accounts.models import User
from meterhub.alarms.models import AlarmSettings
from meterhub.notifications.models import ContactPreference, DutyShift, WebhookEndpoint

# Every event published to webhooks (docs/api.md, Webhooks).
EVENTS = [("alarm.raised", _("Alarm raised")), ("alarm.escalated", _("Alarm escalated")),
          ("alarm.cleared", _("Alarm cleared")), ("payment.credited", _("Payment credited")),
          ("payment.refunded", _("Payment refunded")), ("relay.changed", _("Relay or valve moved")),
          ("reading.arrived", _("Readings arrived"))]


class ThresholdsForm(forms.ModelForm):
    class Meta:
        model = AlarmSettings
        exclude = ["site"]


class DutyShiftForm(forms.ModelForm):
    starts_at = forms.DateTimeField(label=_("From"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(label=_("Until"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    class Meta:
        model = DutyShift
        fields = ["user", "site", "level", "starts_at", "ends_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(is_active=True).order_by("username")

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            raise forms.ValidationError(_("A shift must end after it starts."))
        return data


class WebhookForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=300, assume_scheme="https")
    events = forms.MultipleChoiceField(label=_("Events"), choices=EVENTS, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "events", "site"]

    def save(self, commit=True):
        endpoint = super().save(commit=False)
        if not endpoint.secret:
            endpoint.secret = secrets.token_urlsafe(32)
        if commit:
            endpoint.save()
        return endpoint


class ContactPreferenceForm(forms.ModelForm):
    class Meta:
        model = ContactPreference
        fields = ["sms", "email", "wechat_openid", "quiet_from", "quiet_until"]
        widgets = {"quiet_from": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                   "quiet_until": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}
        help_texts = {"wechat_openid": _("The customer's open id with our WeChat official account; blank: no WeChat"),
                      "quiet_from": _("Messages in these hours (the site's time) wait until they end; "
                                      "critical alarms such as a gas leak do not wait")}

    def clean(self):
        data = super().clean()
        start, end = data.get("quiet_from"), data.get("quiet_until")
        if (start is None) != (end is None):
            raise forms.ValidationError(_("Give both ends of the quiet hours, or neither."))
        if start is not None and start == end:
            raise forms.ValidationError(_("The quiet hours must end at another time than they start."))
        if data.get("email") and not self.instance.customer.email:
            self.add_error("email", _("The customer has no e-mail address: add it to the customer's record first."))
        return data
