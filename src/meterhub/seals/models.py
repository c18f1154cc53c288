"""Seals: stock and custody, signing keys, field inspections, investigations.

A seal's history is its `SealEvent` rows, append-only: `Seal.state`, `holder` and
where it is installed are the latest event's outcome, kept on the seal so lists are
cheap. Only `custody.py` changes them, always together with a new event.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from meterhub.alarms.models import Alarm
from meterhub.assets.models import Collector, Meter, Site
from meterhub.encryption import EncryptedTextField


class SealType(models.TextChoices):
    PLASTIC = "plastic", _("Plastic padlock seal")
    WIRE = "wire", _("Wire seal")
    LABEL = "label", _("Tamper-evident label")
    SMART = "smart", _("Smart seal (chip)")


class SealState(models.TextChoices):
    IN_STOCK = "in_stock", _("In stock")
    ISSUED = "issued", _("Issued to a technician")
    INSTALLED = "installed", _("Installed")
    REMOVED = "removed", _("Removed")
    RETURNED = "returned", _("Returned")
    DESTROYED = "destroyed", _("Destroyed")
    LOST = "lost", _("Lost")
    VOID = "void", _("Void / defective")
    FOREIGN = "foreign", _("Foreign (not ours)")


class Position(models.TextChoices):
    METER_COVER = "meter_cover", _("Meter cover")
    TERMINAL_COVER = "terminal_cover", _("Terminal cover")
    OPTICAL_PORT = "optical_port", _("Optical port")
    COLLECTOR = "collector", _("Collector")


class SealBatch(models.Model):
    reference = models.CharField(_("batch"), max_length=40, unique=True)
    seal_type = models.CharField(_("type"), max_length=10, choices=SealType.choices)
    prefix = models.CharField(_("serial prefix"), max_length=8, blank=True)
    first = models.PositiveIntegerField(_("first number"))
    last = models.PositiveIntegerField(_("last number"))
    digits = models.PositiveSmallIntegerField(_("digits"), default=6)
    supplier = models.CharField(_("supplier"), max_length=120, blank=True)
    received_at = models.DateTimeField(_("received"))
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                                    related_name="+")

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("seal batch")

    def __str__(self):
        return self.reference

    def serial(self, number: int) -> str:
        return f"{self.prefix}{number:0{self.digits}d}"


class Seal(models.Model):
    serial = models.CharField(_("seal number"), max_length=24, unique=True)
    batch = models.ForeignKey(SealBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="seals",
                              verbose_name=_("batch"))  # none for a foreign seal
    seal_type = models.CharField(_("type"), max_length=10, choices=SealType.choices)
    chip_asset = models.CharField(_("chip asset number"), max_length=32, blank=True,
                                  help_text=_("What the smart seal's chip reports as its asset number"))
    state = models.CharField(_("state"), max_length=10, choices=SealState.choices, db_index=True)
    holder = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="seals_held", verbose_name=_("technician"))
    meter = models.ForeignKey(Meter, null=True, blank=True, on_delete=models.PROTECT, related_name="seals",
                              verbose_name=_("meter"))
    collector = models.ForeignKey(Collector, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="seals", verbose_name=_("collector"))
    position = models.CharField(_("position"), max_length=16, choices=Position.choices, blank=True)
    code = models.CharField(_("seal code"), max_length=400, blank=True)
    updated_at = models.DateTimeField(_("last change"))

    class Meta:
        ordering = ["serial"]
        verbose_name = _("seal")
        indexes = [models.Index(fields=["meter", "state"]), models.Index(fields=["holder", "state"])]

    def __str__(self):
        return self.serial


class SealEvent(models.Model):
    """One custody transition. Append-only."""

    seal = models.ForeignKey(Seal, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(_("action"), max_length=16)
    from_state = models.CharField(_("from"), max_length=10, choices=SealState.choices, blank=True)
    to_state = models.CharField(_("to"), max_length=10, choices=SealState.choices)
    at = models.DateTimeField(_("time"), db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("by"))
    technician = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("technician"))
    meter = models.ForeignKey(Meter, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    collector = models.ForeignKey(Collector, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    position = models.CharField(_("position"), max_length=16, choices=Position.choices, blank=True)
    location = models.CharField(_("where"), max_length=200, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    photo = models.ForeignKey("Photo", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    job = models.CharField(_("work order"), max_length=60, blank=True)

    class Meta:
        ordering = ["seal", "at", "id"]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("seal events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("seal events are append-only")


class Photo(models.Model):
    """A photo taken in the field, kept in the database with the record it proves."""

    content_type = models.CharField(max_length=40)
    data = models.BinaryField()
    taken_at = models.DateTimeField(auto_now_add=True)
    taken_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    def delete(self, *args, **kwargs):
        raise ValueError("photos are evidence and are kept")


class SigningKey(models.Model):
    """An Ed25519 key. `seal` keys sign seal codes; the `list` key signs the published key list.

    A seal key signs from `not_before` until it is retired; codes it signed verify until
    `verify_until` (None: as long as the key is listed)."""

    class Purpose(models.TextChoices):
        SEAL = "seal", _("Seal codes")
        LIST = "list", _("Key list")

    kid = models.PositiveSmallIntegerField(_("key id"), unique=True)
    purpose = models.CharField(_("purpose"), max_length=4, choices=Purpose.choices)
    public_key = models.CharField(_("public key"), max_length=64)  # raw 32 bytes, base64url
    private_key = EncryptedTextField(_("private key"))  # raw 32 bytes, base64url, encrypted at rest
    created_at = models.DateTimeField(_("created"))
    not_before = models.DateTimeField(_("signs from"))
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)
    verify_until = models.DateTimeField(_("verifies until"), null=True, blank=True)

    class Meta:
        ordering = ["kid"]

    def __str__(self):
        return f"{self.get_purpose_display()} key {self.kid}"


class VerificationResult(models.Model):
    """A check made on a phone (possibly offline) or the CLI, uploaded afterwards."""

    client_id = models.CharField(max_length=64, unique=True)  # the phone's id: an upload repeated is stored once
    checked_at = models.DateTimeField(_("checked"))
    uploaded_at = models.DateTimeField(auto_now_add=True)
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("seal code"), max_length=400)
    meter_entered = models.CharField(_("meter number entered"), max_length=40, blank=True)
    verdict = models.CharField(_("verdict"), max_length=16)
    seal_serial = models.CharField(_("seal number"), max_length=24, blank=True)

    class Meta:
        ordering = ["-checked_at"]


class Inspection(models.Model):
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="inspections", verbose_name=_("meter"))
    technician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("technician"))
    at = models.DateTimeField(_("time"))
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        ordering = ["-at"]


class Finding(models.Model):
    class Condition(models.TextChoices):
        INTACT = "intact", _("Intact")
        BROKEN = "broken", _("Broken")
        MISSING = "missing", _("Missing")
        FOREIGN = "foreign", _("Foreign seal")
        MISMATCH = "mismatch", _("Code does not match")

    inspection = models.ForeignKey(Inspection, on_delete=models.PROTECT, related_name="findings")
    position = models.CharField(_("position"), max_length=16, choices=Position.choices)
    seal_serial = models.CharField(_("seal number found"), max_length=24, blank=True)
    code = models.CharField(_("scanned code"), max_length=400, blank=True)
    verdict = models.CharField(_("code check"), max_length=16, blank=True)
    condition = models.CharField(_("condition"), max_length=10, choices=Condition.choices)
    photo = models.ForeignKey(Photo, null=True, blank=True, on_delete=models.PROTECT, related_name="+")


class Case(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        INVESTIGATING = "investigating", _("Investigating")
        CLOSED = "closed", _("Closed")

    class Outcome(models.TextChoices):
        THEFT = "theft", _("Theft confirmed")
        AUTHORISED = "authorised", _("Authorised work")
        FALSE_ALARM = "false_alarm", _("False alarm")

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="cases", verbose_name=_("meter"))
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("case"), max_length=200)
    opened_at = models.DateTimeField(_("opened"))
    alarm = models.ForeignKey(Alarm, null=True, blank=True, on_delete=models.PROTECT, related_name="cases")
    inspection = models.ForeignKey(Inspection, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="cases")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", verbose_name=_("assigned to"))
    status = models.CharField(_("status"), max_length=14, choices=Status.choices, default=Status.OPEN)
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices, blank=True)
    unbilled_kwh = models.DecimalField(_("estimated unbilled energy (kWh)"), max_digits=14, decimal_places=2,
                                       null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        verbose_name = _("investigation")

    def __str__(self):
        return f"#{self.pk} {self.title}"


class CaseEntry(models.Model):
    """A note, a status change or a piece of evidence on a case. Append-only."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="entries")
    at = models.DateTimeField(_("time"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=16)  # note | status | evidence
    text = models.TextField(_("text"), blank=True)
    data = models.JSONField(default=dict, blank=True)
    photo = models.ForeignKey(Photo, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["at", "id"]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("case entries are append-only")
        super().save(*args, **kwargs)
