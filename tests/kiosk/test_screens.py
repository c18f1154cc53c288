"""The terminal's screens with the test client: pairing, looking an account up (and what is not
shown), the visit and its end, the meter read live, paying by QR and the receipt, the heartbeat."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import segno
from django.urls import reverse
from django.utils import timezone

from meterhub.accounts.models import AuditEntry
from meterhub.billing import payments, sandbox
from meterhub.billing.models import PaymentOrder
from meterhub.comms.models import BusLink, Command
from meterhub.kiosk import live, lookup, pairing, terminals, visits
from meterhub.kiosk.models import Lookup, Terminal


def look_up(client, number: str):
    return client.post(reverse("kiosk:start"), {"number": number})


@pytest.fixture
def visiting(kiosk, household):
    """The paired device with the prepaid account looked up."""
    assert look_up(kiosk, "C-100-E1").url == reverse("kiosk:account")
    return kiosk


def online(meter):
    BusLink.objects.create(collector=meter.collector, port=meter.bus_port, online=True, since=timezone.now(),
                           last_seen=timezone.now())


# --- pairing --------------------------------------------------------------------------------

def test_pairing_with_the_code_and_key_opens_the_start_screen(client, issued):
    page = client.post(reverse("kiosk:pair"), {"code": "LOBBY-1", "key": "0000-0000-0000-0000-0000"})
    assert page.status_code == 200 and "do not belong together" in page.content.decode()
    assert pairing.COOKIE not in page.cookies
    response = client.post(reverse("kiosk:pair"), {"code": "lobby-1", "key": issued.key.lower()})
    assert response.status_code == 302 and response.url == reverse("kiosk:start")
    cookie = response.cookies[pairing.COOKIE]
    assert cookie["httponly"] and cookie["path"] == "/kiosk/" and int(cookie["max-age"]) > 365 * 86400
    start = client.get(reverse("kiosk:start")).content.decode()
    assert 'id="lookup-form"' in start and f'data-heartbeat="{reverse("kiosk:heartbeat")}"' in start
    assert 'id="paired-as"' in client.get(reverse("kiosk:pair")).content.decode()


# --- looking up -----------------------------------------------------------------------------

def test_an_account_shows_the_masked_name_numbers_and_balance_and_nothing_personal(visiting, household):
    page = visiting.get(reverse("kiosk:account")).content.decode()
    assert re.search(r'id="masked-name">L\*\* W\*\*<', page)
    assert 'id="account-number">C-100-E1<' in page and 'id="meter-number">E100<' in page
    assert re.search(r'id="balance">CNY 35.20<', page)
    holder = household["prepaid"].customer
    assert holder.name not in page and holder.phone not in page and "3-2-201" not in page
    entry = AuditEntry.objects.get(action="kiosk.lookup")
    assert (entry.actor_name, entry.object_type, entry.changes["found"]) == ("kiosk:LOBBY-1", "account", [None, True])


def test_a_meter_number_finds_its_open_account_however_it_is_typed(kiosk, household):
    assert look_up(kiosk, " ｗ１００ ").url == reverse("kiosk:account")  # full-width, lower case, spaces
    page = kiosk.get(reverse("kiosk:account")).content.decode()
    assert 'id="account-number">C-100-W1<' in page and re.search(r'id="balance">CNY 48.60<', page)  # amount due
    assert Lookup.objects.get().by == Lookup.By.METER


@pytest.mark.parametrize("number", ["C-100-E0", "E099", "C-900-E1", "E900", "NOSUCH"],
                         ids=["closed account", "meter of a closed account", "other site", "other site's meter",
                              "unknown"])
def test_what_is_not_an_open_account_here_is_not_found(kiosk, household, number):
    page = look_up(kiosk, number)
    assert page.status_code == 200 and "No account has this number here" in page.content.decode()
    assert kiosk.get(reverse("kiosk:account")).url == reverse("kiosk:start")
    assert Lookup.objects.get().found is False
    assert AuditEntry.objects.get(action="kiosk.lookup").changes["found"] == [None, False]


def test_nothing_typed_is_refused_plainly(kiosk, household):
    assert "Type an account number or a meter number" in look_up(kiosk, "   ").content.decode()


def test_after_too_many_misses_the_terminal_looks_nothing_up_for_a_while(kiosk, household, terminal):
    for n in range(lookup.MISSES):
        look_up(kiosk, f"GUESS-{n}")
    page = look_up(kiosk, "C-100-E1").content.decode()  # a real number gets the same refusal
    assert "Many numbers were looked up here just now" in page and "L** W**" not in page
    assert Lookup.objects.filter(refused=True).count() == 1
    assert AuditEntry.objects.filter(action="kiosk.lookup_refused", actor_name="kiosk:LOBBY-1").count() == 1
    Lookup.objects.update(at=timezone.now() - lookup.WINDOW - timedelta(seconds=1))
    assert look_up(kiosk, "C-100-E1").url == reverse("kiosk:account")


# --- the visit ------------------------------------------------------------------------------

def test_finishing_clears_the_visit_and_the_language_chosen(visiting):
    visiting.post(reverse("kiosk:language"), {"language": "zh-hans", "next": reverse("kiosk:account")})
    assert "余额" in visiting.get(reverse("kiosk:account")).content.decode()
    assert visiting.post(reverse("kiosk:finish")).url == reverse("kiosk:start")
    assert visiting.get(reverse("kiosk:account")).url == reverse("kiosk:start")
    assert '<html lang="en">' in visiting.get(reverse("kiosk:start")).content.decode()  # the terminal's language


def test_back_at_the_start_the_account_is_put_away_but_the_language_stays(visiting):
    visiting.post(reverse("kiosk:language"), {"language": "zh-hans", "next": "https://elsewhere.example/"})
    visiting.get(reverse("kiosk:start"))
    assert visiting.get(reverse("kiosk:account")).url == reverse("kiosk:start")
    assert '<html lang="zh-hans">' in visiting.get(reverse("kiosk:start")).content.decode()


def test_a_visit_left_alone_ends(rf, terminal, household):
    from django.contrib.sessions.backends.db import SessionStore

    request = rf.get("/kiosk/account/")
    request.session = SessionStore()
    began = timezone.now()
    visits.start(request, terminal, household["prepaid"], began)
    assert visits.current(request, terminal, began + visits.IDLE).account == household["prepaid"]
    assert visits.current(request, terminal, began + 2 * visits.IDLE + timedelta(seconds=1)) is None
    visits.start(request, terminal, household["prepaid"], began)
    other = Terminal.objects.create(code="OTHER", name="Other", site=terminal.site, key_hash="x")
    assert visits.current(request, other, began) is None  # a visit belongs to its terminal


def test_the_terminal_taken_out_of_service_mid_visit_ends_the_visit(visiting, terminal):
    terminals.set_enabled(terminal, False, actor=None)
    page = visiting.get(reverse("kiosk:account"))
    assert page.status_code == 503 and "Out of service" in page.content.decode()
    terminals.set_enabled(terminal, True, actor=None)
    assert visiting.get(reverse("kiosk:account")).url == reverse("kiosk:start")


# --- the meter, live ------------------------------------------------------------------------

def test_an_offline_collector_is_said_at_once_and_nothing_is_queued(visiting):
    answer = visiting.post(reverse("kiosk:live")).json()
    assert (answer["state"], answer["final"]) == ("offline", True)
    assert "data collector is offline" in answer["message"] and "from our records" in answer["message"]
    assert not Command.objects.exists()


def test_a_live_read_is_queued_under_the_terminal_and_polled_to_the_answer(visiting, household):
    meter = household["prepaid"].meter
    online(meter)
    started = visiting.post(reverse("kiosk:live")).json()
    command = Command.objects.get()
    assert (command.kind, command.requested_by, command.params) == ("read_now", "kiosk:LOBBY-1",
                                                                     {"items": ["00010000", "04000503"]})
    assert command.valid_until - command.created_at <= live.VALID_FOR + timedelta(seconds=1)
    assert started["state"] == "reading" and not started["final"]
    assert started["poll"] == reverse("kiosk:live-answer", kwargs={"command": command.pk})
    command.status, command.finished_at = Command.Status.DONE, timezone.now()
    command.result = {"values": {"00010000": "1234.56", "04000503": "{...}"}, "relay_open": False}
    command.save()
    answer = visiting.get(started["poll"]).json()
    assert (answer["state"], answer["register"], answer["unit"], answer["relay"]) == ("ok", "1234.56", "kWh", "closed")
    assert AuditEntry.objects.get(action="command").actor_name == "kiosk:LOBBY-1"


def test_no_reply_in_time_is_said_and_reads_are_limited_per_visit(visiting, household):
    online(household["prepaid"].meter)
    started = visiting.post(reverse("kiosk:live")).json()
    Command.objects.update(valid_until=timezone.now() - timedelta(seconds=1))
    answer = visiting.get(started["poll"]).json()
    assert (answer["state"], answer["final"]) == ("no_reply", True) and "did not reply in time" in answer["message"]
    for _ in range(visits.READS - 1):
        visiting.post(reverse("kiosk:live"))
    assert visiting.post(reverse("kiosk:live")).json()["state"] == "limit"
    assert Command.objects.count() == visits.READS


def test_reads_of_another_visit_are_not_shown(visiting, household):
    online(household["prepaid"].meter)
    from meterhub.web import read_now

    theirs = read_now.request(household["prepaid"].meter, requested_by="someone")
    assert visiting.get(reverse("kiosk:live-answer", kwargs={"command": theirs.pk})).status_code == 404


def test_a_meter_that_cannot_be_read_live_shows_its_last_reading(kiosk, household):
    from meterhub.readings.models import Reading

    water = household["postpaid"].meter
    Reading.objects.create(meter=water, quantity="water_volume", ts=timezone.now(), value=Decimal("812.345"),
                           raw_value=Decimal("812.345"), unit="m³", source="scheduled")
    look_up(kiosk, "C-100-W1")
    page = kiosk.get(reverse("kiosk:account")).content.decode()
    assert 'data-state="unavailable"' in page and re.search(r'id="stored-reading">812.345 <small>m³', page)
    assert kiosk.post(reverse("kiosk:live")).json()["state"] == "unavailable"


# --- paying ---------------------------------------------------------------------------------

def pay(client, amount: str):
    return client.post(reverse("kiosk:pay"), {"amount": amount})


def test_paying_shows_a_qr_code_of_the_providers_page(visiting, household):
    response = pay(visiting, "100")
    order = PaymentOrder.objects.get()
    assert response.url == reverse("kiosk:order", kwargs={"number": order.number})
    assert (order.channel, order.requested_by, order.amount) == ("kiosk", "kiosk:LOBBY-1", Decimal("100.00"))
    page = visiting.get(response.url).content.decode()
    pay_url = re.search(r'id="qr" data-url="([^"]+)"', page).group(1)
    assert pay_url == f"http://testserver{reverse('checkout-sandbox', kwargs={'number': order.number})}"
    drawn = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    assert drawn == segno.make(pay_url, error="m", micro=False).svg_inline(scale=1, border=4, omitsize=True,
                                                                           dark="#111", light="#fff")
    entry = AuditEntry.objects.get(action="kiosk.order")
    assert entry.actor_name == "kiosk:LOBBY-1" and entry.changes["order"] == [None, order.number]


@pytest.mark.parametrize("amount, message", [("", "Choose an amount or type one"), ("abc", "Enter an amount"),
                                             ("0", "more than zero"),
                                             ("1.234", "at most two decimals"), ("99999999", "At most")])
def test_a_bad_amount_is_refused_on_the_account_screen(visiting, amount, message):
    page = pay(visiting, amount)
    assert page.status_code == 400 and message in page.content.decode()
    assert 'id="masked-name"' in page.content.decode() and not PaymentOrder.objects.exists()


def test_the_payment_arrives_and_the_receipt_shows_it(visiting, household):
    pay(visiting, "50")
    order = PaymentOrder.objects.get()
    status = reverse("kiosk:order-status", kwargs={"number": order.number})
    assert visiting.get(status).json() == {"status": "pending", "label": "Waiting for payment", "paid": False,
                                           "receipt": ""}
    body, headers = sandbox.notification(order)
    assert payments.handle_webhook("sandbox", body, headers).outcome == "credited"
    receipt_url = reverse("kiosk:receipt", kwargs={"number": order.number})
    assert visiting.get(status).json()["receipt"] == receipt_url
    assert visiting.get(reverse("kiosk:order", kwargs={"number": order.number})).url == receipt_url
    page = visiting.get(receipt_url).content.decode()
    order.refresh_from_db()
    assert f'id="receipt-no">{order.payment.receipt_no}<' in page
    assert 'id="receipt-amount">CNY 50.00<' in page and 'id="receipt-balance">CNY 85.20<' in page
    assert 'id="receipt-terminal">LOBBY-1 Service hall<' in page and "L** W**" in page and "Li Wei" not in page
    pdf = visiting.get(reverse("kiosk:receipt-pdf", kwargs={"number": order.number}))
    assert pdf["Content-Type"] == "application/pdf" and pdf["Content-Disposition"].startswith("inline")


def test_a_receipt_is_there_only_once_paid(visiting):
    pay(visiting, "50")
    number = PaymentOrder.objects.get().number
    assert visiting.get(reverse("kiosk:receipt", kwargs={"number": number})).url == \
        reverse("kiosk:order", kwargs={"number": number})
    assert visiting.get(reverse("kiosk:receipt-pdf", kwargs={"number": number})).status_code == 404


def test_orders_of_another_visit_are_not_shown(visiting, household):
    from meterhub.billing import checkout

    theirs = checkout.create_order(household["prepaid"], Decimal("10"), "portal")
    for name in ("kiosk:order", "kiosk:order-status", "kiosk:receipt", "kiosk:receipt-pdf"):
        assert visiting.get(reverse(name, kwargs={"number": theirs.order.number})).status_code == 404


def test_cancelling_goes_back_to_the_account(visiting):
    pay(visiting, "50")
    order = PaymentOrder.objects.get()
    response = visiting.post(reverse("kiosk:order-cancel", kwargs={"number": order.number}))
    assert response.url == reverse("kiosk:account")
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert AuditEntry.objects.filter(action="kiosk.order_cancel", actor_name="kiosk:LOBBY-1").count() == 1


# --- heartbeat ------------------------------------------------------------------------------

def test_the_heartbeat_marks_the_terminal_seen_and_says_whether_it_is_in_service(kiosk, terminal):
    answer = kiosk.post(reverse("kiosk:heartbeat"), {"version": "0.1.0"}, REMOTE_ADDR="10.0.0.9").json()
    assert answer["in_service"] is True
    seen = Terminal.objects.get(pk=terminal.pk)
    assert (seen.last_seen_ip, seen.app_version) == ("10.0.0.9", "0.1.0")
    assert terminals.state_of(seen) == terminals.ONLINE
    terminals.set_enabled(terminal, False, actor=None)
    assert kiosk.post(reverse("kiosk:heartbeat"), {"version": "0.1.0"}).json()["in_service"] is False
