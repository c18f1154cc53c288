"""Online recharge orders: made with checked amounts, paid by the provider's signed webhook
(credited exactly once however often it comes), expired, cancelled; the sandbox provider's
page pays over real HTTP through the real webhook."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import override_settings
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from meterhub.billing import checkout, payments, sandbox
from meterhub.billing.models import (
    Account,
    LedgerEntry,
    Payment,
    PaymentOrder,
    PaymentProvider,
    SupplyAction,
)
from meterhub.comms.models import Command
from tests.billing.conftest import make_account

D = Decimal
pytestmark = pytest.mark.django_db
SECRET = "sandbox-secret-0123456789"


@pytest.fixture
def provider(db):
    return PaymentProvider.objects.create(code="sandbox", name="Sandbox Pay", secret=SECRET, sandbox=True)


@pytest.fixture
def account(site):
    return make_account(site, "P1", mode="prepaid")


def deliver(order: PaymentOrder, *, nid=None, amount=None, account=None, order_number=None) -> payments.WebhookResult:
    """The provider's notification for `order` (or a tampered one), signed, through the real handler."""
    body = json.dumps({"id": nid or f"TX-{order.number}", "order": order_number or order.number,
                       "account": account or order.account.number, "amount": str(amount or order.amount),
                       "currency": order.currency, "paid_at": datetime.now(UTC).isoformat()}).encode()
    headers = {payments.SIGNATURE_HEADER: payments.sign(SECRET, body, int(time.time()))}
    return payments.handle_webhook(order.provider.code, body, headers)


# --- making an order --------------------------------------------------------------------------

def test_an_order_is_pending_for_a_while_and_points_at_the_provider_page(account, provider):
    now = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
    made = checkout.create_order(account, D("88.50"), "portal", return_url="/portal/x/", requested_by="portal:1",
                                 now=now)
    order = made.order
    assert (order.status, order.amount, order.currency, order.channel) == ("pending", D("88.50"), "CNY", "portal")
    assert order.number.startswith("PO20260501") and len(order.number) == 26
    assert made.expires_at == now + checkout.ORDER_TTL
    assert made.pay_url == reverse("checkout-sandbox", kwargs={"number": order.number})
    assert not LedgerEntry.objects.exists(), "an order moves no money"


def test_order_numbers_are_not_guessable(account, provider):
    numbers = {checkout.create_order(account, D(1), "kiosk").order.number for _ in range(checkout.MAX_PENDING)}
    assert len(numbers) == checkout.MAX_PENDING
    assert all(len(n) - len("PO20260101") == 16 for n in numbers)  # 64 random bits each


def test_a_real_provider_page_gets_the_orders_values(account):
    real = PaymentProvider.objects.create(code="paynow", name="PayNow", secret="x",
                                          checkout_url="https://pay.example/c?o={order}&a={amount}&r={return}")
    made = checkout.create_order(account, D(20), "portal", provider=real, return_url="/portal/a/1/?b=2")
    assert made.pay_url == f"https://pay.example/c?o={made.order.number}&a=20.00&r=%2Fportal%2Fa%2F1%2F%3Fb%3D2"


@pytest.mark.parametrize("text, message", [
    ("", "Enter an amount"), ("abc", "Enter an amount"), ("NaN", "Enter an amount"), ("Infinity", "Enter an amount"),
    ("0", "more than zero"), ("-5", "more than zero"), ("1.005", "two decimals"), ("10000.01", "At most 10000.00"),
    ("1e30", "At most 10000.00"), ("99999999999999999999999999.995", "At most"),
])
def test_a_bad_amount_is_refused_with_the_reason(text, message):
    with pytest.raises(checkout.CheckoutError, match=message):
        checkout.parse_amount(text)


@given(st.integers(min_value=1, max_value=1_000_000))
def test_any_amount_in_cents_up_to_the_maximum_is_taken_as_typed(cents):
    text = f"{cents // 100}.{cents % 100:02d}"
    assert checkout.parse_amount(text) == D(cents) / 100


@given(st.decimals(min_value=-10**6, max_value=10**6, places=3).filter(lambda d: d != d.quantize(D("0.01"))))
def test_fractions_of_a_cent_are_always_refused(amount):
    with pytest.raises(checkout.CheckoutError):
        checkout.checked_amount(amount)


def test_a_closed_account_cannot_be_recharged(account, provider):
    Account.objects.filter(pk=account.pk).update(closed_on=datetime.now(UTC).date() - timedelta(days=1))
    account.refresh_from_db()
    with pytest.raises(checkout.CheckoutError, match="closed"):
        checkout.create_order(account, D(10), "portal")


def test_no_provider_no_order(account):
    with pytest.raises(checkout.CheckoutError, match="not available"):
        checkout.create_order(account, D(10), "portal")
    PaymentProvider.objects.create(code="paynow", name="PayNow", secret="x")  # webhook-only: no payment page
    with pytest.raises(checkout.CheckoutError, match="not available"):
        checkout.create_order(account, D(10), "portal")


def test_unpaid_orders_pile_up_only_so_far(account, provider):
    for _ in range(checkout.MAX_PENDING):
        checkout.create_order(account, D(10), "portal")
    with pytest.raises(checkout.CheckoutError, match="too many unpaid orders"):
        checkout.create_order(account, D(10), "portal")
    later = datetime.now(UTC) + checkout.ORDER_TTL + timedelta(seconds=1)
    assert checkout.create_order(account, D(10), "portal", now=later).order.status == "pending"
    assert PaymentOrder.objects.filter(status="expired").count() == checkout.MAX_PENDING


# --- paying it -------------------------------------------------------------------------------

def test_the_providers_webhook_credits_the_order_once_however_often_it_comes(account, provider):
    order = checkout.create_order(account, D("50.00"), "portal").order
    results = [deliver(order) for _ in range(3)]
    assert [r.outcome for r in results] == ["credited", "duplicate", "duplicate"]
    order.refresh_from_db()
    account.refresh_from_db()
    payment = Payment.objects.get()
    assert (order.status, order.payment, order.paid_at) == ("paid", payment, payment.received_at)
    assert account.balance == D(50) and payment.method == "online" and payment.note == f"order {order.number}"


@pytest.mark.parametrize("tamper, reason", [
    ({"amount": "500.00"}, "is for CNY 50.00, not CNY 500.00"),
    ({"account": "OTHER"}, "is for account P1, not OTHER"),
    ({"order_number": "PO20260101NOPE"}, "no order PO20260101NOPE"),
])
def test_a_notification_that_does_not_match_its_order_credits_nothing(site, account, provider, tamper, reason):
    make_account(site, "OTHER", mode="prepaid")
    order = checkout.create_order(account, D("50.00"), "portal").order
    result = deliver(order, **tamper)
    assert (result.status, result.outcome) == (400, "rejected")
    assert reason in payments.WebhookLog.objects.get().reason
    assert not LedgerEntry.objects.exists() and PaymentOrder.objects.get().status == "pending"


def test_a_second_payment_for_a_paid_order_is_refused_for_a_refund(account, provider):
    order = checkout.create_order(account, D("50.00"), "portal").order
    assert deliver(order).outcome == "credited"
    second = deliver(order, nid="TX-OTHER")
    assert (second.status, second.outcome) == (400, "rejected")
    assert "paid already" in payments.WebhookLog.objects.first().reason
    account.refresh_from_db()
    assert account.balance == D(50)


def test_a_payment_already_credited_cannot_pay_another_order(account, provider):
    first = checkout.create_order(account, D("50.00"), "portal").order
    assert deliver(first).outcome == "credited"
    second = checkout.create_order(account, D("50.00"), "portal").order
    answer = deliver(second, nid=f"TX-{first.number}")  # the provider names the first payment again
    assert (answer.status, answer.outcome) == (400, "rejected")
    assert "paid order" in payments.WebhookLog.objects.first().reason
    assert PaymentOrder.objects.get(pk=second.pk).status == "pending"
    assert Account.objects.get(pk=account.pk).balance == D(50)


def test_a_payment_reported_for_another_amount_does_not_pay_an_order(account, provider, make_operator):
    order = checkout.create_order(account, D("50.00"), "portal").order
    payments.record_external(account, D("10.00"), reference=f"TX-{order.number}", operator=make_operator("finance"),
                             method="online", provider=provider)
    answer = deliver(order)
    assert (answer.status, answer.outcome) == (409, "reused")  # the reference credited 10.00: not a repeat
    assert "credited before to this account as 10.00, not 50.00" in payments.WebhookLog.objects.first().reason
    assert PaymentOrder.objects.get(pk=order.pk).status == "pending"
    assert Account.objects.get(pk=account.pk).balance == D(10)


def test_money_that_arrives_after_the_order_expired_is_still_credited(account, provider):
    order = checkout.create_order(account, D("30.00"), "portal",
                                  now=datetime.now(UTC) - checkout.ORDER_TTL - timedelta(minutes=1)).order
    assert checkout.current(order).status == "expired"
    assert deliver(order).outcome == "credited"
    order.refresh_from_db()
    assert order.status == "paid" and Account.objects.get(pk=account.pk).balance == D(30)


def test_a_cancelled_order_stays_cancelled_until_money_arrives(account, provider):
    order = checkout.create_order(account, D("30.00"), "portal").order
    assert checkout.cancel(order).status == "cancelled"
    assert checkout.current(order).status == "cancelled"
    assert deliver(order).outcome == "credited"
    assert PaymentOrder.objects.get().status == "paid"


def test_paying_a_cut_off_prepaid_account_queues_the_restore(site, collector, provider):
    account = make_account(site, "CUT", mode="prepaid", switch="relay", collector=collector, supply="off")
    order = checkout.create_order(account, D("20.00"), "portal").order
    assert deliver(order).outcome == "credited"
    action = SupplyAction.objects.get()
    assert action.action == "restore" and action.command.kind == "relay_direct_close"
    assert Command.objects.get().status == "pending" and Account.objects.get(pk=account.pk).supply == "on"


# Any sequence of deliveries, repeated and interleaved, credits each paid order exactly once.
@hsettings(max_examples=25)
@given(st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=12),
       st.lists(st.integers(min_value=1, max_value=99_999), min_size=4, max_size=4))
def test_any_interleaving_of_repeated_webhooks_credits_each_order_once(django_db_blocker, deliveries, cents):
    from meterhub.assets.models import Site

    with django_db_blocker.unblock(), transaction.atomic():
        site = Site.objects.create(code="h", name="H")
        PaymentProvider.objects.create(code="sandbox", name="Sandbox Pay", secret=SECRET, sandbox=True)
        account = make_account(site, "H1", mode="prepaid")
        orders = [checkout.create_order(account, D(c) / 100, "portal").order
                  if i < checkout.MAX_PENDING else None for i, c in enumerate(cents)]
        for i in deliveries:
            assert deliver(orders[i]).status == 200
        paid = set(deliveries)
        account.refresh_from_db()
        assert account.balance == sum(orders[i].amount for i in paid)
        assert Payment.objects.count() == len(paid) == PaymentOrder.objects.filter(status="paid").count()
        transaction.set_rollback(True)


# --- the sandbox provider's page ---------------------------------------------------------------

def test_the_sandbox_page_exists_only_for_sandbox_providers(client, account, provider):
    order = checkout.create_order(account, D(10), "portal").order
    page = client.get(reverse("checkout-sandbox", kwargs={"number": order.number}))
    assert page.status_code == 200 and b"No real money" in page.content and b"CNY 10.00" in page.content
    PaymentProvider.objects.filter(pk=provider.pk).update(sandbox=False)
    assert client.get(reverse("checkout-sandbox", kwargs={"number": order.number})).status_code == 404
    assert client.post(reverse("checkout-sandbox-pay", kwargs={"number": order.number})).status_code == 404
    assert client.get(reverse("checkout-sandbox", kwargs={"number": "PO20260101NOPE"})).status_code == 404


def test_a_sandbox_notification_is_signed_like_the_providers(account, provider):
    order = checkout.create_order(account, D(10), "portal").order
    body, headers = sandbox.notification(order)
    notification = payments.provider_for(provider).verify(body, headers, datetime.now(UTC))
    assert (notification.order, notification.account_number, notification.amount) == (order.number, "P1", D(10))
    real = PaymentProvider.objects.create(code="paynow", name="PayNow", secret="x", checkout_url="https://p/{order}")
    with pytest.raises(sandbox.SandboxError):
        sandbox.notification(checkout.create_order(account, D(1), "portal", provider=real).order)


@pytest.mark.django_db(transaction=True)
def test_pressing_pay_sends_the_webhook_over_http_and_comes_back(client, live_server, site):
    provider = PaymentProvider.objects.create(code="sandbox", name="Sandbox Pay", secret=SECRET, sandbox=True)
    account = make_account(site, "P1", mode="prepaid")
    order = checkout.create_order(account, D("66.60"), "portal", provider=provider, return_url="/portal/back/").order
    with override_settings(SANDBOX_WEBHOOK_BASE=live_server.url):
        response = client.post(reverse("checkout-sandbox-pay", kwargs={"number": order.number}))
        assert (response.status_code, response.url) == (302, "/portal/back/")
        again = client.post(reverse("checkout-sandbox-pay", kwargs={"number": order.number}))
        assert again.status_code == 302
    order.refresh_from_db()
    assert order.status == "paid" and Account.objects.get(pk=account.pk).balance == D("66.60")
    log = payments.WebhookLog.objects.get()
    assert log.outcome == "credited" and log.remote_addr == "127.0.0.1"


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_webhook_is_said_plainly(client, site, provider):
    account = make_account(site, "P1", mode="prepaid")
    order = checkout.create_order(account, D(5), "portal").order
    with override_settings(SANDBOX_WEBHOOK_BASE="http://127.0.0.1:9"):
        response = client.post(reverse("checkout-sandbox-pay", kwargs={"number": order.number}), follow=True)
    assert b"could not be reached" in response.content
    assert PaymentOrder.objects.get().status == "pending"


def test_an_expired_order_cannot_be_paid_and_cancel_goes_back(client, account, provider):
    old = checkout.create_order(account, D(5), "portal", now=datetime.now(UTC) - timedelta(hours=1)).order
    response = client.post(reverse("checkout-sandbox-pay", kwargs={"number": old.number}), follow=True)
    assert b"can no longer be paid" in response.content and not LedgerEntry.objects.exists()
    order = checkout.create_order(account, D(5), "portal", return_url="https://evil.example/").order
    response = client.post(reverse("checkout-sandbox-cancel", kwargs={"number": order.number}))
    assert response.url == reverse("checkout-sandbox", kwargs={"number": order.number}), "never off-site"
    assert PaymentOrder.objects.get(pk=order.pk).status == "cancelled"


def test_the_return_page_can_name_the_order(account, provider):
    made = checkout.create_order(account, D(5), "kiosk", return_url=lambda number: f"/kiosk/orders/{number}/")
    assert made.order.return_url == f"/kiosk/orders/{made.order.number}/"
