"""Billing tables: tariffs, accounts, the append-only ledger, bills, prepaid state, payments.

Money is `Decimal` in the database and in Python, never a float. The ledger is the
truth: an account's balance is the sum of its entries (`Account.balance` is a cache
written in the same transaction as the entries, under the account's row lock, and a
test checks it). Entries are never updated or deleted; a mistake is corrected by
another entry. Positive amounts are the customer's money (recharges, payments),
negative ones what they owe (charges, bills, refunds paid out, late fees).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from meterhub.assets.models import Customer, Meter, MeterKind, Premise, Site
from meterhub.encryption import EncryptedTextField

MONEY = {"max_digits": 14, "decimal_places": 2}
VOLUME = {"max_digits": 20, "decimal_places": 6}
PRICE = {"max_digits": 14, "decimal_places": 6}


def default_thresholds():
    return ["50", "20"]


class BillingSettings(models.Model):
    """Per site: when to settle, when bills fall due, late fees, and the humane cut-off rules."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="billing_settings")
    settlement_day = models.PositiveSmallIntegerField(
        _("settlement day"), default=1, validators=[MinValueValidator(1), MaxValueValidator(28)],
        help_text=_("Day of the month a billing period starts and the previous one is settled"))
    due_days = models.PositiveSmallIntegerField(_("days until due"), default=15)
    late_fee_percent = models.DecimalField(_("late fee (% of the overdue amount)"), max_digits=5, decimal_places=2,
                                           default=Decimal(0))
    late_fee_grace_days = models.PositiveSmallIntegerField(_("late fee grace days"), default=0)
    low_balance_thresholds = models.JSONField(_("low-balance warnings at"), default=default_thresholds)
    quiet_from = models.TimeField(_("no cut-off from"), default="18:00")
    quiet_until = models.TimeField(_("no cut-off until"), default="08:00")
    no_cutoff_weekends = models.BooleanField(_("no cut-off at weekends"), default=True)
    no_cutoff_holidays = models.BooleanField(_("no cut-off on holidays"), default=True)

    def clean(self):
        try:
            [Decimal(str(t)) for t in self.low_balance_thresholds]
        except Exception as exc:
            raise ValidationError(_("Low-balance thresholds are a list of amounts")) from exc


class Holiday(models.Model):
    """A public holiday at a site: a rest-day for time-of-use tariffs, and no cut-offs."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="holidays")
    day = models.DateField(_("day"))
    name = models.CharField(_("name"), max_length=80, blank=True)

    class Meta:
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["site", "day"], name="one_holiday_per_site_day")]


class Tariff(models.Model):
    """One version of a price plan, in force for local days [valid_from, valid_to).

    `definition` is validated and priced by billing.tariffs (flat, tiered, time-of-use,
    combinations, seasons, standing charge). A blank customer class applies to every
    class that has no tariff of its own on that day.
    """

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="tariffs")
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=120)
    utility = models.CharField(_("utility"), max_length=20, choices=MeterKind.choices)
    customer_class = models.CharField(_("customer class"), max_length=20, blank=True,
                                      choices=Customer.CustomerClass.choices)
    valid_from = models.DateField(_("from"))
    valid_to = models.DateField(_("until"), null=True, blank=True)
    definition = models.JSONField(_("definition"))

    class Meta:
        ordering = ["site", "utility", "customer_class", "valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["site", "utility", "customer_class", "valid_from"],
                                    name="one_tariff_version_per_day"),
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                                   name="tariff_period_positive"),
        ]

    def __str__(self):
        return f"{self.name} ({self.valid_from})"

    def clean(self):
        from meterhub.billing import tariffs

        try:
            tariffs.parse(self.definition)
        except tariffs.TariffError as exc:
            raise ValidationError({"definition": str(exc)}) from exc


class Account(models.Model):
    """What a customer owes or holds for one utility at one premise (one tenancy, one meter)."""

    class Supply(models.TextChoices):
        ON = "on", _("Supplied")
        OFF = "off", _("Cut off")

    number = models.CharField(_("account"), max_length=32, unique=True)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="billing_accounts")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="billing_accounts")
    premise = models.ForeignKey(Premise, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="billing_accounts")
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="billing_accounts")
    utility = models.CharField(_("utility"), max_length=20, choices=MeterKind.choices)
    payment_mode = models.CharField(_("payment"), max_length=10, choices=Meter.PaymentMode.choices)
    credit_limit = models.DecimalField(_("credit limit"), **MONEY, default=Decimal(0),
                                       validators=[MinValueValidator(Decimal(0))],
                                       help_text=_("How far below zero a prepaid balance may go before cut-off"))
    vulnerable = models.BooleanField(_("vulnerable (never cut off automatically)"), default=False)
    opened_on = models.DateField(_("opened"))
    closed_on = models.DateField(_("closed"), null=True, blank=True)
    balance = models.DecimalField(_("balance"), **MONEY, default=Decimal(0))  # = sum of ledger entries
    supply = models.CharField(_("supply"), max_length=4, choices=Supply.choices, default=Supply.ON)

    class Meta:
        ordering = ["number"]
        indexes = [models.Index(fields=["site", "payment_mode"]), models.Index(fields=["meter"])]

    def __str__(self):
        return self.number

    @property
    def currency(self) -> str:
        return self.site.currency


class LedgerEntry(models.Model):
    """One movement of money on an account. Append-only (see the module docstring)."""

    class Kind(models.TextChoices):
        RECHARGE = "recharge", _("Recharge")
        PAYMENT = "payment", _("Payment")
        CONSUMPTION = "consumption", _("Consumption charge")
        STANDING = "standing", _("Standing charge")
        BILL = "bill", _("Bill")
        REFUND = "refund", _("Refund")
        CORRECTION = "correction", _("Correction")
        LATE_FEE = "late_fee", _("Late fee")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    at = models.DateTimeField(_("time"), default=timezone.now)
    source = models.CharField(_("source"), max_length=60)  # "operator:alice", "webhook:alipay", "bill-run", "prepaid"
    key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    reference = models.CharField(_("reference"), max_length=60, blank=True)
    memo = models.CharField(_("memo"), max_length=200, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["account", "at"]), models.Index(fields=["kind", "at"])]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("ledger entries are append-only: post a correction instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("ledger entries are append-only: post a correction instead")


class BillRun(models.Model):
    """One attempt at settling a site's period; a re-run after a crash is another row."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="bill_runs")
    period = models.CharField(_("period"), max_length=7)  # "2026-11"
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    accounts = models.PositiveIntegerField(_("accounts"), default=0)
    billed = models.PositiveIntegerField(_("billed"), default=0)
    already_billed = models.PositiveIntegerField(_("already billed"), default=0)
    problems = models.JSONField(_("problems"), default=list, blank=True)
    started_by = models.CharField(_("started by"), max_length=150, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]


class Bill(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="bills")
    period = models.CharField(_("period"), max_length=7)
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("until"))  # exclusive
    issued_on = models.DateField(_("issued"))
    due_on = models.DateField(_("due"))
    opening_balance = models.DecimalField(_("balance brought forward"), **MONEY)
    charges = models.DecimalField(_("charges this period"), **MONEY)
    closing_balance = models.DecimalField(_("balance"), **MONEY)
    amount_due = models.DecimalField(_("amount due"), **MONEY)
    volume = models.DecimalField(_("consumption"), **VOLUME, default=Decimal(0))
    reads = models.JSONField(_("settlement reads"), default=dict)  # {quantity: [opening, closing]}
    estimated = models.BooleanField(_("estimated reads"), default=False)
    late_fee_charged = models.BooleanField(default=False)
    run = models.ForeignKey(BillRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="bills")

    class Meta:
        ordering = ["-period", "account"]
        constraints = [models.UniqueConstraint(fields=["account", "period"], name="one_bill_per_account_period")]
        indexes = [models.Index(fields=["period"])]

    def __str__(self):
        return f"{self.account} {self.period}"


class BillLine(models.Model):
    bill = models.ForeignKey(Bill, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=40)  # "energy:peak", "tier:2", "standing", "prepaid:consumption"
    quantity = models.DecimalField(**VOLUME)
    unit = models.CharField(max_length=12)
    unit_price = models.DecimalField(**PRICE)
    amount = models.DecimalField(**MONEY)
    valid_from = models.DateField(null=True)  # the tariff version's part of the period, when prorated

    class Meta:
        ordering = ["bill", "position"]


class Reminder(models.Model):
    """A bill is overdue: recorded here; issue 9's notifications send it."""

    bill = models.ForeignKey(Bill, on_delete=models.CASCADE, related_name="reminders")
    stage = models.PositiveSmallIntegerField(default=1)
    at = models.DateTimeField(default=timezone.now)
    amount_due = models.DecimalField(**MONEY)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bill", "stage"], name="one_reminder_per_stage")]


class PrepaidCursor(models.Model):
    """How far a prepaid account's consumption has been charged: the last charged reads,
    and this month's volume and exact (unrounded) amount, so each register interval is
    charged once and rounding never drifts (each charge = round(exact so far) - charged so far)."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="cursor", primary_key=True)
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT)
    last_ts = models.DateTimeField()
    registers = models.JSONField(default=dict)  # {quantity: "value"} at last_ts
    month = models.CharField(max_length=7)
    month_volume = models.DecimalField(**VOLUME, default=Decimal(0))
    month_exact = models.DecimalField(max_digits=30, decimal_places=12, default=Decimal(0))
    month_charged = models.DecimalField(**MONEY, default=Decimal(0))


class BalanceAlert(models.Model):
    """A prepaid balance fell below a warning threshold (a domain event for notifications)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="alerts")
    threshold = models.DecimalField(**MONEY)
    balance = models.DecimalField(**MONEY)
    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at"]
        constraints = [models.UniqueConstraint(fields=["entry", "threshold"], name="one_alert_per_crossing")]


class SupplyAction(models.Model):
    """Every automatic cut-off and restore, and every cut-off held back (and why)."""

    class Action(models.TextChoices):
        CUT = "cut", _("Cut off")
        RESTORE = "restore", _("Restored")
        HELD = "held", _("Cut-off held back")
        FAILED = "failed", _("Could not queue")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="supply_actions")
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    command = models.ForeignKey("comms.Command", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    balance = models.DecimalField(_("balance"), **MONEY)
    reason = models.CharField(_("reason"), max_length=200)
    at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]


class PaymentProvider(models.Model):
    """An online payment service. Its webhook is /billing/webhooks/<code>/, signed with `secret`.

    Online recharge orders (billing.checkout) send the payer to the provider's hosted page:
    `checkout_url` with {order}, {amount}, {currency} and {return} filled in, or, for a
    sandbox provider, meterhub's own page that pretends to be the provider (no real money)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)
    secret = EncryptedTextField(_("signing secret"))
    enabled = models.BooleanField(_("enabled"), default=True)
    sandbox = models.BooleanField(_("sandbox (simulated payments, never real money)"), default=False)
    checkout_url = models.CharField(_("payment page"), max_length=300, blank=True,
                                    help_text=_("The provider's hosted payment page, with {order}, {amount}, "
                                                "{currency} and {return} where the order's values go"))

    def __str__(self):
        return self.name


class Payment(models.Model):
    class Kind(models.TextChoices):
        PAYMENT = "payment", _("Payment")
        REFUND = "refund", _("Refund")

    class Method(models.TextChoices):
        CASH = "cash", _("Cash")
        POS = "pos", _("Card (POS)")
        ONLINE = "online", _("Online")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.PAYMENT)
    method = models.CharField(_("method"), max_length=8, choices=Method.choices)
    provider = models.ForeignKey(PaymentProvider, null=True, blank=True, on_delete=models.PROTECT)
    external_id = models.CharField(_("provider reference"), max_length=80, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY, validators=[MinValueValidator(Decimal("0.01"))])
    received_at = models.DateTimeField(_("time"), default=timezone.now)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    receipt_no = models.CharField(_("receipt"), max_length=40, unique=True)
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="payment")
    refund_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds")
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["provider", "external_id"], condition=~Q(external_id=""),
                                               name="one_payment_per_provider_reference")]


class WebhookLog(models.Model):
    """Every notification a provider sent, whatever became of it."""

    class Outcome(models.TextChoices):
        CREDITED = "credited", _("Credited")
        DUPLICATE = "duplicate", _("Already credited")
        BAD_SIGNATURE = "bad_signature", _("Bad signature")
        REJECTED = "rejected", _("Rejected")
        REUSED = "reused", _("Reference reused")  # credited before to another account or amount: refused

    provider = models.CharField(_("provider"), max_length=40)
    received_at = models.DateTimeField(_("time"), default=timezone.now)
    outcome = models.CharField(_("outcome"), max_length=14, choices=Outcome.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    external_id = models.CharField(_("provider reference"), max_length=80, blank=True)
    body = models.TextField(blank=True)
    remote_addr = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]


class PaymentOrder(models.Model):
    """An online recharge a customer started (portal, kiosk or API): the amount asked for, the
    provider to pay, and the payment it produced when the provider's signed webhook arrived
    (billing.checkout). The number is unguessable: it addresses the provider's page."""

    class Channel(models.TextChoices):
        PORTAL = "portal", _("Customer portal")
        KIOSK = "kiosk", _("Self-service terminal")
        API = "api", _("API")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for payment")
        PAID = "paid", _("Paid")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(_("order"), max_length=40, unique=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="payment_orders")
    provider = models.ForeignKey(PaymentProvider, on_delete=models.PROTECT, related_name="orders")
    amount = models.DecimalField(_("amount"), **MONEY, validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField(_("currency"), max_length=3)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    payment = models.OneToOneField(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="order")
    return_url = models.CharField(max_length=300, blank=True)  # where the provider's page sends the payer back
    requested_by = models.CharField(_("requested by"), max_length=80, blank=True)  # "portal:138****0001"

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "created_at"]), models.Index(fields=["status", "expires_at"])]

    def __str__(self):
        return self.number
