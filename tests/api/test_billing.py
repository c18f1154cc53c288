"""Billing accounts, their ledgers, payments (and one recorded by an integrator, once per reference), bills,
and a customer's detail: filtered, paged, 404 and 400 with reasons."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from meterhub.accounts.models import AuditEntry
from meterhub.accounts.roles import BILLING_VIEW, CUSTOMERS_PERSONAL, PAYMENTS_TAKE, Role
from meterhub.assets import history
from meterhub.billing import ledger, payments
from meterhub.billing.models import Account, Bill, BillLine, LedgerEntry, Payment, PaymentProvider
from tests.api.test_resources import token_for
from tests.billing.conftest import make_account

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def clerk(make_operator):
    return make_operator(Role.FINANCE, username="bank-sync")


@pytest.fixture
def prepaid(site, collector):
    return make_account(site, "P1", mode="prepaid", switch="relay", collector=collector, credit_limit=D(10))


@pytest.fixture
def postpaid(site):
    return make_account(site, "Q1")


def pay(client, user, **body):
    body = {"account": "P1", "amount": "50.00", "reference": "BANK-0001"} | body
    return client.post("/api/v1/payments", body, content_type="application/json", **token_for(user, PAYMENTS_TAKE))


def test_accounts_filter_by_site_customer_meter_mode_and_supply(client, clerk, prepaid, postpaid):
    Account.objects.filter(pk=prepaid.pk).update(supply="off")
    auth = token_for(clerk, BILLING_VIEW)

    def numbers(query):
        response = client.get(f"/api/v1/accounts?{query}", **auth)
        assert response.status_code == 200, response.content
        return [a["number"] for a in response.json()["items"]]

    assert numbers("site=north") == ["P1", "Q1"] and numbers("site=south") == []
    assert numbers("payment_mode=prepaid") == ["P1"] and numbers("supply=on") == ["Q1"]
    assert numbers("customer=Q1") == ["Q1"] and numbers(f"meter={prepaid.meter.serial}") == ["P1"]
    assert numbers("open=true") == ["P1", "Q1"] and numbers("open=false") == []
    first = client.get("/api/v1/accounts?limit=1", **auth).json()
    assert [a["number"] for a in first["items"]] == ["P1"]
    assert numbers(f"after={first['next_after']}") == ["Q1"]


def test_an_account_shows_balance_supply_limit_and_its_last_supply_action(client, clerk, prepaid):
    ledger.post(prepaid, LedgerEntry.Kind.CONSUMPTION, D("-15.00"), key="c1", source="prepaid")
    from meterhub.billing import prepaid as prepaid_rules
    prepaid_rules.enforce(prepaid, now=datetime(2026, 3, 3, 3, tzinfo=UTC))  # 11:00 on a Tuesday in Shanghai
    body = client.get(f"/api/v1/accounts/{prepaid.pk}", **token_for(clerk, BILLING_VIEW)).json()
    assert (body["balance"], body["credit_limit"], body["supply"], body["currency"]) == ("-15.00", "10.00", "off",
                                                                                        "CNY")
    assert body["last_supply_action"]["action"] == "cut" and body["last_supply_action"]["command_id"]
    assert body["customer_name"] == "Customer P1" and body["meter"] == prepaid.meter.serial
    missing = client.get("/api/v1/accounts/999999", **token_for(clerk, BILLING_VIEW))
    assert missing.status_code == 404


def test_ledger_entries_page_by_id_and_filter_by_kind(client, clerk, postpaid):
    for i in range(3):
        ledger.post(postpaid, LedgerEntry.Kind.BILL, D(f"-{i + 1}.00"), key=f"b{i}", source="bill-run")
    payments.take_payment(postpaid, D("4.00"), method="cash")
    auth = token_for(clerk, BILLING_VIEW)
    url = f"/api/v1/accounts/{postpaid.pk}/entries"
    first = client.get(f"{url}?limit=2", **auth).json()
    rest = client.get(f"{url}?limit=2&after={first['next_after']}", **auth).json()
    amounts = [e["amount"] for e in first["items"] + rest["items"]]
    assert amounts == ["-1.00", "-2.00", "-3.00", "4.00"] and rest["next_after"] is None
    assert [e["kind"] for e in client.get(f"{url}?kind=payment", **auth).json()["items"]] == ["payment"]


def test_a_reported_payment_is_credited_once_per_reference(client, clerk, prepaid):
    first = pay(client, clerk, note="counter 7")
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["amount"], body["reference"], body["operator"], body["kind"], body["method"]) == (
        "50.00", "BANK-0001", "bank-sync", "payment", "cash")
    again = pay(client, clerk, note="counter 7")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    prepaid.refresh_from_db()
    assert prepaid.balance == D("50.00") and LedgerEntry.objects.count() == 1
    [audited] = AuditEntry.objects.filter(action="payment_reported")
    assert audited.actor == clerk and audited.changes["reference"] == [None, "BANK-0001"]
    listed = client.get("/api/v1/payments?reference=BANK-0001", **token_for(clerk, BILLING_VIEW)).json()
    assert [p["id"] for p in listed["items"]] == [body["id"]]
    assert client.get(f"/api/v1/payments/{body['id']}", **token_for(clerk, BILLING_VIEW)).json() == body


@pytest.mark.parametrize("changes, reason", [
    ({"amount": "60.00"}, "reference BANK-0001 was credited before to this account as 50.00, not 60.00: refused"),
    ({"account": "Q1"}, "reference BANK-0001 was credited before to another account: refused"),
])
def test_a_reference_used_for_another_payment_is_refused_and_recorded(client, clerk, prepaid, postpaid, changes,
                                                                      reason):
    assert pay(client, clerk).status_code == 201
    refused = pay(client, clerk, **changes)
    assert refused.status_code == 409 and refused.json()["detail"].startswith(reason)
    if "account" in changes:  # the other customer's account is not told to whoever sent it
        assert "P1" not in refused.json()["detail"] and "50.00" not in refused.json()["detail"]
    assert LedgerEntry.objects.count() == 1 and Payment.objects.count() == 1
    postpaid.refresh_from_db()
    assert postpaid.balance == D(0)
    [recorded] = AuditEntry.objects.filter(action="payment_reference_refused")
    assert recorded.actor == clerk and recorded.object_id == str(Payment.objects.get().pk)
    assert recorded.changes["account"] == ["P1", changes.get("account", "P1")]
    assert recorded.changes["amount"] == ["50.00", changes.get("amount", "50.00")]
    assert recorded.changes["sender"] == [None, "api"] and recorded.changes["reference"][1] == "BANK-0001"
    assert pay(client, clerk).status_code == 200  # the first payment again is still a harmless repeat
    assert LedgerEntry.objects.count() == 1 and AuditEntry.objects.filter(action="payment_reported").count() == 1


def test_a_provider_reference_credited_by_api_is_refused_to_a_webhook_for_another_account(client, clerk, prepaid,
                                                                                          postpaid):
    """Both ways in are one path: what the API credited, the provider's webhook cannot credit elsewhere."""
    import json
    import time
    PaymentProvider.objects.create(code="paynow", name="PayNow", secret="s")
    assert pay(client, clerk, method="online", provider="paynow", reference="N-1").status_code == 201
    body = json.dumps({"id": "N-1", "account": "Q1", "amount": "50.00", "currency": "CNY",
                       "paid_at": datetime.now(UTC).isoformat()}).encode()
    result = payments.handle_webhook("paynow", body, {payments.SIGNATURE_HEADER: payments.sign("s", body,
                                                                                                int(time.time()))})
    assert (result.status, result.outcome) == (409, "reused") and LedgerEntry.objects.count() == 1
    [recorded] = AuditEntry.objects.filter(action="payment_reference_refused")
    assert recorded.actor_name == "webhook:paynow" and recorded.changes["account"] == ["P1", "Q1"]


def test_references_are_per_integrator(client, clerk, make_operator, prepaid):
    other = make_operator(Role.FINANCE, username="property-system")
    assert pay(client, clerk).status_code == 201 and pay(client, other).status_code == 201
    prepaid.refresh_from_db()
    assert prepaid.balance == D("100.00")


@pytest.mark.parametrize("changes, status, reason", [
    ({"account": "NOPE"}, 404, "Not Found"),
    ({"currency": "USD"}, 400, "currency USD, the account is in CNY"),
    ({"method": "cheque"}, 400, "method is one of cash, pos, online"),
    ({"method": "online"}, 400, "an online payment names its provider"),
    ({"provider": "nobody"}, 400, "no enabled payment provider nobody"),
    ({"received_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, 400, "in the future"),
    ({"reference": "line\nbreak"}, 400, "printable"),
    ({"amount": "0"}, 422, ""),
    ({"amount": "1.234"}, 422, ""),
    ({"amount": "1e20"}, 422, ""),
    ({"received_at": "2026-03-01T00:00:00"}, 422, "offset"),
])
def test_a_payment_that_cannot_be_taken_says_why_and_credits_nothing(client, clerk, prepaid, changes, status, reason):
    response = pay(client, clerk, **changes)
    assert response.status_code == status, response.content
    assert reason in response.content.decode()
    assert not LedgerEntry.objects.exists()


def test_a_provider_payment_by_api_and_by_webhook_is_credited_once(client, clerk, prepaid):
    import json
    import time
    PaymentProvider.objects.create(code="paynow", name="PayNow", secret="s")
    made = pay(client, clerk, method="online", provider="paynow", reference="N-1")
    assert made.status_code == 201 and made.json()["provider"] == "paynow"
    body = json.dumps({"id": "N-1", "account": "P1", "amount": "50.00", "currency": "CNY",
                       "paid_at": datetime.now(UTC).isoformat()}).encode()
    result = payments.handle_webhook("paynow", body, {payments.SIGNATURE_HEADER: payments.sign("s", body,
                                                                                                int(time.time()))})
    assert result.outcome == "duplicate" and Payment.objects.count() == 1


def test_a_payment_restores_a_cut_off_prepaid_account(client, clerk, prepaid):
    Account.objects.filter(pk=prepaid.pk).update(supply="off")
    assert pay(client, clerk).status_code == 201
    prepaid.refresh_from_db()
    assert prepaid.supply == "on" and prepaid.supply_actions.get().action == "restore"


def test_payments_filter_by_account_site_method_and_time(client, clerk, prepaid, postpaid):
    early = datetime(2026, 3, 1, tzinfo=UTC)
    payments.take_payment(prepaid, D("1.00"), method="cash", received_at=early)
    payments.take_payment(postpaid, D("2.00"), method="pos", received_at=early + timedelta(days=1))
    refund = payments.refund(Payment.objects.get(account=prepaid), D("0.50"))
    auth = token_for(clerk, BILLING_VIEW)

    def amounts(query):
        response = client.get(f"/api/v1/payments?{query}", **auth)
        assert response.status_code == 200, response.content
        return [p["amount"] for p in response.json()["items"]]

    assert amounts("account=P1") == ["1.00", "0.50"] and amounts("method=pos") == ["2.00"]
    assert amounts("site=north&kind=refund") == ["0.50"]
    assert amounts("received_from=2026-03-02T00:00:00Z&received_to=2026-03-03T00:00:00Z") == ["2.00"]
    detail = client.get(f"/api/v1/payments/{refund.pk}", **auth).json()
    assert detail["refund_of"] == refund.refund_of_id and detail["kind"] == "refund"
    assert client.get("/api/v1/payments/999999", **auth).status_code == 404


def test_bills_by_account_and_period_with_their_lines(client, clerk, postpaid):
    bill = Bill.objects.create(account=postpaid, period="2026-02", period_start=date(2026, 2, 1),
                               period_end=date(2026, 3, 1), issued_on=date(2026, 3, 1), due_on=date(2026, 3, 16),
                               opening_balance=D(0), charges=D("60.00"), closing_balance=D("-60.00"),
                               amount_due=D("60.00"), volume=D(100), reads={"energy_import": ["0", "100"]})
    BillLine.objects.create(bill=bill, position=1, code="energy", quantity=D(100), unit="kWh",
                            unit_price=D("0.5"), amount=D("50.00"))
    BillLine.objects.create(bill=bill, position=2, code="standing", quantity=D(1), unit="month",
                            unit_price=D(10), amount=D("10.00"))
    auth = token_for(clerk, BILLING_VIEW)
    assert [b["id"] for b in client.get("/api/v1/bills?account=Q1&period=2026-02", **auth).json()["items"]] == [
        bill.pk]
    assert client.get("/api/v1/bills?period=2026-01", **auth).json()["items"] == []
    assert client.get("/api/v1/bills?period=Feb", **auth).status_code == 422
    detail = client.get(f"/api/v1/bills/{bill.pk}", **auth).json()
    assert (detail["amount_due"], detail["due_on"], detail["currency"]) == ("60.00", "2026-03-16", "CNY")
    assert [(line["code"], line["amount"]) for line in detail["lines"]] == [("energy", "50.00"),
                                                                            ("standing", "10.00")]
    assert client.get("/api/v1/bills/999999", **auth).status_code == 404


def test_a_customers_detail_lists_tenancies_and_accounts_and_the_address_only_to_the_entitled(client, clerk,
                                                                                              postpaid):
    premise = postpaid.premise
    premise.address = "1 Long Road, flat 3"
    premise.save()
    history.move_in(postpaid.customer, premise, datetime(2026, 1, 1, tzinfo=UTC))
    url = f"/api/v1/customers/{postpaid.customer_id}"
    plain = client.get(url, **token_for(clerk, BILLING_VIEW)).json()
    assert [a["number"] for a in plain["accounts"]] == ["Q1"] and plain["tenancies"][0]["unit"] == "Q1"
    assert plain["tenancies"][0]["address"] is None and plain["phone"] is None
    full = client.get(url, **token_for(clerk, BILLING_VIEW, CUSTOMERS_PERSONAL)).json()
    assert full["tenancies"][0]["address"] == "1 Long Road, flat 3"
    assert client.get("/api/v1/customers/999999", **token_for(clerk, BILLING_VIEW)).status_code == 404
    found = client.get(f"/api/v1/customers?meter={postpaid.meter.serial}&name=customer q",
                       **token_for(clerk, BILLING_VIEW)).json()
    assert [c["account_no"] for c in found["items"]] == ["Q1"]


def test_any_sequence_of_reported_payments_credits_each_reference_once(site, clerk):
    """Property: whatever references, amounts and accounts an integrator sends in whatever order, each reference
    credits its first payment once, a repeat credits nothing and a clash is refused and recorded; balances add
    up."""
    from django.db import transaction
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    sends = st.lists(st.tuples(st.sampled_from(["R1", "R2", "R3"]), st.sampled_from([D("1.00"), D("2.50")]),
                               st.sampled_from(["A", "B"])), max_size=12)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(sends)
    def check(sends):
        sid = transaction.savepoint()
        try:
            accounts = {n: make_account(site, n) for n in ("A", "B")}
            first: dict[str, tuple] = {}
            refused: list[tuple] = []
            for reference, amount, number in sends:
                try:
                    payment, created = payments.record_external(accounts[number], amount, reference=reference,
                                                                operator=clerk)
                except payments.ReferenceReused:
                    assert first[reference] != (number, amount)
                    if (reference, number, amount) not in refused:  # the same refusal again is recorded once
                        refused.append((reference, number, amount))
                    continue
                assert created == (reference not in first) and first.setdefault(reference, (number, amount)) == (
                    number, amount)
                assert payment.external_id == reference
            for number, account in accounts.items():
                account.refresh_from_db()
                expected = sum((a for n, a in first.values() if n == number), D(0))
                assert account.balance == expected == ledger.balance_of(account)
            assert LedgerEntry.objects.count() == len(first)
            recorded = AuditEntry.objects.filter(action="payment_reference_refused").order_by("id")
            assert [(r.changes["reference"][1], r.changes["account"][1], D(r.changes["amount"][1]))
                    for r in recorded] == refused
        finally:
            transaction.savepoint_rollback(sid)

    check()
