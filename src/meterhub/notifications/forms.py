"""Forms for the alarm settings pages: thresholds, duty shifts, webhook endpoints."""

from __future__ import annotations

import secrets

from django import forms
from django.utils.translation import gettext_lazy as _

from meterhub.accounts.models import User
from meterhub.alarms.models import AlarmSettings
from meterhub.notifications.models import DutyShift, WebhookEndpoint

EVENTS = [("alarm.raised", _("Alarm raised")), ("alarm.escalated", _("Alarm escalated")),
          ("alarm.cleared", _("Alarm cleared"))]


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
