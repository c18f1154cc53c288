"""The customer portal in a real Chromium on a phone (390 x 844): sign in with an SMS code,
bind the account (the code goes to the holder's registered phone), see usage, recharge
through the sandbox provider's page, and see the relay of a simulated meter close.

Real parts: the portal pages, the SMS outbox row the code is read from, the sandbox page's
signed webhook over HTTP to our own endpoint, take_payment and the prepaid restore, the
durable command queue, the head-end's command worker speaking DL/T 645 to a simulated meter
over loopback TCP, and the status read back from the meter."""

from __future__ import annotations

import os
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from meterhub.aggregates.models import MeterDay, MeterMonth
from meterhub.assets.models import Collector, Customer, Meter, Premise, Site
from meterhub.billing import ledger, prepaid
from meterhub.billing.models import Account, BillingSettings, PaymentOrder, PaymentProvider, Tariff
from meterhub.comms.models import Command
from meterhub.portal.usage import months_back
from meterhub.seals.models import Seal
from tests.portal.conftest import HOLDER_ID, HOLDER_NAME, HOLDER_PHONE, code_sent_to

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("METERHUB_SCREENSHOTS", "/tmp/meterhub-screenshots"))
ADDRESS = "240101000555"
FAMILY_PHONE = "13700000002"  # signs in; the holder's phone gets the binding code


def fleet(port: int) -> dict:
    meter = {"address": ADDRESS, "options": {"password": "123456", "operators": ("00000001",)}}
    return {"seed": 11, "headend": f"127.0.0.1:{port}", "time_scale": 0.05,
            "defaults": {"reconnect_min_s": 0.05, "reconnect_max_s": 0.2},
            "collectors": [{"code": "DTU-P", "registration_id": "REG-P", "buses": [{"baud": 9600,
                                                                                   "meters": [meter]}]}]}


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


@pytest.fixture
def cut_off_home(simulated_field):
    """A prepaid customer whose balance ran out: the relay of their (simulated) meter was opened
    by billing's cut-off command, carried out by the head-end."""
    site = Site.objects.create(code="north", name="North Estate", time_zone="Asia/Shanghai", currency="CNY")
    BillingSettings.objects.create(site=site, quiet_from="00:00", quiet_until="00:00", no_cutoff_weekends=False,
                                   no_cutoff_holidays=False)
    Tariff.objects.create(site=site, code="flat", name="Flat", utility="electricity", valid_from=date(2020, 1, 1),
                          definition={"energy": {"price": "0.60"}})
    collector = Collector.objects.create(code="DTU-P", site=site, registration_id="REG-P")
    meter = Meter.objects.create(serial="E555", site=site, address=ADDRESS, collector=collector, baud_rate=9600,
                                 switch="relay", payment_mode="prepaid", password="02123456",
                                 operator_code="00000001")
    holder = Customer.objects.create(account_no="C-555", name=HOLDER_NAME, phone=HOLDER_PHONE, id_number=HOLDER_ID,
                                     language="en")
    premise = Premise.objects.create(site=site, unit="3-2-201")
    account = Account.objects.create(number="C-555-E1", site=site, customer=holder, premise=premise, meter=meter,
                                     utility="electricity", payment_mode="prepaid", opened_on=date(2025, 1, 1))
    ledger.post(account, "consumption", Decimal("-3.40"), key="ran-out", source="test")
    Seal.objects.create(serial="S004217", seal_type="smart", state="installed", meter=meter, position="meter_cover",
                        updated_at=timezone.now())
    Seal.objects.create(serial="S004218", seal_type="wire", state="installed", meter=meter,
                        position="terminal_cover", updated_at=timezone.now())
    today = timezone.now().astimezone(ZoneInfo(site.time_zone)).date()  # the site's day, as the portal's
    for back in range(35):
        day = today - timedelta(days=back)
        used = Decimal("6.5") + Decimal(back % 7) * Decimal("0.9") - (Decimal(3) if back == 0 else 0)
        MeterDay.objects.create(meter=meter, quantity="energy_import", day=day, site=site, kind="electricity",
                                start_value=Decimal(0), end_value=used, consumption=used, unit="kWh", complete=True)
    for back in range(1, 12):
        MeterMonth.objects.create(meter=meter, quantity="energy_import", month=months_back(today.replace(day=1), back),
                                  site=site, kind="electricity", consumption=Decimal(180 + 25 * (back % 5)),
                                  unit="kWh", days=30)
    PaymentProvider.objects.create(code="sandbox", name="Sandbox Pay", secret="sandbox-secret", sandbox=True)
    field = simulated_field(fleet)
    prepaid.enforce(account)  # the cut-off, through the command queue
    wait_for(lambda: field.meter(ADDRESS).relay_open, 30, "the relay opened")
    wait_for(lambda: Command.objects.filter(kind="relay_trip", status="done").exists(), 10, "the trip confirmed")
    return account, field


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"portal-{name}.png"), full_page=True)


def fits_the_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_bind_see_usage_recharge_and_the_relay_closes(new_page, cut_off_home):
    account, field = cut_off_home
    page = new_page(width=390, height=844)

    # sign in with a code sent by SMS to the phone in hand
    page.goto("/portal/")
    page.wait_for_url("**/portal/signin/**")
    shot(page, "sign-in")
    page.fill("#id_phone", FAMILY_PHONE)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_url("**/portal/signin/code/")
    page.fill("#id_code", code_sent_to(FAMILY_PHONE))
    page.click("#code-form button[type=submit]")
    page.wait_for_url("**/portal/")
    assert "Bind your first account" in page.inner_text("main")

    # bind the account: the holder's details, and the code sent to the holder's registered phone
    page.click("#bind-link")
    page.fill("#id_account_number", "C-555-E1")
    page.fill("#id_name", HOLDER_NAME)
    page.fill("#id_id_number", HOLDER_ID)
    shot(page, "bind")
    page.click("#bind-form button[type=submit]")
    page.wait_for_url("**/portal/bind/code/")
    assert "138****0001" in page.inner_text("main")
    page.fill("#id_code", code_sent_to(HOLDER_PHONE))
    page.click("#bind-code-form button[type=submit]")
    page.wait_for_url(f"**/portal/accounts/{account.pk}/")
    assert page.inner_text("#balance") == "CNY -3.40"
    assert page.get_attribute("#supply", "data-state") == "off"
    assert page.locator(".seals li.intact").count() == 2
    assert fits_the_phone(page)
    shot(page, "account-cut-off")

    # usage: 30 days and 12 months
    page.click("#usage-link")
    assert page.get_attribute("#daily svg", "data-bars") == "30"
    assert int(page.get_attribute("#monthly svg", "data-bars")) == 12
    assert fits_the_phone(page)
    shot(page, "usage")
    page.go_back()

    # recharge through the sandbox provider's page
    page.click("#recharge-link")
    page.click("button[data-amount='100']")
    shot(page, "recharge")
    page.click("#recharge-form button[type=submit]")
    page.wait_for_url("**/billing/checkout/sandbox/**")
    assert page.inner_text("#sandbox-amount") == "CNY 100.00"
    shot(page, "sandbox-provider")
    page.click("#sandbox-pay")

    # back on our page: the credit arrives, then the meter confirms the supply is back
    order = PaymentOrder.objects.get()
    page.wait_for_url(f"**/portal/accounts/{account.pk}/orders/{order.number}/")
    page.wait_for_selector("#order[data-order=paid]")
    assert page.inner_text("#order-balance") == "CNY 96.60"
    page.wait_for_selector("#supply-steps li[data-step=confirmed].done", timeout=30_000)
    assert page.get_attribute("#supply", "data-state") == "on"
    assert not field.meter(ADDRESS).relay_open, "the simulated meter's relay is closed"
    restore = Command.objects.get(kind="relay_direct_close")
    assert restore.status == "done" and restore.result.get("relay_open") is False
    assert fits_the_phone(page)
    shot(page, "payment-received")

    page.goto(f"/portal/accounts/{account.pk}/payments/")
    shot(page, "payments")
    page.goto(f"/portal/accounts/{account.pk}/contact/")
    shot(page, "contact")
    page.goto("/portal/")
    shot(page, "home")

    # the same in Simplified Chinese, one tap away
    page.goto(f"/portal/accounts/{account.pk}/")
    page.click("form.lang button")
    page.wait_for_selector("html[lang=zh-hans]")
    assert "余额" in page.inner_text("#money") and page.inner_text("#supply-label") == "供应正常"
    assert fits_the_phone(page)
    shot(page, "account-zh")
    page.goto(f"/portal/accounts/{account.pk}/usage/")
    shot(page, "usage-zh")
