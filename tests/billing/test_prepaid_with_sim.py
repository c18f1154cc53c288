"""End to end with the simulated field: a prepaid meter runs down while friendly hours hold
the cut-off back, then its relay trips (the simulated load stops), a recharge arrives by
webhook and the relay closes again.

The real parts: the head-end (read plan scheduler, command worker, dirty-day processing,
database sink), the simulated collector and DL/T 645 meter over loopback TCP, the
webhook endpoint. Only the speed is changed: the meter draws several kWh a second, the
read plan runs every three seconds.
"""

from __future__ import annotations

import asyncio
import json
import time as wallclock
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from meterhub import runtime
from meterhub.assets.models import Collector, Customer, Meter, Site
from meterhub.billing import ledger, payments
from meterhub.billing.models import Account, BillingSettings, PaymentProvider, SupplyAction, Tariff
from meterhub.comms.models import Command, ReadPlan
from meterhub.readings.processing import run_processing
from meterhub.sim.fleet import Fleet as SimFleet
from meterhub.sim.fleet import parse_fleet

pytestmark = pytest.mark.django_db(transaction=True)
ADDRESS, CYCLE_S = "240101000077", 3.0
# How long a step may take before the test gives up. Generous: how fast the trip and the
# close come is a figure for benchmarks, not a pass mark (a loaded machine slows both);
# that a payment queues the restore at once, without waiting for a read, is proven in
# tests/billing/test_checkout.py and test_prepaid.py.
SETTLE_S = 10 * CYCLE_S
ENERGY = 0x00010000  # DL/T 645-2007 total forward active energy
SECRET = "e2e-secret"


def field(port: int) -> dict:
    meter = {"address": ADDRESS, "scale": 9000.0,  # about 2.5 kWh a second: 2.00 CNY lasts a moment
             "options": {"password": "123456", "operators": ("00000001",)}}
    return {"seed": 8, "headend": f"127.0.0.1:{port}", "time_scale": 0.05,
            "defaults": {"reconnect_min_s": 0.05, "reconnect_max_s": 0.2},
            "collectors": [{"code": "DTU-E2E", "registration_id": "REG-E2E",
                            "buses": [{"baud": 9600, "meters": [meter]}]}]}


@pytest.fixture
def prepaid_site():
    site = Site.objects.create(code="e2e", name="E2E", time_zone="Asia/Shanghai")
    local_now = datetime.now(UTC).astimezone(ZoneInfo(site.time_zone))
    # friendly hours around now: the cut-off must wait
    BillingSettings.objects.create(site=site, quiet_from=(local_now - timedelta(hours=1)).time(),
                                   quiet_until=(local_now + timedelta(hours=1)).time(), no_cutoff_weekends=False,
                                   no_cutoff_holidays=False, low_balance_thresholds=["1"])
    Tariff.objects.create(site=site, code="flat", name="Flat", utility="electricity", valid_from=date(2020, 1, 1),
                          definition={"energy": {"price": "1.00"}})
    collector = Collector.objects.create(code="DTU-E2E", site=site, registration_id="REG-E2E")
    meter = Meter.objects.create(serial="E2E1", site=site, address=ADDRESS, collector=collector, baud_rate=9600,
                                 switch="relay", payment_mode="prepaid", password="02123456",
                                 operator_code="00000001")
    customer = Customer.objects.create(account_no="C-E2E", name="Prepaid customer")
    account = Account.objects.create(number="P-E2E", site=site, customer=customer, meter=meter,
                                     utility="electricity", payment_mode="prepaid", opened_on=date(2020, 1, 1))
    ledger.post(account, "recharge", Decimal("2.00"), key="opening-credit", source="test")
    ReadPlan.objects.create(name="fast", cron="* * * * * */3", items="instant", site=site, jitter_s=0)
    PaymentProvider.objects.create(code="paynow", name="PayNow", secret=SECRET)
    return account


def _state(account_id: int) -> dict:
    account = Account.objects.get(pk=account_id)
    return {"balance": account.balance, "supply": account.supply,
            "actions": list(SupplyAction.objects.filter(account=account).order_by("id").values_list("action", flat=True)),
            "commands": list(Command.objects.order_by("id").values_list("kind", "status"))}


def _webhook(number: str, amount: str) -> int:
    body = json.dumps({"id": "TX-1", "account": number, "amount": amount, "currency": "CNY",
                       "paid_at": datetime.now(UTC).isoformat()}).encode()
    header = payments.sign(SECRET, body, int(wallclock.time()))
    response = Client().post("/billing/webhooks/paynow/", body, content_type="application/json",
                             HTTP_X_METERHUB_SIGNATURE=header)
    return response.status_code


async def _until(check, timeout: float, what: str, step: float = 0.1):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(step)


def test_prepaid_meter_runs_down_trips_recharges_and_closes(prepaid_site):
    account_id = prepaid_site.pk
    paid: dict = {}  # the recharge, sent again at the end

    async def scenario():
        headend, scheduler, worker = runtime.build_headend("e2e")
        scheduler.tick_s, worker.interval_s = 0.2, 0.2
        port = await headend.start("127.0.0.1", 0)
        sim = SimFleet(parse_fleet(field(port)))
        await sim.start(timeout=20)
        tasks = [asyncio.create_task(t) for t in (scheduler.run(), worker.run(),
                                                     run_processing(headend.blocking.run, interval_s=0.2))]
        state = lambda: headend.blocking.run(_state, account_id)  # noqa: E731
        simulated = sim.meter(ADDRESS)
        try:
            # 1. the balance runs out inside friendly hours: held back, recorded, supply stays on
            held = await _until(lambda: _held(state), 30, "balance exhausted and the cut-off held")
            assert held["balance"] <= 0 and held["supply"] == "on" and not held["commands"]
            await asyncio.sleep(2 * CYCLE_S)  # more read cycles: still no trip
            assert not simulated.relay_open and not (await state())["commands"]

            # 2. friendly hours end: the next read cycle trips the relay and the load stops
            await headend.blocking.run(lambda: BillingSettings.objects.filter(
                site=prepaid_site.site_id).update(quiet_from="00:00", quiet_until="00:00"))
            await _until(lambda: _async(lambda: simulated.relay_open), SETTLE_S, "the relay tripped")
            await _until(lambda: _command_done(state, "relay_trip"), 5, "the trip confirmed")
            energy = await _register(headend)
            await asyncio.sleep(1.0)
            assert await _register(headend) == energy, "current flows through an open relay"

            # 3. a recharge by webhook closes the relay again
            # on the head-end's database thread: the in-memory SQLite of the tests takes one
            # writer at a time across threads (a file database waits its turn instead)
            # enough to clear what was used before the trip (a loaded machine trips later, and
            # the meter uses 2.5 CNY a second) and leave credit
            owed = max(Decimal(0), -(await state())["balance"])
            paid["amount"] = f"{owed.quantize(Decimal(1), rounding=ROUND_CEILING) + 50}.00"
            assert await headend.blocking.run(_webhook, "P-E2E", paid["amount"]) == 200
            await _until(lambda: _async(lambda: not simulated.relay_open), SETTLE_S, "the relay closed")
            await _until(lambda: _command_done(state, "relay_direct_close"), 5, "the close confirmed")
            await asyncio.sleep(1.0)
            assert await _register(headend) > energy, "the load came back"
            return await state()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await sim.stop()
            await headend.close()

    final = asyncio.run(scenario())
    assert final["supply"] == "on" and final["balance"] > 0
    assert final["actions"] == ["held", "cut", "restore"]
    assert [k for k, _s in final["commands"]] == ["relay_trip", "relay_direct_close"]
    # the same notification again credits nothing
    before = Account.objects.get(pk=account_id).balance
    assert _webhook("P-E2E", paid["amount"]) == 200
    assert Account.objects.get(pk=account_id).balance == before


async def _register(headend) -> float:
    """The meter's total energy register, read over the bus now."""
    return (await headend.read_meter("E2E1", [ENERGY]))[ENERGY]


async def _async(fn):
    return fn()


async def _held(state):
    s = await state()
    return s if "held" in s["actions"] else None


async def _command_done(state, kind):
    return (kind, "done") in (await state())["commands"]
