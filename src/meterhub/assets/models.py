"""Asset registry tables.

History that auditors and billing need (which meter hung at which premise, which
customer lived there) is kept as effective-dated rows: a row is closed by setting
`valid_to`, never deleted. `valid_to` is exclusive; NULL means "still so".
"""

from __future__ import annotations

import zoneinfo
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from meterhub.encryption import EncryptedTextField


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(tz)s is not an IANA time zone (e.g. Asia/Shanghai)"), params={"tz": value})


def validate_currency(value: str) -> None:
    if len(value) != 3 or not value.isalpha() or not value.isupper():
        raise ValidationError(_("Currency is a 3-letter ISO 4217 code such as CNY"))


class Site(models.Model):
    """A place run as one: a residential compound, a mall, a campus, a utility district."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai",
                                 validators=[validate_time_zone])
    currency = models.CharField(_("currency"), max_length=3, default="CNY", validators=[validate_currency])
    address = models.CharField(_("address"), max_length=250, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("site")

    def __str__(self):
        return self.name


class Building(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="buildings", verbose_name=_("site"))
    code = models.CharField(_("building"), max_length=40)
    name = models.CharField(_("name"), max_length=120, blank=True)

    class Meta:
        ordering = ["site", "code"]
        constraints = [models.UniqueConstraint(fields=["site", "code"], name="building_code_per_site")]
        verbose_name = _("building")

    def __str__(self):
        return self.name or self.code


class Premise(models.Model):
    """A supply point: an apartment, a shop unit, a plant room. Meters serve premises."""

    class Kind(models.TextChoices):
        RESIDENTIAL = "residential", _("Residential")
        COMMERCIAL = "commercial", _("Commercial")
        INDUSTRIAL = "industrial", _("Industrial")
        COMMON = "common", _("Common area")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="premises", verbose_name=_("site"))
    building = models.ForeignKey(Building, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="premises", verbose_name=_("building"))
    unit = models.CharField(_("unit / room"), max_length=40)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.RESIDENTIAL)
    address = models.CharField(_("address"), max_length=250, blank=True)

    class Meta:
        ordering = ["site", "building__code", "unit"]
        constraints = [
            models.UniqueConstraint(fields=["site", "building", "unit"], name="premise_unit_per_building"),
        ]
        verbose_name = _("premise")

    def __str__(self):
        return f"{self.building.code}-{self.unit}" if self.building_id else self.unit


class Customer(models.Model):
    class CustomerClass(models.TextChoices):
        RESIDENTIAL = "residential", _("Residential")
        COMMERCIAL = "commercial", _("Commercial")
        INDUSTRIAL = "industrial", _("Industrial")
        PUBLIC = "public", _("Public service")

    account_no = models.CharField(_("account number"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=120)
    customer_class = models.CharField(_("customer class"), max_length=20, choices=CustomerClass.choices,
                                      default=CustomerClass.RESIDENTIAL)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    id_number = EncryptedTextField(_("ID number"), blank=True)  # personal data: encrypted at rest
    language = models.CharField(_("language"), max_length=10, default="zh-hans",
                                choices=[("zh-hans", "简体中文"), ("en", "English")])
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account_no"]
        verbose_name = _("customer")

    def __str__(self):
        return f"{self.account_no} {self.name}"


class Transport(models.TextChoices):
    DIAL_IN_TCP = "dialin_tcp", _("Dial-in TCP (collector connects to us)")
    DIAL_OUT_TCP = "dialout_tcp", _("Dial-out TCP (we connect to the collector)")
    SERIAL = "serial", _("Local serial port")
    MQTT = "mqtt", _("MQTT gateway")


class Collector(models.Model):
    """A data collector / DTU: one or more RS-485 or M-Bus buses behind one link."""

    code = models.CharField(_("collector id"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120, blank=True)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="collectors", verbose_name=_("site"))
    transport = models.CharField(_("transport"), max_length=20, choices=Transport.choices,
                                 default=Transport.DIAL_IN_TCP)
    # What a dial-in collector sends first (its registration packet), or the MQTT client/topic id.
    registration_id = models.CharField(_("registration id"), max_length=64, unique=True)
    host = models.CharField(_("host"), max_length=120, blank=True, help_text=_("Dial-out only"))
    port = models.PositiveIntegerField(_("port"), null=True, blank=True,
                                       validators=[MinValueValidator(1), MaxValueValidator(65535)])
    serial_device = models.CharField(_("serial device"), max_length=120, blank=True)
    model = models.CharField(_("model"), max_length=80, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("collector")

    def __str__(self):
        return self.code

    def clean(self):
        if self.transport == Transport.DIAL_OUT_TCP and not (self.host and self.port):
            raise ValidationError(_("A dial-out collector needs a host and a port"))
        if self.transport == Transport.SERIAL and not self.serial_device:
            raise ValidationError(_("A serial collector needs a serial device such as /dev/ttyUSB0"))


class MeterKind(models.TextChoices):
    ELECTRICITY = "electricity", _("Electricity")
    WATER = "water", _("Water")
    GAS = "gas", _("Gas")


class Protocol(models.TextChoices):
    DLT645_2007 = "dlt645_2007", "DL/T 645-2007"
    DLT645_1997 = "dlt645_1997", "DL/T 645-1997"
    MBUS = "mbus", "M-Bus"
    GLOW_MQTT = "glow_mqtt", "Glow MQTT"


class Meter(models.Model):
    class Phase(models.TextChoices):
        SINGLE = "single", _("Single phase")
        THREE = "three", _("Three phase")

    class PaymentMode(models.TextChoices):
        POSTPAID = "postpaid", _("Postpaid")
        PREPAID = "prepaid", _("Prepaid")

    class Switch(models.TextChoices):
        NONE = "none", _("None")
        RELAY = "relay", _("Relay")
        VALVE = "valve", _("Valve")

    serial = models.CharField(_("meter number"), max_length=40, unique=True)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="meters", verbose_name=_("site"))
    kind = models.CharField(_("kind"), max_length=20, choices=MeterKind.choices, default=MeterKind.ELECTRICITY)
    protocol = models.CharField(_("protocol"), max_length=20, choices=Protocol.choices,
                                default=Protocol.DLT645_2007)
    address = models.CharField(_("address"), max_length=40)
    collector = models.ForeignKey(Collector, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="meters", verbose_name=_("collector"))
    bus_port = models.PositiveSmallIntegerField(_("bus port"), default=1,
                                                help_text=_("The collector's RS-485 / M-Bus port"))
    baud_rate = models.PositiveIntegerField(_("baud rate"), default=2400,
                                            choices=[(b, str(b)) for b in (300, 1200, 2400, 4800, 9600)])
    phase = models.CharField(_("phase"), max_length=10, choices=Phase.choices, default=Phase.SINGLE)
    ct_ratio = models.DecimalField(_("CT ratio"), max_digits=10, decimal_places=2, default=Decimal(1),
                                   validators=[MinValueValidator(Decimal("0.01"))])
    pt_ratio = models.DecimalField(_("PT ratio"), max_digits=10, decimal_places=2, default=Decimal(1),
                                   validators=[MinValueValidator(Decimal("0.01"))])
    model = models.CharField(_("model"), max_length=80, blank=True)
    payment_mode = models.CharField(_("payment"), max_length=10, choices=PaymentMode.choices,
                                    default=PaymentMode.POSTPAID)
    switch = models.CharField(_("relay / valve"), max_length=10, choices=Switch.choices, default=Switch.NONE)
    password = EncryptedTextField(_("protocol password"), blank=True)
    operator_code = EncryptedTextField(_("operator code"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["serial"]
        constraints = [
            # Two meters with one address on one bus cannot both be read.
            models.UniqueConstraint(fields=["collector", "bus_port", "protocol", "address"],
                                    name="meter_address_per_bus"),
        ]
        indexes = [models.Index(fields=["protocol", "address"])]
        verbose_name = _("meter")

    def __str__(self):
        return self.serial

    @property
    def multiplier(self) -> Decimal:
        """CT x PT: register value times this is the primary-side quantity."""
        return self.ct_ratio * self.pt_ratio

    @property
    def multiplier_display(self) -> str:
        return format(self.multiplier.normalize(), "f")  # 50, 0.5 (not 50.0000, 5E+1)


class EffectiveDated(models.Model):
    valid_from = models.DateTimeField(_("from"))
    valid_to = models.DateTimeField(_("until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    @property
    def current(self) -> bool:
        return self.valid_to is None


class MeterInstallation(EffectiveDated):
    """Meter M served premise P from..until. A meter exchange closes one row and opens another."""

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="installations")
    premise = models.ForeignKey(Premise, on_delete=models.PROTECT, related_name="installations")

    class Meta:
        ordering = ["-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["meter"], condition=Q(valid_to__isnull=True),
                                    name="one_open_installation_per_meter"),
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                                   name="installation_period_positive"),
        ]


class Tenancy(EffectiveDated):
    """Customer C was responsible for premise P from..until (move-in to move-out)."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="tenancies")
    premise = models.ForeignKey(Premise, on_delete=models.PROTECT, related_name="tenancies")

    class Meta:
        ordering = ["-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["premise"], condition=Q(valid_to__isnull=True),
                                    name="one_open_tenancy_per_premise"),
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                                   name="tenancy_period_positive"),
        ]
