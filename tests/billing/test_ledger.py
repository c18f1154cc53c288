"""The ledger: append-only, balance = sum of entries, and no interleaving of recharges,
consumption charges, refunds, bill runs and payment references (repeated, or reused for another
account or amount) creates or loses money."""

import json
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from meterhub.accounts.models import AuditEntry
from meterhub.billing import ledger, payments, prepaid, settlement
from meterhub.billing.models import Account, LedgerEntry, Payment, PaymentProvider
from tests.billing.conftest import local, make_account, store

D = Decimal
PRICE, STANDING = D("0.37"), D("10")


@pytest.mark.django_db
def test_entries_cannot_be_changed_or_deleted(site):
    account = make_account(site, "X1")
    entry = ledger.post(account, "correction", D("1.50"), key="k1", source="test").entry
    entry.amount = D(100)
    with pytest.raises(ValidationError, match="append-only"):
        entry.save()
    with pytest.raises(ValidationError, match="append-only"):
        entry.delete()


@pytest.mark.django_db
def test_the_database_refuses_updates_on_postgresql(site):
    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's; SQLite has the model guard above")
    account = make_account(site, "X1")
    ledger.post(account, "correction", D("1.50"), key="k1", source="test")
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(key="k1").update(amount=D(9))
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(key="k1").delete()


@pytest.mark.django_db
def test_a_key_posts_once_and_cannot_be_reused_for_something_else(site):
    account = make_account(site, "X1")
    first = ledger.post(account, "recharge", D(10), key="same", source="test")
    second = ledger.post(account, "recharge", D(10), key="same", source="test")
    assert first.created and not second.created and second.entry == first.entry
    with pytest.raises(IntegrityError, match="different posting"):
        ledger.post(account, "recharge", D(11), key="same", source="test")
    with pytest.raises(TypeError):
        ledger.post(account, "recharge", 10.0, key="float", source="test")
    with pytest.raises(TypeError):
        ledger.post(account, "recharge", D("0.001"), key="mill", source="test")
    account.refresh_from_db()
    assert account.balance == D(10) == ledger.balance_of(account)


def money(x: Decimal) -> Decimal:
    return x.quantize(D("0.01"), rounding=ROUND_HALF_UP)


class LedgerMachine(RuleBasedStateMachine):
    """Two accounts (prepaid, postpaid) on a flat tariff; the model keeps the money that
    came in and went out independently of the ledger."""

    def __init__(self):
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.sid = transaction.savepoint()

    @initialize()
    def setup(self):
        from meterhub.assets.models import Site
        from meterhub.billing.models import Tariff

        site = Site.objects.create(code="s", name="S")
        Tariff.objects.create(site=site, code="t", name="T", utility="electricity",
                              valid_from=local(2026, 1, 1).date(),
                              definition={"energy": {"price": str(PRICE)}, "standing_charge": str(STANDING)})
        self.site = site
        self.accounts = {mode: make_account(site, mode.upper(), mode=mode) for mode in ("prepaid", "postpaid")}
        self.register = {mode: D(0) for mode in self.accounts}
        self.hour = 0
        for account in self.accounts.values():
            store(account.meter, local(2026, 11, 29, 0, 30), energy_import=0)
        self.paid_in = D(0)  # recharges and payments, minus refunds
        self.keys: list[tuple[str, str, Decimal]] = []
        self.billed: dict[str, Decimal] = {}
        self.refundable: list[Payment] = []
        prepaid.charge_account(self.accounts["prepaid"].pk)  # the opening read: no charge
        self.provider = PaymentProvider.objects.create(code="paynow", name="PayNow", secret="whsec")
        self.references: dict[str, tuple[str, Decimal]] = {}  # the provider's reference -> what it credited
        self.refused: set[tuple] = set()  # distinct refusals: a sender's retry of one is recorded once

    @rule(mode=st.sampled_from(["prepaid", "postpaid"]), amount=st.decimals(min_value=D("0.01"), max_value=200,
                                                                             places=2), repeat=st.integers(1, 3))
    def pay(self, mode, amount, repeat):
        key = f"pay:{len(self.keys)}"
        for _ in range(repeat):  # a retried notification or a double click
            payment = payments.take_payment(self.accounts[mode], amount, method="cash", key=key)
        self.keys.append((mode, key, amount))
        self.paid_in += amount
        self.refundable.append(payment)

    @rule(via=st.sampled_from(["webhook", "api"]), reference=st.sampled_from(["N-1", "N-2"]),
          mode=st.sampled_from(["prepaid", "postpaid"]), amount=st.sampled_from([D("5.00"), D("7.50")]))
    def pay_by_reference(self, via, reference, mode, amount):
        """A provider's reference by its webhook or an integrator's report: a repeat credits nothing, the
        same reference for another account or amount is refused (409) and recorded, never credited."""
        account = self.accounts[mode]
        if via == "webhook":
            body = json.dumps({"id": reference, "account": account.number, "amount": str(amount),
                               "currency": self.site.currency, "paid_at": timezone.now().isoformat()}).encode()
            result = payments.handle_webhook("paynow", body, {
                payments.SIGNATURE_HEADER: payments.sign("whsec", body, int(timezone.now().timestamp()))})
            refused, payment = result.status == 409, result.payment
        else:
            try:
                payment, _ = payments.record_external(account, amount, reference=reference, operator=None,
                                                      method="online", provider=self.provider)
                refused = False
            except payments.ReferenceReused:
                refused, payment = True, None
        first = self.references.setdefault(reference, (mode, amount))
        assert refused == (first != (mode, amount))
        if refused:
            self.refused.add((reference, mode, amount, via))
        elif payment.entry.key not in {k for _, k, _ in self.keys}:
            self.keys.append((mode, payment.entry.key, amount))
            self.paid_in += amount
            self.refundable.append(payment)

    @invariant()
    def every_refused_reference_is_recorded(self):
        assert AuditEntry.objects.filter(action=payments.REFUSED).count() == len(self.refused)

    @precondition(lambda self: self.refundable)
    @rule(data=st.data())
    def refund(self, data):
        payment = data.draw(st.sampled_from(self.refundable))
        left = payment.amount - sum((r.amount for r in payment.refunds.all()), D(0))
        if left > 0:
            amount = data.draw(st.decimals(min_value=D("0.01"), max_value=left, places=2))
            payments.refund(payment, amount)
            self.paid_in -= amount

    @rule(mode=st.sampled_from(["prepaid", "postpaid"]), used=st.decimals(min_value=0, max_value=50, places=3),
          reprocess=st.booleans())
    def read(self, mode, used, reprocess):
        self.hour += 1
        self.register[mode] += used
        store(self.accounts[mode].meter, local(2026, 11, 29, 0, 30) + timedelta(hours=self.hour),
              energy_import=self.register[mode])
        prepaid.charge_meter_days([(self.accounts[mode].meter_id, None)])
        if reprocess:
            prepaid.charge_meter_days([(self.accounts[mode].meter_id, None)])

    @rule()
    def bill_run(self):
        if not self.billed:  # the first run fixes what is billed; later runs must add nothing
            self.billed = {"postpaid": money(self.register["postpaid"] * PRICE) + STANDING, "prepaid": STANDING}
        settlement.run(self.site, "2026-11", batch_size=1)

    @invariant()
    def balance_is_the_sum_of_entries(self):
        for account in Account.objects.all():
            assert account.balance == ledger.balance_of(account)

    @invariant()
    def no_money_created_or_lost(self):
        charged = money(self.register["prepaid"] * PRICE)  # the exact total, rounded once
        billed = sum(self.billed.values(), D(0))
        entries = LedgerEntry.objects.all()
        assert sum(e.amount for e in entries) == self.paid_in - charged - billed
        consumption = sum(e.amount for e in entries if e.kind == "consumption")
        assert consumption == -charged

    def teardown(self):
        transaction.savepoint_rollback(self.sid)
        self.atomic.__exit__(None, None, None)


@pytest.mark.django_db
def test_no_interleaving_creates_or_loses_money():
    run_state_machine_as_test(LedgerMachine, settings=settings(
        max_examples=40, stateful_step_count=15, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
