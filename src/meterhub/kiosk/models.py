"""Self-service terminals (kiosks) and the lookups made at them.

A `Terminal` is a device in a public place (an office lobby, a building's entrance) that
customers use without signing in. It proves itself with a key issued in the console and
shown once; only the key's SHA-256 is stored (kiosk.keys). Pairing the device with that key
gives it a signed cookie bound to the terminal and to the key: rotating the key unpairs
the device, disabling the terminal puts it out of service at its next request.
Every account lookup at a terminal is a `Lookup` row: for the lookup limits (no walking
through account numbers at a public screen) and for the record.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from meterhub.assets.models import Site
from meterhub.billing.models import Account

CODE = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9_-]*$", _("Letters, digits, - and _ only."))


class Terminal(models.Model):
    code = models.CharField(_("terminal code"), max_length=20, unique=True, validators=[CODE],
                            help_text=_("Typed when pairing the device; cannot be changed later"))
    name = models.CharField(_("name"), max_length=80)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="terminals", verbose_name=_("site"))
    location = models.CharField(_("location"), max_length=120, blank=True,
                                help_text=_("Where it stands, for the field staff and on receipts"))
    language = models.CharField(_("start language"), max_length=10, choices=settings.LANGUAGES,
                                default="zh-hans", help_text=_("Each customer starts in this language"))
    enabled = models.BooleanField(_("enabled"), default=True)
    key_hash = models.CharField(max_length=64)  # SHA-256 of the normalised key (kiosk.keys)
    key_issued_at = models.DateTimeField(_("key issued"), default=timezone.now)
    pair_failures = models.PositiveSmallIntegerField(default=0)  # wrong keys since the last pairing
    pair_locked_until = models.DateTimeField(null=True, blank=True)
    paired_at = models.DateTimeField(_("paired"), null=True, blank=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    last_seen_ip = models.GenericIPAddressField(_("last seen from"), null=True, blank=True)
    app_version = models.CharField(_("app version"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("registered"), default=timezone.now)

    class Meta:
        ordering = ["code"]
        verbose_name = _("self-service terminal")

    def __str__(self):
        return f"{self.code} {self.name}"

    @property
    def audit_name(self) -> str:
        """How the audit log, commands and orders name what this terminal did."""
        return f"kiosk:{self.code}"


class Lookup(models.Model):
    """One account lookup at a terminal: what was typed (as account or meter number) and what it found."""

    class By(models.TextChoices):
        ACCOUNT = "account", _("Account number")
        METER = "meter", _("Meter number")

    terminal = models.ForeignKey(Terminal, on_delete=models.CASCADE, related_name="lookups")
    at = models.DateTimeField(default=timezone.now)
    typed = models.CharField(max_length=40)
    by = models.CharField(max_length=8, choices=By.choices, blank=True)  # how it matched; blank: not found
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    refused = models.BooleanField(default=False)  # over the terminal's lookup limits: not even looked for

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["terminal", "at"])]

    @property
    def found(self) -> bool:
        return bool(self.by)
