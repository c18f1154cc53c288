"""Payments at the counter and by signed webhook (credited once, bad signatures refused and
logged), refunds, and the daily reconciliation."""

import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import translation

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


def test_a_form_sent_again_after_a_change_is_refused_naming_what_it_took(account, make_operator):
    """A double submit is one payment (or refund); the same form sent again with another amount
    (the back button) is refused plainly, and the ledger is as the first submit left it."""
    cashier = make_operator("finance")
    first = payments.take_counter_payment(account, D(30), method="cash", operator=cashier, token="f1")
    assert payments.take_counter_payment(account, D(30), method="cash", operator=cashier, token="f1") == first
    with pytest.raises(payments.FormUsed, match=first.receipt_no):
        payments.take_counter_payment(account, D(35), method="cash", operator=cashier, token="f1")
    full = payments.refund(first, D(30), operator=cashier, key="refund:form:r1")
    assert payments.refund(first, D(30), operator=cashier, key="refund:form:r1") == full  # a double click
    with pytest.raises(payments.FormUsed, match=full.receipt_no):
        payments.refund(first, D(20), operator=cashier, key="refund:form:r1")
    account.refresh_from_db()
    assert account.balance == D(0) == ledger.balance_of(account)
    assert Payment.objects.filter(account=account).count() == 2


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


# --- a reference credited before, sent again for another account or amount ---------------------

@pytest.fixture
def other(site):
    return make_account(site, "W2", mode="prepaid")


@pytest.mark.parametrize("again, reason", [
    ({"number": "W2"}, "reference N-1 was credited before to another account: refused"),
    ({"amount": "60.00"}, "reference N-1 was credited before to this account as 50.00, not 60.00: refused"),
])
def test_a_reference_sent_again_for_another_account_or_amount_is_refused_and_recorded(account, other, provider,
                                                                                      again, reason):
    from meterhub.accounts.models import AuditEntry

    first = notification()
    assert payments.handle_webhook("paynow", first, signed(first)).outcome == "credited"
    body = notification(**again)
    result = payments.handle_webhook("paynow", body, signed(body), remote_addr="198.51.100.7")
    assert (result.status, result.outcome, result.payment) == (409, "reused", None)
    assert LedgerEntry.objects.count() == Payment.objects.count() == 1
    account.refresh_from_db()
    other.refresh_from_db()
    assert (account.balance, other.balance) == (D(50), D(0))
    log = WebhookLog.objects.get(outcome="reused")
    assert log.reason.startswith(reason) and "W1" not in log.reason and log.external_id == "N-1"
    [refused] = AuditEntry.objects.filter(action="payment_reference_refused")
    assert (refused.object_type, refused.object_id, refused.actor, refused.actor_name) == (
        "payment", str(Payment.objects.get().pk), None, "webhook:paynow")
    assert refused.changes["account"] == ["W1", again.get("number", "W1")]
    assert refused.changes["amount"] == ["50.00", again.get("amount", "50.00")]
    assert refused.changes["sender"] == [None, "webhook:paynow"]
    site = account.site
    assert reconciliation.daily(site, reconciliation_day(site)).refused_references == [refused]
    # the same notification as the first is still a harmless repeat
    assert payments.handle_webhook("paynow", first, signed(first)).outcome == "duplicate"
    assert LedgerEntry.objects.count() == 1


def test_a_refused_reference_is_listed_at_the_site_of_either_account_only(account, provider):
    from meterhub.assets.models import Site

    south = Site.objects.create(code="south", name="South Estate", time_zone="Asia/Shanghai", currency="CNY")
    west = Site.objects.create(code="west", name="West Estate", time_zone="Asia/Shanghai", currency="CNY")
    make_account(south, "S1", mode="prepaid")
    make_account(west, "X1", mode="prepaid")
    make_account(west, "X2", mode="prepaid")
    for number, nid in (("W1", "N-1"), ("S1", "N-1"), ("X1", "N-2"), ("X2", "N-2")):  # north to south; west only
        body = notification(number=number, nid=nid)
        payments.handle_webhook("paynow", body, signed(body))
    listed = {s.code: [(r.changes["reference"][1], r.changes["site"]) for r in
                       reconciliation.daily(s, reconciliation_day(s)).refused_references]
              for s in (account.site, south, west)}
    assert listed == {"north": [("N-1", ["north", "south"])], "south": [("N-1", ["north", "south"])],
                      "west": [("N-2", ["west", "west"])]}


def test_a_refusal_retried_by_its_sender_is_recorded_once(account, other, provider):
    """A provider retries a refused notification (each retry answered 409 and logged as a notification);
    the audit log gets one entry per distinct attempt: another account or amount, or another sender, is new."""
    from meterhub.accounts.models import AuditEntry

    first = notification()
    payments.handle_webhook("paynow", first, signed(first))
    for number, amount in (("W2", "50.00"), ("W2", "50.00"), ("W2", "50.00"), ("W2", "60.00"), ("W1", "60.00"),
                           ("W1", "60.00")):
        body = notification(number=number, amount=amount)
        assert payments.handle_webhook("paynow", body, signed(body)).status == 409
    with pytest.raises(payments.ReferenceReused):  # the same clash reported by an integrator: another sender
        payments.record_external(other, D("50.00"), reference="N-1", operator=None, method="online",
                                 provider=provider)
    assert WebhookLog.objects.filter(outcome="reused").count() == 6
    recorded = AuditEntry.objects.filter(action=payments.REFUSED).order_by("id")
    assert [(r.changes["account"][1], r.changes["amount"][1], r.changes["sender"][1]) for r in recorded] == [
        ("W2", "50.00", "webhook:paynow"), ("W2", "60.00", "webhook:paynow"), ("W1", "60.00", "webhook:paynow"),
        ("W2", "50.00", "api")]


def test_the_webhook_endpoint_answers_409_for_a_reference_credited_to_another_account(client, account, other,
                                                                                      provider):
    url = "/billing/webhooks/paynow/"
    for number, status in (("W1", 200), ("W2", 409)):
        body = notification(number=number)
        response = client.post(url, body, content_type="application/json",
                               HTTP_X_METERHUB_SIGNATURE=signed(body)[payments.SIGNATURE_HEADER])
        assert response.status_code == status
    assert response.content == b"reused" and response["Content-Type"].startswith("text/plain")
    other.refresh_from_db()
    assert other.balance == D(0) and not other.entries.exists()


def test_an_order_paid_with_a_reference_credited_to_another_account_stays_unpaid(account, other, provider):
    from meterhub.billing import checkout

    provider.checkout_url = "https://pay.example/{order}"
    provider.save()
    first = notification()
    payments.handle_webhook("paynow", first, signed(first))
    order = checkout.create_order(other, D(50), "portal", provider=provider).order
    body = json.dumps({"id": "N-1", "order": order.number, "account": "W2", "amount": "50.00", "currency": "CNY",
                       "paid_at": datetime.now(UTC).isoformat()}).encode()
    assert payments.handle_webhook("paynow", body, signed(body)).status == 409
    order.refresh_from_db()
    assert order.status == "pending" and order.payment is None and LedgerEntry.objects.count() == 1


def test_the_reconciliation_page_shows_refused_references_in_both_languages(signed_in, account, other, provider):
    client, _ = signed_in("finance")
    for number in ("W1", "W2"):
        body = notification(number=number)
        payments.handle_webhook("paynow", body, signed(body))
    page = client.get("/billing/reconciliation/", {"site": "north", "day": reconciliation_day(account.site)})
    text = page.content.decode()
    assert "Refused payment references" in text and "Reference reused" in text
    row = text[text.index('id="refused-references"'):].split("</table>")[0]
    assert "N-1" in row and "webhook:paynow" in row and "W1 50.00" in row and "W2 50.00" in row
    with translation.override("en"):  # the request switches this thread's language: put it back after
        zh = client.get("/billing/reconciliation/", {"site": "north"}, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "被拒绝的付款流水号" in zh and "流水号重复使用" in zh


def test_the_reconciliation_excel_lists_refused_references_in_both_languages(signed_in, account, other, provider):
    import io

    from openpyxl import load_workbook

    client, _ = signed_in("finance")
    for number in ("W1", "W2"):
        body = notification(number=number)
        payments.handle_webhook("paynow", body, signed(body))
    sheets = {}
    for language in ("en", "zh-hans"):
        download = client.get("/billing/reconciliation/", {"site": "north", "day": reconciliation_day(account.site),
                                                           "format": "xlsx", "lang": language})
        sheets[language] = load_workbook(io.BytesIO(download.content)).worksheets[1]
    header, row = sheets["en"].iter_rows(values_only=True)
    assert sheets["en"].title == "Refused payment references"
    assert header == ("Time", "Reference", "Sent by", "Credited before", "Sent now")
    assert row[1:] == ("N-1", "webhook:paynow", "W1 50.00", "W2 50.00")
    assert sheets["zh-hans"].title == "被拒绝的付款流水号"
    assert [r[1:] for r in sheets["zh-hans"].iter_rows(values_only=True)] == [
        ("参考号", "发送方", "此前入账", "本次发送"), ("N-1", "webhook:paynow", "W1 50.00", "W2 50.00")]


@pytest.mark.django_db(transaction=True)
def test_two_identical_refusals_at_once_are_recorded_once(site, monkeypatch):
    """A provider that sends a refused notification twice at once (a retry while the first is still
    answered): each stops just before saving the refusal's entry, for up to a second, until the other has
    got as far. Under the account lock the second waits for the first's entry and finds it."""
    import threading

    from django.db import connection, connections

    from meterhub.accounts.models import AuditEntry

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: the second refusal cannot look before the first commits")
    PaymentProvider.objects.create(code="paynow", name="PayNow", secret=SECRET)
    for number in ("W1", "W2"):
        make_account(site, number, mode="prepaid")
    first = notification(number="W1")
    assert payments.handle_webhook("paynow", first, signed(first)).status == 200
    ready, recording = threading.Barrier(2), threading.Barrier(2, timeout=1)
    save = AuditEntry.save

    def save_when_both_looked(entry, *args, **kwargs):
        try:
            recording.wait()
        except threading.BrokenBarrierError:  # the other waits for this one's lock: go on alone
            pass
        return save(entry, *args, **kwargs)

    monkeypatch.setattr(AuditEntry, "save", save_when_both_looked)
    results = []

    def deliver():
        try:
            connection.ensure_connection()
            ready.wait()
            body = notification(number="W2")
            results.append(payments.handle_webhook("paynow", body, signed(body)).status)
        except Exception as exc:  # noqa: BLE001 - shown in the assertion below
            results.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [409, 409]
    [refused] = AuditEntry.objects.filter(action=payments.REFUSED)
    assert refused.changes["account"] == ["W1", "W2"]

@pytest.mark.django_db(transaction=True)
def test_two_webhooks_at_once_with_one_reference_for_two_accounts_credit_one(site, monkeypatch):
    """Each webhook stops just before crediting until the other has got as far, so both have found
    the reference unused: the second's ledger insert waits for the first's commit, fails on the
    unique key, and is refused and recorded like any reference credited before."""
    import threading

    from django.db import connection, connections

    from meterhub.accounts.models import AuditEntry

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: the second webhook cannot look before the first commits")
    PaymentProvider.objects.create(code="paynow", name="PayNow", secret=SECRET)
    accounts = [make_account(site, number, mode="prepaid") for number in ("W1", "W2")]
    ready, looked = threading.Barrier(2), threading.Barrier(2, timeout=5)
    take = payments.take_payment

    def take_when_both_looked(*args, **kwargs):
        looked.wait()
        return take(*args, **kwargs)

    monkeypatch.setattr(payments, "take_payment", take_when_both_looked)
    results = {}

    def deliver(number):
        try:
            connection.ensure_connection()
            ready.wait()
            body = notification(number=number)
            results[number] = payments.handle_webhook("paynow", body, signed(body))
        except Exception as exc:  # noqa: BLE001 - shown in the assertion below
            results[number] = repr(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(a.number,)) for a in accounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    outcomes = sorted(f"{r.status} {r.outcome}" if isinstance(r, payments.WebhookResult) else r
                      for r in results.values())
    assert outcomes == ["200 credited", "409 reused"], results
    credited = Payment.objects.get()
    assert LedgerEntry.objects.count() == 1 and credited.amount == D(50)
    balances = {a.number: a.balance for a in (type(a).objects.get(pk=a.pk) for a in accounts)}
    assert sorted(balances.values()) == [D(0), D(50)] and balances[credited.account.number] == D(50)
    [refused] = AuditEntry.objects.filter(action="payment_reference_refused")
    assert refused.changes["account"] == [credited.account.number, ({"W1", "W2"} - {credited.account.number}).pop()]
