"""Payments: cash and card at the counter, online providers by signed webhook, refunds.

Every payment is one ledger entry (a recharge on a prepaid account, a payment on a
postpaid one) posted with an idempotency key: the counter form carries a one-time token
(a double click posts once), a provider notification is keyed by the provider's own
reference (the same notification three times credits once). A payment to a prepaid
account that was cut off restores supply in the same transaction (billing.prepaid).

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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Protocol

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from meterhub.accounts import audit
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


@transaction.atomic
def refund(payment: Payment, amount: Decimal, *, operator=None, key: str | None = None, note: str = "") -> Payment:
    """Pay back (part of) a payment: never more than what is left of it."""
    if payment.kind != Payment.Kind.PAYMENT:
        raise PaymentError("only a payment can be refunded")
    ledger.lock_accounts([payment.account_id])
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


# --- payments reported by an integrator -----------------------------------------------------

CLOCK_SKEW = timedelta(minutes=5)  # a sender's clock may run this far ahead of ours


class ReferenceReused(PaymentError):
    """The integrator's reference was already used for another account or amount."""


@transaction.atomic
def record_external(account: Account, amount: Decimal, *, reference: str, operator, method: str = Payment.Method.CASH,
                    provider: PaymentProvider | None = None, currency: str | None = None,
                    received_at: datetime | None = None, note: str = "") -> tuple[Payment, bool]:
    """A payment an integrator reports (a bank counter, a property system), credited once per reference.

    The reference is the idempotency key, per provider (the key its signed webhooks use, so the two
    paths credit once between them) or else per operator (a token's owner). The same reference
    again returns the first payment and False; with another account or amount it is refused."""
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
    ledger.lock_accounts([account.pk])  # one request per account at a time decides "first"
    earlier = Payment.objects.select_related("account").filter(entry__key=key).first()
    if earlier is not None:
        if earlier.account_id != account.pk or earlier.amount != amount:
            raise ReferenceReused(f"reference {reference} was used for {earlier.amount} to account "
                                  f"{earlier.account.number}")
        return earlier, False
    payment = take_payment(account, amount, method=method, operator=operator, provider=provider,
                           external_id=reference, key=key, received_at=received_at, note=note)
    audit.record("payment_reported", payment, {"account": [None, account.number], "amount": [None, str(amount)],
                                               "reference": [None, reference], "method": [None, method]},
                 actor=operator)
    return payment, True


# --- webhooks -------------------------------------------------------------------------------

@dataclass(frozen=True)
class WebhookResult:
    status: int  # HTTP status to answer: 200 credited or duplicate, 400 refused, 404 unknown provider
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
        with transaction.atomic():
            order = checkout.order_for_payment(row, notification.order, account, notification.amount,
                                               notification.currency, notification.external_id) \
                if notification.order else None
            already = Payment.objects.filter(provider=row, external_id=notification.external_id).first()
            payment = already or take_payment(account, notification.amount, method=Payment.Method.ONLINE,
                                              provider=row, external_id=notification.external_id,
                                              received_at=notification.paid_at,
                                              note=f"order {order.number}" if order else "")
            if order is not None:
                checkout.mark_paid(order, payment)
        log.outcome = WebhookLog.Outcome.DUPLICATE if already else WebhookLog.Outcome.CREDITED
        log.save()
        return WebhookResult(200, log.outcome, payment)
    except BadSignature as exc:
        log.outcome, log.reason = WebhookLog.Outcome.BAD_SIGNATURE, str(exc)[:200]
    except (PaymentError, checkout.CheckoutError) as exc:
        log.outcome, log.reason = WebhookLog.Outcome.REJECTED, str(exc)[:200]
    log.save()
    return WebhookResult(400, log.outcome)
