"""Payments: cash and card at the counter, online providers by signed webhook, refunds.

Every payment is one ledger entry (a recharge on a prepaid account, a payment on a
postpaid one) posted with an idempotency key: the counter form carries a one-time token
(a double click posts once), a provider notification is keyed by the provider's own
reference (the same notification three times credits once); the same reference for another
account or amount is refused and recorded for review (credit_reference, the one path of webhooks
and integrators' reports). A payment to a prepaid account that was cut off restores supply in the
same transaction (billing.prepaid).

Providers sit behind one interface (`Provider.verify(body, headers, now) -> Notification`).
The built-in one, `SignedJson`, checks the signature header

    X-Meterhub-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>

(compared in constant time, the time within five minutes against replays) on a JSON body
{"id", "account", "amount", "currency", "paid_at"} and, for an online order (billing.checkout),
"order": the order is marked paid in the same transaction as the credit. An adapter for a provider with its own
scheme (RSA-signed notifications and so on) implements the same method.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Protocol

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from meterhub.accounts import audit
from meterhub.accounts.models import AuditEntry
from meterhub.assets.models import Meter
from meterhub.billing import checkout, ledger, prepaid
from meterhub.billing.models import Account, LedgerEntry, Payment, PaymentProvider, WebhookLog
from meterhub.notifications import dispatch

SIGNATURE_HEADER = "X-Meterhub-Signature"
TOLERANCE = timedelta(minutes=5)


class PaymentError(ValueError):
    """A payment that cannot be taken, with the reason."""


class BadSignature(PaymentError):
    pass


@dataclass(frozen=True)
class Notification:
    external_id: str
    account_number: str
    amount: Decimal
    currency: str
    paid_at: datetime
    order: str = ""  # our order number (billing.checkout), when the payment was for an online order


class Provider(Protocol):
    code: str

    def verify(self, body: bytes, headers: Mapping[str, str], now: datetime) -> Notification: ...


def sign(secret: str, body: bytes, at: int) -> str:
    """The signature header value for `body` sent at unix time `at`."""
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


@dataclass(frozen=True)
class SignedJson:
    code: str
    secret: str

    def verify(self, body: bytes, headers: Mapping[str, str], now: datetime) -> Notification:
        header = headers.get(SIGNATURE_HEADER, "")
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        try:
            at = int(parts.get("t", ""))
        except ValueError:
            raise BadSignature("no signature") from None
        expected = sign(self.secret, body, at).split("v1=", 1)[1]
        if not hmac.compare_digest(expected.encode(), parts.get("v1", "").encode()):  # bytes: any header compares
            raise BadSignature("signature does not match")
        if abs(now.timestamp() - at) > TOLERANCE.total_seconds():
            raise BadSignature("signature too old (replay?)")
        try:
            data = json.loads(body)
            amount = Decimal(str(data["amount"]))
            paid_at = datetime.fromisoformat(data["paid_at"])
            notification = Notification(str(data["id"]), str(data["account"]), amount, str(data["currency"]),
                                        paid_at if paid_at.tzinfo else timezone.make_aware(paid_at),
                                        str(data.get("order") or ""))
        except (ValueError, KeyError, TypeError, InvalidOperation) as exc:
            raise PaymentError(f"malformed notification: {exc}") from None
        if not notification.external_id or len(notification.external_id) > 80:
            raise PaymentError("malformed notification: id")
        return notification


def provider_for(row: PaymentProvider) -> Provider:
    return SignedJson(row.code, row.secret)


def _receipt_no(at: datetime) -> str:
    return f"R{timezone.localtime(at):%Y%m%d}-{secrets.token_hex(4).upper()}"


@transaction.atomic
def take_payment(account: Account, amount: Decimal, *, method: str, operator=None, provider: PaymentProvider | None
                 = None, external_id: str = "", key: str | None = None, received_at: datetime | None = None,
                 note: str = "") -> Payment:
    """Credit `amount` to the account; returns the payment (the earlier one if `key` was used)."""
    if not isinstance(amount, Decimal) or amount <= 0 or amount != amount.quantize(ledger.CENT):
        raise PaymentError(f"a payment is a positive amount in cents, not {amount}")
    if method == Payment.Method.ONLINE and provider is None:
        raise PaymentError("an online payment names its provider")
    received_at = received_at or timezone.now()
    key = key or (f"pay:{provider.code}:{external_id}" if provider else f"pay:{secrets.token_hex(12)}")
    kind = LedgerEntry.Kind.RECHARGE if account.payment_mode == Meter.PaymentMode.PREPAID else LedgerEntry.Kind.PAYMENT
    source = f"webhook:{provider.code}" if provider else f"operator:{getattr(operator, 'username', '') or 'system'}"
    posted = ledger.post(account, kind, amount, key=key, source=source, at=received_at, reference=external_id,
                         memo=note[:200])
    if not posted.created:
        return Payment.objects.get(entry=posted.entry)
    payment = Payment.objects.create(account=account, method=method, provider=provider, external_id=external_id,
                                     amount=amount, received_at=received_at, operator=operator,
                                     receipt_no=_receipt_no(received_at), entry=posted.entry, note=note[:200])
    prepaid.enforce(account)  # restore supply as soon as the balance is back above the limit
    _publish("payment.credited", payment)
    return payment


class FormUsed(PaymentError):
    """A form's one-time token already took a payment or made a refund of another amount or to
    another account: the form was sent again after a change (the back button), not double-clicked."""

    def __init__(self, earlier: Payment):
        self.earlier = earlier
        super().__init__(_("this form already took payment %(receipt)s; open the account again to take another")
                         % {"receipt": earlier.receipt_no})


def take_counter_payment(account: Account, amount: Decimal, *, method: str, operator, token: str = "",
                         note: str = "") -> Payment:
    """A payment taken at the counter. The form's one-time token makes a double submit take it once;
    the same form sent again with another amount or for another account is refused (FormUsed), naming
    the receipt it took, so the operator opens the account again rather than meeting an error page."""
    if not token:
        return take_payment(account, amount, method=method, operator=operator, note=note)
    key = f"pay:form:{token}"
    try:
        with transaction.atomic():
            return take_payment(account, amount, method=method, operator=operator, key=key, note=note)
    except IntegrityError:  # ledger.post: the key was used for a different posting
        earlier = _credited(key)
        if earlier is None:
            raise
        raise FormUsed(earlier) from None


@transaction.atomic
def refund(payment: Payment, amount: Decimal, *, operator=None, key: str | None = None, note: str = "") -> Payment:
    """Pay back (part of) a payment: never more than what is left of it."""
    if payment.kind != Payment.Kind.PAYMENT:
        raise PaymentError("only a payment can be refunded")
    ledger.lock_accounts([payment.account_id])
    if key is not None and (earlier := _credited(key)) is not None:  # the form sent again
        if earlier.refund_of_id != payment.pk or earlier.amount != amount:
            raise FormUsed(earlier)
        return earlier
    refunded = ledger.cents(payment.refunds.aggregate(s=Sum("amount"))["s"])
    if not isinstance(amount, Decimal) or amount <= 0 or amount != amount.quantize(ledger.CENT):
        raise PaymentError(f"a refund is a positive amount in cents, not {amount}")
    if amount > payment.amount - refunded:
        raise PaymentError(f"at most {payment.amount - refunded} of this payment is left to refund")
    now = timezone.now()
    posted = ledger.post(payment.account, LedgerEntry.Kind.REFUND, -amount,
                         key=key or f"refund:{payment.pk}:{secrets.token_hex(8)}",
                         source=f"operator:{getattr(operator, 'username', '') or 'system'}", at=now,
                         reference=payment.receipt_no, memo=note[:200])
    if not posted.created:
        return Payment.objects.get(entry=posted.entry)
    made = Payment.objects.create(account=payment.account, kind=Payment.Kind.REFUND, method=payment.method,
                                  provider=payment.provider, amount=amount, received_at=now, operator=operator,
                                  receipt_no=_receipt_no(now), entry=posted.entry, refund_of=payment, note=note[:200])
    _publish("payment.refunded", made)
    return made


def describe(payment: Payment) -> dict:
    """A payment as integrators see it: the API's answer and the data of its webhook."""
    account = payment.account
    return {"id": payment.pk, "receipt_no": payment.receipt_no, "kind": payment.kind, "method": payment.method,
            "account_id": account.pk, "account": account.number, "site": account.site.code,
            "amount": payment.amount, "currency": account.site.currency, "received_at": payment.received_at,
            "provider": payment.provider.code if payment.provider_id else None, "reference": payment.external_id,
            "operator": payment.operator.username if payment.operator_id else None,
            "refund_of": payment.refund_of_id, "note": payment.note}


def _publish(event: str, payment: Payment) -> None:
    """Tell subscribed integrators, in the payment's transaction (it commits with the payment or not at all).
    The account's balance and supply are as they stand after the payment (and any restore it queued)."""
    account = payment.account
    data = describe(payment) | {"balance": account.balance, "supply": account.supply}
    dispatch.publish(event, data, site=account.site)


# --- payments with an outside reference: a provider's notification, an integrator's report ----

CLOCK_SKEW = timedelta(minutes=5)  # a sender's clock may run this far ahead of ours
REFUSED = "payment_reference_refused"  # the audit action of a reference refused for another account or amount


class ReferenceReused(PaymentError):
    """The reference was credited before to another account or with another amount: nothing is credited.
    The message names what differs but not the other account (its number and amount are for finance,
    in the audit log, not for whoever sent the reference)."""

    def __init__(self, reference: str, earlier: Payment, account: Account, amount: Decimal):
        self.reference, self.earlier, self.account, self.amount = reference, earlier, account, amount
        if earlier.account_id != account.pk:
            what = "to another account"
        else:
            what = f"to this account as {earlier.amount}, not {amount}"
        super().__init__(f"reference {reference} was credited before {what}: refused, nothing credited, "
                         f"recorded for review")


def _credited(key: str) -> Payment | None:
    return Payment.objects.select_related("account__site").filter(entry__key=key).first()


def _same_payment(earlier: Payment, account: Account, amount: Decimal, reference: str) -> Payment:
    if earlier.account_id != account.pk or earlier.amount != amount:
        raise ReferenceReused(reference, earlier, account, amount)
    return earlier


def credit_reference(account: Account, amount: Decimal, *, reference: str, key: str, method: str,
                     provider: PaymentProvider | None = None, operator=None, received_at: datetime | None = None,
                     note: str = "", order: str = "", sender: str,
                     then: Callable[[Payment], None] | None = None) -> tuple[Payment, bool]:
    """Credit a payment known by an outside reference once: the one path of a provider's webhook
    (handle_webhook) and an integrator's report (record_external). `key` is the reference's ledger key.

    Under the account's row lock, the payment the key credited before answers a repeat: the same account
    and amount return it and False, crediting nothing. Another account or another amount is a provider's
    error or fraud, not a repeat: ReferenceReused, nothing credited, and the attempt is recorded for review
    (audit `payment_reference_refused`, written after the refused transaction is rolled back, so it stays
    unless the caller's own transaction is rolled back too). Two credits of one reference to two accounts
    at once: the second's ledger insert waits for the first's commit, fails on the unique key and is
    refused the same way. `order` (an online order's number, billing.checkout) is checked and marked paid
    in the same transaction, and `then(payment)` runs there for a new credit. `sender` names who sent it
    in the record (`webhook:paynow`, `api`)."""
    try:
        with transaction.atomic():
            ledger.lock_accounts([account.pk])  # one credit per account at a time decides "first"
            earlier = _credited(key)
            if earlier is not None:
                _same_payment(earlier, account, amount, reference)
            paying = checkout.order_for_payment(provider, order, account, amount, account.site.currency,
                                                reference) if order else None
            if earlier is None:
                try:
                    with transaction.atomic():
                        payment = take_payment(account, amount, method=method, operator=operator,
                                               provider=provider, external_id=reference, key=key,
                                               received_at=received_at, note=note)
                except IntegrityError:  # the same key, committed meanwhile for another account
                    earlier = _credited(key)
                    if earlier is None:
                        raise
                    _same_payment(earlier, account, amount, reference)
            if earlier is not None:
                payment = earlier
            if paying is not None:
                checkout.mark_paid(paying, payment)
            if earlier is None and then is not None:
                then(payment)
            return payment, earlier is None
    except ReferenceReused as exc:
        _record_refusal(exc, sender=sender, operator=operator)
        raise


def _record_refusal(exc: ReferenceReused, *, sender: str, operator) -> None:
    """The audit entry finance reviews (reconciliation.daily lists them): on the payment credited first,
    with what was credited then and what was tried now (each as [then, now]). Once per attempt: a sender
    retrying the same account and amount after its 409 adds nothing (a webhook's retries are each in the
    webhook log). Under the tried account's lock, so two identical retries at once record one entry."""
    earlier, account = exc.earlier, exc.account
    changes = {"reference": [exc.reference, exc.reference], "account": [earlier.account.number, account.number],
               "amount": [str(earlier.amount), str(exc.amount)], "sender": [None, sender],
               "site": [earlier.account.site.code, account.site.code]}
    if operator is not None:
        item = audit.entry(REFUSED, earlier, changes, actor=operator)
    else:
        item = audit.entry(REFUSED, earlier, changes, actor_name=sender)
    with transaction.atomic():
        ledger.lock_accounts([account.pk])
        recorded = AuditEntry.objects.filter(  # the payment credited first stands for the reference
            action=REFUSED, object_type=item.object_type, object_id=item.object_id, actor_name=item.actor_name,
            changes__account__1=account.number, changes__amount__1=str(exc.amount), changes__sender__1=sender)
        if not recorded.exists():
            item.save()


def record_external(account: Account, amount: Decimal, *, reference: str, operator, method: str = Payment.Method.CASH,
                    provider: PaymentProvider | None = None, currency: str | None = None,
                    received_at: datetime | None = None, note: str = "") -> tuple[Payment, bool]:
    """A payment an integrator reports (a bank counter, a property system), credited once per reference.

    The reference is the idempotency key, per provider (the key its signed webhooks use, so the two
    paths credit once between them) or else per operator (a token's owner). The same reference
    again returns the first payment and False; with another account or amount it is refused and
    recorded (credit_reference)."""
    if not reference or len(reference) > 80 or not reference.isprintable():
        raise PaymentError("the reference is 1 to 80 printable characters")
    if method not in Payment.Method.values:
        raise PaymentError(f"method is one of {', '.join(Payment.Method.values)}, not {method}")
    if currency is not None and currency != account.site.currency:
        raise PaymentError(f"currency {currency}, the account is in {account.site.currency}")
    if received_at is not None and received_at > timezone.now() + CLOCK_SKEW:
        raise PaymentError("received_at is in the future")
    key = f"pay:{provider.code}:{reference}" if provider else f"pay:api:{operator.pk}:{reference}"
    if len(key) > LedgerEntry._meta.get_field("key").max_length:
        raise PaymentError("the reference is too long")

    def reported(payment: Payment) -> None:
        audit.record("payment_reported", payment, {"account": [None, account.number], "amount": [None, str(amount)],
                                                   "reference": [None, reference], "method": [None, method]},
                     actor=operator)

    return credit_reference(account, amount, reference=reference, key=key, method=method, provider=provider,
                            operator=operator, received_at=received_at, note=note, sender="api", then=reported)


# --- webhooks -------------------------------------------------------------------------------

@dataclass(frozen=True)
class WebhookResult:
    status: int  # HTTP status to answer: 200 credited or duplicate, 400 refused, 404 unknown provider,
    # 409 the reference was credited before to another account or amount
    outcome: str
    payment: Payment | None = None


def handle_webhook(provider_code: str, body: bytes, headers: Mapping[str, str], *, remote_addr: str = "",
                   now: datetime | None = None) -> WebhookResult:
    """Verify, then credit once. Every notification is logged with what became of it."""
    now = now or timezone.now()
    log = WebhookLog(provider=provider_code[:40], body=body[:4000].decode("utf-8", "replace"),
                     remote_addr=remote_addr[:64], received_at=now)
    row = PaymentProvider.objects.filter(code=provider_code, enabled=True).first()
    if row is None:
        log.outcome, log.reason = WebhookLog.Outcome.REJECTED, "unknown or disabled provider"
        log.save()
        return WebhookResult(404, log.outcome)
    try:
        notification = provider_for(row).verify(body, headers, now)
        log.external_id = notification.external_id
        account = Account.objects.select_related("site").filter(number=notification.account_number).first()
        if account is None:
            raise PaymentError(f"no account {notification.account_number}")
        if notification.currency != account.site.currency:
            raise PaymentError(f"currency {notification.currency}, the account is in {account.site.currency}")
        payment, created = credit_reference(
            account, notification.amount, reference=notification.external_id,
            key=f"pay:{row.code}:{notification.external_id}", method=Payment.Method.ONLINE, provider=row,
            received_at=notification.paid_at, note=f"order {notification.order}" if notification.order else "",
            order=notification.order, sender=f"webhook:{row.code}")
        log.outcome = WebhookLog.Outcome.CREDITED if created else WebhookLog.Outcome.DUPLICATE
        log.save()
        return WebhookResult(200, log.outcome, payment)
    except BadSignature as exc:
        log.outcome, log.reason = WebhookLog.Outcome.BAD_SIGNATURE, str(exc)[:200]
    except ReferenceReused as exc:
        log.outcome, log.reason = WebhookLog.Outcome.REUSED, str(exc)[:200]
        log.save()
        return WebhookResult(409, log.outcome)
    except (PaymentError, checkout.CheckoutError) as exc:
        log.outcome, log.reason = WebhookLog.Outcome.REJECTED, str(exc)[:200]
    log.save()
    return WebhookResult(400, log.outcome)
