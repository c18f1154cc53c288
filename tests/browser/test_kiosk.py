"""The self-service terminal in a real Chromium on a portrait kiosk screen (1080 x 1920): pair it
with its key, look a cut-off prepaid account up on the on-screen keyboard, see the meter read
live through the head-end (the relay open), pay by scanning the QR code (the customer's phone
is a second, phone-sized page opening the code's URL: the sandbox provider's page), see the
receipt and the simulated meter's relay close; then take the terminal out of service in the
console and watch the kiosk follow at its next heartbeat, and come back.

Real parts: as in test_portal.py (the sandbox page's signed webhook over HTTP, take_payment,
the prepaid restore, the command queue and the head-end speaking DL/T 645 to a simulated
meter over loopback TCP), plus the kiosk's read_now command and the console's terminal pages."""

from __future__ import annotations

import re

import pytest

from meterhub.billing.models import PaymentOrder
from meterhub.comms.models import Command
from meterhub.kiosk import terminals
from meterhub.kiosk.models import Terminal
from tests.browser.test_portal import ADDRESS, SHOTS, cut_off_home, fits_the_phone, wait_for  # noqa: F401

pytestmark = pytest.mark.browser
KIOSK = {"width": 1080, "height": 1920}


def shot(page, name: str, **options) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"kiosk-{name}.png"), **options)


def type_on_screen(page, text: str) -> None:
    for ch in text:
        page.click(f".keyboard [data-key='{ch}']")


@pytest.fixture
def lobby(cut_off_home, settings):  # noqa: F811 (the portal test's fixture: a cut-off prepaid home)
    settings.KIOSK_HEARTBEAT_S = 1
    account, field = cut_off_home
    issued = terminals.register(Terminal(code="LOBBY-1", name="Lobby kiosk", site=account.site,
                                         location="Service hall", language="en"), actor=None)
    return account, field, issued


def test_pay_at_the_terminal_and_take_it_out_of_service(new_page, operator_login, lobby):
    account, field, issued = lobby
    kiosk = new_page(**KIOSK)

    # pairing, once, by someone from the utility
    kiosk.goto("/kiosk/")
    kiosk.wait_for_url("**/kiosk/pair/")
    kiosk.fill("#id_code", "lobby-1")
    kiosk.fill("#id_key", issued.key.lower())
    shot(kiosk, "pair")
    kiosk.click("#pair-form button[type=submit]")
    kiosk.wait_for_selector("#lookup-form")
    assert "Service hall" in kiosk.inner_text("#terminal-where")
    wait_for(lambda: Terminal.objects.get(pk=issued.terminal.pk).last_seen_at is not None, 10, "a heartbeat")
    shot(kiosk, "start")

    # a customer types the account number on the screen's keyboard
    type_on_screen(kiosk, "C-555-E1")
    assert kiosk.input_value("#id_number") == "C-555-E1"
    kiosk.click("#lookup-form button[type=submit]")
    kiosk.wait_for_url("**/kiosk/account/")
    assert kiosk.inner_text("#masked-name") == "L** W**" and "Li Wei" not in kiosk.content()
    assert kiosk.inner_text("#balance") == "CNY -3.40"

    # the meter, read live through the head-end: its register, and its relay open (cut off)
    kiosk.wait_for_selector("#live[data-state=ok]", timeout=30_000)
    register = float(kiosk.inner_text("#live-register"))
    assert register == pytest.approx(field.meter(ADDRESS).energy_kwh, abs=1.0)
    assert kiosk.inner_text("#live-relay") == "Off"
    read = Command.objects.get(kind="read_now")
    assert read.requested_by == "kiosk:LOBBY-1" and read.result["relay_open"] is True
    shot(kiosk, "account")

    # pay 100 by QR: the customer's phone opens what the code says
    kiosk.click("button[data-amount='100']")
    kiosk.wait_for_url("**/kiosk/orders/**")
    assert kiosk.inner_text("#order-amount") == "CNY 100.00"
    pay_url = kiosk.get_attribute("#qr", "data-url")
    assert kiosk.locator("#qr svg path").count() >= 1
    shot(kiosk, "qr")
    phone = new_page(width=390, height=844)
    phone.goto(pay_url)
    assert phone.inner_text("#sandbox-amount") == "CNY 100.00"
    phone.click("#sandbox-pay")
    phone.wait_for_selector("#sandbox-order[data-status=paid]")

    # the kiosk moves on by itself: the receipt, to print or as PDF
    order = PaymentOrder.objects.get()
    kiosk.wait_for_url(f"**/kiosk/orders/{order.number}/receipt/")
    order.refresh_from_db()
    assert kiosk.inner_text("#receipt-no") == order.payment.receipt_no
    assert kiosk.inner_text("#receipt-amount") == "CNY 100.00"
    assert kiosk.inner_text("#receipt-balance") == "CNY 96.60"
    assert kiosk.inner_text("#receipt-terminal") == "LOBBY-1 Service hall"
    shot(kiosk, "receipt")
    kiosk.emulate_media(media="print")
    assert not kiosk.is_visible("#print") and kiosk.is_visible("#receipt")
    shot(kiosk, "receipt-print")
    kiosk.emulate_media(media="screen")
    pdf = kiosk.request.get(kiosk.get_attribute("#receipt-pdf", "href"))
    assert pdf.headers["content-type"] == "application/pdf" and pdf.body()[:5] == b"%PDF-"
    wait_for(lambda: not field.meter(ADDRESS).relay_open, 30, "the relay closed again")

    kiosk.click("#finish")
    kiosk.wait_for_selector("#lookup-form")
    assert kiosk.input_value("#id_number") == ""

    # the console sees it online, and takes it out of service
    console = new_page()
    operator_login(console, "operator")
    console.goto("/settings/terminals/")
    assert console.get_attribute("tr[data-terminal='LOBBY-1'] [data-state]", "data-state") == "online"
    shot(console, "console-list", full_page=True)
    console.click("tr[data-terminal='LOBBY-1'] a")
    console.click("#terminal-disable")
    assert console.get_attribute("#terminal-state [data-state]", "data-state") == "disabled"
    shot(console, "console-terminal", full_page=True)
    kiosk.wait_for_selector("#out-of-service", timeout=10_000)
    assert "Out of service" in kiosk.inner_text("h1")
    shot(kiosk, "out-of-service")

    # back in service: the kiosk returns to its start screen by itself
    console.click("#terminal-enable")
    kiosk.wait_for_selector("#lookup-form", timeout=10_000)


def test_the_terminal_in_chinese_on_a_tablet_and_a_phone_and_its_idle_timeout(new_page, lobby, monkeypatch):
    from meterhub.kiosk import pages

    monkeypatch.setitem(pages.IDLE_S, "account", 20)
    account, _field, issued = lobby
    tablet = new_page(width=768, height=1024)
    tablet.goto("/kiosk/pair/")
    tablet.fill("#id_code", "LOBBY-1")
    tablet.fill("#id_key", issued.key)
    tablet.click("#pair-form button[type=submit]")
    tablet.wait_for_selector("#lookup-form")
    tablet.click("form.lang button")
    tablet.wait_for_selector("html[lang=zh-hans]")
    assert "查询" in tablet.inner_text("main")
    shot(tablet, "start-zh-tablet")
    tablet.fill("#id_number", "e555")  # the meter number, typed any way
    tablet.click("#lookup-form button[type=submit]")
    tablet.wait_for_url("**/kiosk/account/")
    assert "余额" in tablet.inner_text("#money")
    tablet.wait_for_selector("#live[data-state=ok]", timeout=30_000)
    assert tablet.inner_text("#live-relay") == "断电"
    assert fits_the_phone(tablet)
    shot(tablet, "account-zh-tablet", full_page=True)

    # nobody touches it: "still there?", then the start screen, in the terminal's own language
    tablet.wait_for_selector("#idle:not([hidden])", timeout=20_000)
    shot(tablet, "idle-zh-tablet")
    tablet.wait_for_selector("#lookup-form", timeout=15_000)
    assert tablet.get_attribute("html", "lang") == "en"
    tablet.goto("/kiosk/account/")
    tablet.wait_for_selector("#lookup-form")  # the visit is over

    phone = new_page(width=360, height=740)
    phone.context.add_cookies(tablet.context.cookies())
    phone.goto("/kiosk/")
    phone.fill("#id_number", "C-555-E1")
    phone.click("#lookup-form button[type=submit]")
    phone.wait_for_url("**/kiosk/account/")
    assert fits_the_phone(phone)
    shot(phone, "account-phone", full_page=True)
    assert re.fullmatch(r"CNY -3\.40", phone.inner_text("#balance"))
