"""Online recharge orders: the customer asks to pay, the provider's webhook says they did.

`create_order(account, amount, channel)` checks the amount and the account and returns a
pending `PaymentOrder` with where to send the payer (`Checkout.pay_url`: the provider's
hosted page, or the sandbox page; a kiosk shows it as a QR code). The order itself moves
no money: the provider's signed webhook (payments.handle_webhook) names the order, and
in one transaction the payment is credited through payments.take_payment (which restores
a prepaid supply once the balance is back above the limit) and the order is marked paid.
The provider's reference keys the ledger entry, so a webhook repeated credits once (and the
reference credited before to another account or amount is refused, payments.credit_reference); a
second, different payment for an order already paid is refused and logged (finance
refunds it at the provider), so an order is never credited twice.

Orders expire (`ORDER_TTL`) when nobody pays: their status is brought up to date whenever
it is read. A payment that arrives for an expired or cancelled order is still credited:
the provider has taken the customer's money.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import quote
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from meterhub.billing import ledger
from meterhub.billing.models import Account, Payment, PaymentOrder, PaymentProvider

ORDER_TTL = timedelta(seconds=settings.CHECKOUT_ORDER_TTL_S)
MAX_AMOUNT = Decimal(settings.CHECKOUT_MAX_AMOUNT).quantize(Decimal("0.01"))
MAX_PENDING = 5  # unpaid orders per account at once: a stuck page, not a flood of orders


class CheckoutError(ValueError):
    """An order that cannot be made or settled, with the reason (shown to the customer)."""


@dataclass(frozen=True)
class Checkout:
    order: PaymentOrder
    pay_url: str  # the provider's page (relative for the sandbox: make it absolute for a QR code)
    expires_at: datetime


def parse_amount(text: str) -> Decimal:
    """A recharge amount typed by a customer: a positive number of whole cents, at most MAX_AMOUNT."""
    try:
        amount = Decimal(str(text).strip().replace(",", ""))
    except InvalidOperation:
        raise CheckoutError(_("Enter an amount, for example 100 or 25.50.")) from None
    return checked_amount(amount)


def checked_amount(amount: Decimal) -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise CheckoutError(_("Enter an amount, for example 100 or 25.50."))
    if amount <= 0:
        raise CheckoutError(_("The amount must be more than zero."))
    if amount > MAX_AMOUNT:
        raise CheckoutError(_("At most %(max)s can be paid at once.") % {"max": MAX_AMOUNT})
    if amount != amount.quantize(ledger.CENT):
        raise CheckoutError(_("The amount can have at most two decimals (cents)."))
    return amount.quantize(ledger.CENT)


def is_open(account: Account, now: datetime) -> bool:
    """Not closed as of the site's local day."""
    today = now.astimezone(ZoneInfo(account.site.time_zone)).date()
    return account.closed_on is None or account.closed_on > today


def default_provider() -> PaymentProvider | None:
    """The provider online orders go to: METERHUB_CHECKOUT_PROVIDER, else the first enabled one
    that has a payment page (or is the sandbox)."""
    providers = PaymentProvider.objects.filter(enabled=True).order_by("code")
    code = settings.CHECKOUT_PROVIDER
    if code:
        return providers.filter(code=code).first()
    return next((p for p in providers if p.sandbox or p.checkout_url), None)


def _number(now: datetime) -> str:
    return f"PO{now:%Y%m%d}{secrets.token_hex(8).upper()}"


@transaction.atomic
def create_order(account: Account, amount: Decimal, channel: str, *, provider: PaymentProvider | None = None,
                 return_url: str | Callable[[str], str] = "", requested_by: str = "",
                 now: datetime | None = None) -> Checkout:
    """A pending order to pay `amount` into `account`, and where the payer goes to pay it.
    `return_url` is where the provider's page sends the payer back: a URL, or a function of
    the order number giving one (a page about this order)."""
    now = now or timezone.now()
    amount = checked_amount(amount)
    if channel not in PaymentOrder.Channel.values:
        raise CheckoutError(f"unknown channel {channel!r}")
    account = ledger.lock_accounts([account.pk])[account.pk]  # one order at a time per account
    if not is_open(account, now):
        raise CheckoutError(_("Account %(n)s is closed: it cannot be recharged.") % {"n": account.number})
    provider = provider or default_provider()
    if provider is None or not provider.enabled:
        raise CheckoutError(_("Online payment is not available at the moment."))
    if not (provider.sandbox or provider.checkout_url):
        raise CheckoutError(f"provider {provider.code} has no payment page")
    expire_overdue(now, account=account)
    if account.payment_orders.filter(status=PaymentOrder.Status.PENDING).count() >= MAX_PENDING:
        raise CheckoutError(_("There are too many unpaid orders on this account. Finish or cancel one, "
                              "or wait a few minutes."))
    number = _number(now)
    back = return_url(number) if callable(return_url) else return_url
    order = PaymentOrder.objects.create(number=number, account=account, provider=provider, amount=amount,
                                        currency=account.site.currency, channel=channel, created_at=now,
                                        expires_at=now + ORDER_TTL, return_url=back[:300],
                                        requested_by=requested_by[:80])
    return Checkout(order, pay_url(order), order.expires_at)


def pay_url(order: PaymentOrder) -> str:
    provider = order.provider
    if provider.sandbox:
        return reverse("checkout-sandbox", kwargs={"number": order.number})
    return provider.checkout_url.format(order=quote(order.number), amount=order.amount, currency=order.currency,
                                        **{"return": quote(order.return_url, safe="")})


def expire_overdue(now: datetime | None = None, *, account: Account | None = None) -> int:
    """Mark orders nobody paid in time as expired."""
    orders = PaymentOrder.objects.filter(status=PaymentOrder.Status.PENDING, expires_at__lte=now or timezone.now())
    if account is not None:
        orders = orders.filter(account=account)
    return orders.update(status=PaymentOrder.Status.EXPIRED)


def current(order: PaymentOrder, now: datetime | None = None) -> PaymentOrder:
    """The order with its status brought up to date (a pending order past its time has expired)."""
    if order.status == PaymentOrder.Status.PENDING and order.expires_at <= (now or timezone.now()):
        PaymentOrder.objects.filter(pk=order.pk, status=PaymentOrder.Status.PENDING).update(
            status=PaymentOrder.Status.EXPIRED)
        order.refresh_from_db()
    return order


def cancel(order: PaymentOrder) -> PaymentOrder:
    """The payer gave up on the provider's page. Only a pending order can be cancelled."""
    PaymentOrder.objects.filter(pk=order.pk, status=PaymentOrder.Status.PENDING).update(
        status=PaymentOrder.Status.CANCELLED)
    order.refresh_from_db()
    return order


# --- called by payments.credit_reference, inside its transaction ----------------------------

def order_for_payment(provider: PaymentProvider, order_number: str, account: Account, amount: Decimal,
                      currency: str, external_id: str) -> PaymentOrder:
    """The (locked) order a provider's notification pays, after checking it is that order's payment."""
    order = PaymentOrder.objects.select_for_update().filter(number=order_number).first()
    if order is None or order.provider_id != provider.pk:
        raise CheckoutError(f"no order {order_number} with provider {provider.code}")
    if order.account_id != account.pk:
        raise CheckoutError(f"order {order_number} is for account {order.account.number}, not {account.number}")
    if order.amount != amount or order.currency != currency:
        raise CheckoutError(f"order {order_number} is for {order.currency} {order.amount}, not {currency} {amount}")
    if order.payment_id is not None and order.payment.external_id != external_id:
        raise CheckoutError(f"order {order_number} was paid already (receipt {order.payment.receipt_no}): "
                            f"refund {external_id} at the provider")
    return order


def mark_paid(order: PaymentOrder, payment: Payment) -> PaymentOrder:
    """Link the payment to the order. A payment credited before (the provider's reference again)
    pays the order only if it is this order's amount on this account and paid no other order."""
    if order.payment_id is None:
        earlier = PaymentOrder.objects.filter(payment=payment).first()
        if earlier is not None:
            raise CheckoutError(f"reference {payment.external_id} paid order {earlier.number} already, "
                                f"not {order.number}")
        if payment.account_id != order.account_id or payment.amount != order.amount:
            raise CheckoutError(f"reference {payment.external_id} was credited as {payment.amount} "
                                f"(receipt {payment.receipt_no}): it cannot pay order {order.number}")
        order.status, order.paid_at, order.payment = PaymentOrder.Status.PAID, payment.received_at, payment
        order.save(update_fields=["status", "paid_at", "payment"])
    return order
