"""Console forms. Validation that is a business rule lives in the models and domain."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from meterhub.accounts.models import LoginEvent, User
from meterhub.accounts.roles import Role
from meterhub.assets import addresses
from meterhub.assets.models import (
    Building,
    Collector,
    Customer,
    Meter,
    Premise,
    Site,
    validate_time_zone,
)


class LoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _("Too many failed sign-ins: this account is locked for 15 minutes. "
                    "An administrator can unlock it."),
        "disabled": _("This account is disabled. Ask an administrator."),
    }

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            outcome = getattr(self.request, "login_outcome", None)
            if outcome == LoginEvent.Outcome.LOCKED:
                raise forms.ValidationError(self.error_messages["locked"], code="locked") from None
            if outcome == LoginEvent.Outcome.DISABLED:
                raise forms.ValidationError(self.error_messages["disabled"], code="disabled") from None
            raise


class SiteForm(forms.ModelForm):
    class Meta:
        model = Site
        fields = ["code", "name", "time_zone", "currency", "address"]


class CollectorForm(forms.ModelForm):
    class Meta:
        model = Collector
        fields = ["code", "name", "site", "transport", "registration_id", "host", "port", "serial_device",
                  "model", "enabled", "notes"]


class SecretInput(forms.PasswordInput):
    def __init__(self):
        super().__init__(render_value=False, attrs={"autocomplete": "new-password"})


class MeterForm(forms.ModelForm):
    """Secrets are write-only: a blank field on edit keeps the stored value."""

    password = forms.CharField(label=_("protocol password"), required=False, widget=SecretInput(),
                               help_text=_("DL/T 645: 8 digits, level then password (e.g. 02123456). "
                                           "Leave blank to keep the stored value"))
    operator_code = forms.CharField(label=_("operator code"), required=False, widget=SecretInput(),
                                    help_text=_("Leave blank to keep the stored value"))

    class Meta:
        model = Meter
        fields = ["serial", "site", "kind", "protocol", "address", "collector", "bus_port", "baud_rate",
                  "phase", "ct_ratio", "pt_ratio", "model", "payment_mode", "switch", "password",
                  "operator_code", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._stored = {"password": self.instance.password, "operator_code": self.instance.operator_code}

    def clean_address(self):
        protocol = self.cleaned_data.get("protocol") or self.data.get("protocol")
        try:
            return addresses.normalise(protocol, self.cleaned_data["address"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self):
        data = super().clean()
        for name, stored in self._stored.items():
            if not data.get(name):
                data[name] = stored
        site, collector = data.get("site"), data.get("collector")
        if site and collector and collector.site_id != site.pk:
            self.add_error("collector", _("This collector belongs to another site"))
        return data


class CustomerForm(forms.ModelForm):
    id_number = forms.CharField(label=_("ID number"), required=False, widget=SecretInput(),
                                help_text=_("Stored encrypted. Leave blank to keep the stored value"))

    class Meta:
        model = Customer
        fields = ["account_no", "name", "customer_class", "phone", "email", "id_number", "language", "active"]

    def clean(self):
        data = super().clean()
        if not data.get("id_number"):
            data["id_number"] = self.instance.id_number
        return data


class PremiseForm(forms.ModelForm):
    class Meta:
        model = Premise
        fields = ["site", "building", "unit", "kind", "address"]


class BuildingForm(forms.ModelForm):
    class Meta:
        model = Building
        fields = ["site", "code", "name"]


class WhenForm(forms.Form):
    at = forms.DateTimeField(label=_("when"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    note = forms.CharField(label=_("note"), required=False, max_length=200)


class InstallForm(WhenForm):
    premise = forms.ModelChoiceField(label=_("premise"), queryset=Premise.objects.select_related("building"))


class ExchangeForm(WhenForm):
    new_meter = forms.ModelChoiceField(label=_("new meter"),
                                       queryset=Meter.objects.filter(installations__isnull=True))


class MoveInForm(WhenForm):
    customer = forms.ModelChoiceField(label=_("customer"), queryset=Customer.objects.filter(active=True))


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("what"), choices=[
        ("collectors", _("Collectors")), ("meters", _("Meters")), ("customers", _("Customers")),
        ("readings", _("Readings"))])
    file = forms.FileField(label=_("file (.csv or .xlsx)"))
    dry_run = forms.BooleanField(label=_("check only (dry run)"), required=False, initial=True)


class OperatorForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["role", "full_name", "email", "phone", "time_zone"]

    def clean_time_zone(self):
        value = self.cleaned_data["time_zone"]
        if value:
            validate_time_zone(value)
        return value


class NewOperatorForm(forms.Form):
    username = forms.CharField(label=_("user name"), max_length=150)
    full_name = forms.CharField(label=_("full name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("role"), choices=Role.choices)
    email = forms.EmailField(label=_("e-mail"), required=False)
    password = forms.CharField(label=_("initial password"), widget=SecretInput(), min_length=10)


class PasswordResetForm(forms.Form):
    password = forms.CharField(label=_("new password"), widget=SecretInput(), min_length=10)


class ApiTokenForm(forms.Form):
    owner = forms.ModelChoiceField(label=_("owner"), queryset=None, to_field_name="username")
    name = forms.CharField(label=_("name"), max_length=80, help_text=_("What the token is for"))
    scopes = forms.MultipleChoiceField(label=_("scopes"), widget=forms.CheckboxSelectMultiple,
                                       help_text=_("Only capabilities the owner's role has are accepted"))
    days = forms.IntegerField(label=_("days until it expires"), min_value=1, max_value=366, initial=90)

    def __init__(self, *args, **kwargs):
        from meterhub.accounts.models import User
        from meterhub.accounts.roles import ALL_CAPABILITIES

        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = User.objects.filter(is_active=True).order_by("username")
        self.fields["scopes"].choices = [(c, c) for c in sorted(ALL_CAPABILITIES)]
