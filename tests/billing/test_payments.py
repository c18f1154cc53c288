"""Payments at the counter and by signed webhook (credited once, bad signatures refused and
logged), refunds, and the daily reconciliation."""

import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from meterhub.billing import ledger, payments, reconciliation
from meterhub.billing.models import LedgerEntry, Payment, PaymentProvider, WebhookLog
from tests.billing.conftest import make_account

D = Decimal
pytestmark = pytest.mark.django_db
SECRET = "whsec-test-0123456789"


@pytest.fixture
def provider(db):
    return PaymentProvider.objects.create(code="paynow", name="PayNow", secret=SECRET)


@pytest.fixture
def account(site):
    return make_account(site, "W1", mode="prepaid")


def notification(number="W1", amount="50.00", nid="N-1", currency="CNY") -> bytes:
    return json.dumps({"id": nid, "account": number, "amount": amount, "currency": currency,
                       "paid_at": datetime.now(UTC).isoformat()}).encode()


def signed(body: bytes, secret=SECRET, at=None) -> dict:
    return {payments.SIGNATURE_HEADER: payments.sign(secret, body, at or int(time.time()))}


def test_the_same_notification_three_times_credits_once(account, provider):
    body = notification()
    outcomes = [payments.handle_webhook("paynow", body, signed(body)) for _ in range(3)]
    assert [(r.status, r.outcome) for r in outcomes] == [(200, "credited"), (200, "duplicate"), (200, "duplicate")]
    account.refresh_from_db()
    assert account.balance == D(50) and LedgerEntry.objects.get().kind == "recharge"
    assert Payment.objects.get().external_id == "N-1"
    assert list(WebhookLog.objects.order_by("id").values_list("outcome", flat=True)) == [
        "credited", "duplicate", "duplicate"]


@pytest.mark.parametrize("headers", [
    {},
    {payments.SIGNATURE_HEADER: "t=1,v1=00"},
    "wrong secret",
    "tampered",
    "too old",
    "not ASCII",
])
def test_a_bad_signature_credits_nothing_and_is_logged(account, provider, headers):
    body = notification()
    if headers == "not ASCII":  # a header decoded as Latin-1 by the server
        headers = {payments.SIGNATURE_HEADER: f"t={int(time.time())},v1=\u00e9"}
    elif headers == "wrong secret":
        headers = signed(body, secret="not-the-secret")
    elif headers == "tampered":
        headers, body = signed(body), notification(amount="5000.00")
    elif headers == "too old":
        headers = signed(body, at=int(time.time()) - 3600)
    result = payments.handle_webhook("paynow", body, headers, remote_addr="203.0.113.9")
    assert (result.status, result.outcome) == (400, "bad_signature")
    assert not LedgerEntry.objects.exists()
    log = WebhookLog.objects.get()
    assert log.outcome == "bad_signature" and log.remote_addr == "203.0.113.9" and log.reason


@pytest.mark.parametrize("body, reason", [
    (notification(number="NOPE"), "no account NOPE"),
    (notification(currency="USD"), "currency USD"),
    (notification(amount="-5"), "positive amount"),
    (b"{not json", "malformed"),
])
def test_a_well_signed_but_wrong_notification_is_rejected_with_the_reason(account, provider, body, reason):
    result = payments.handle_webhook("paynow", body, signed(body))
    assert result.status == 400
    assert reason in WebhookLog.objects.get().reason
    assert not LedgerEntry.objects.exists()


def test_unknown_provider_is_refused(account):
    assert payments.handle_webhook("nobody", b"{}", {}).status == 404


def test_the_webhook_endpoint(client, account, provider):
    body = notification()
    url = "/billing/webhooks/paynow/"
    headers = {"HTTP_X_METERHUB_SIGNATURE": signed(body)[payments.SIGNATURE_HEADER]}
    for _ in range(3):
        response = client.post(url, body, content_type="application/json", **headers)
        assert response.status_code == 200
    assert client.post(url, body, content_type="application/json").status_code == 400
    assert client.get(url).status_code == 405
    account.refresh_from_db()
    assert account.balance == D(50)


def test_counter_payment_with_a_form_token_posts_once_and_refunds_are_bounded(account, make_operator):
    cashier = make_operator("finance")
    first = payments.take_payment(account, D("30.00"), method="cash", operator=cashier, key="pay:form:abc")
    again = payments.take_payment(account, D("30.00"), method="cash", operator=cashier, key="pay:form:abc")
    assert first == again and first.receipt_no.startswith("R")
    with pytest.raises(payments.PaymentError, match="positive amount"):
        payments.take_payment(account, D("0.001"), method="cash")
    payments.refund(first, D(10), operator=cashier)
    with pytest.raises(payments.PaymentError, match="at most 20.00"):
        payments.refund(first, D(25), operator=cashier)
    account.refresh_from_db()
    assert account.balance == D(20) == ledger.balance_of(account)


def test_daily_reconciliation_per_operator_and_provider(site, account, provider, make_operator):
    cashier = make_operator("finance", username="cashier1")
    payments.take_payment(account, D(30), method="cash", operator=cashier)
    p = payments.take_payment(account, D(20), method="pos", operator=cashier)
    payments.refund(p, D(5), operator=cashier)
    body = notification()
    payments.handle_webhook("paynow", body, signed(body))
    report = reconciliation.daily(site, reconciliation_day(site))
    rows = {(r.method, r.provider, r.operator): (r.payments, r.received, r.refunds, r.refunded) for r in report.rows}
    assert rows[("cash", "", "cashier1")] == (1, D(30), 0, D(0))
    assert rows[("pos", "", "cashier1")] == (1, D(20), 1, D(5))
    assert report.net == D(95) and report.balanced, (report.net, report.ledger_net)
    ledger.post(account, "payment", D(1), key="stray", source="test")  # money with no payment behind it
    assert not reconciliation.daily(site, reconciliation_day(site)).balanced


def reconciliation_day(site):
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    return timezone.now().astimezone(ZoneInfo(site.time_zone)).date()
