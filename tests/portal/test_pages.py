"""The portal's pages for a bound account: money, supply, usage, seals, bills, payments,
statements, recharge, reconnection, messages, contact preferences; the installable app."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from meterhub.accounts.models import AuditEntry
from meterhub.aggregates.models import MeterDay, MeterMonth
from meterhub.billing import payments, sandbox
from meterhub.billing.models import Account, Bill, PaymentOrder, SupplyAction
from meterhub.comms.models import Command
from meterhub.notifications.dispatch import enqueue
from meterhub.notifications.models import ContactPreference
from meterhub.seals.models import Seal

pytestmark = pytest.mark.django_db
D = Decimal


def page(client, name, account=None, **kwargs):
    if account is not None:
        kwargs["pk"] = account.pk
    response = client.get(reverse(f"portal:{name}", kwargs=kwargs))
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def today_local():
    return timezone.now().astimezone(ZoneInfo("Asia/Shanghai")).date()


def day_row(account, day, used):
    meter = account.meter
    quantity = {"electricity": "energy_import", "water": "water_volume"}[meter.kind]
    MeterDay.objects.create(meter=meter, quantity=quantity, day=day, site=meter.site, kind=meter.kind,
                            start_value=D(0), end_value=D(used), consumption=D(used), unit="kWh", complete=True)


def test_home_lists_the_bound_accounts_only(signed_in_portal, bound):
    html = page(signed_in_portal, "home")
    assert 'data-account="C-100-E1"' in html and 'data-account="C-100-W1"' in html
    assert "C-200" not in html
    assert "CNY 35.20" in html and "CNY 48.60" in html  # prepaid balance, postpaid amount due


def test_an_unbound_customer_is_asked_to_bind(signed_in_portal, estate):
    assert "Bind your first account" in page(signed_in_portal, "home")


def test_the_account_page_shows_money_supply_usage_and_seals(signed_in_portal, bound):
    from meterhub.alarms.services import raise_alarm

    prepaid = bound["prepaid"]
    day_row(prepaid, today_local(), "4.25")
    day_row(prepaid, today_local() - timedelta(days=1), "6.5")
    now = timezone.now()
    Seal.objects.create(serial="S000101", seal_type="wire", state="installed", meter=prepaid.meter,
                        position="meter_cover", updated_at=now)
    Seal.objects.create(serial="S000102", seal_type="smart", state="installed", meter=prepaid.meter,
                        position="terminal_cover", updated_at=now)
    Seal.objects.create(serial="S000103", seal_type="wire", state="removed", meter=prepaid.meter, updated_at=now)
    html = page(signed_in_portal, "account", prepaid)
    assert 'id="balance">CNY 35.20' in html and "Supply on" in html and 'id="recharge-link"' in html
    assert "4.25 kWh" in html and 'data-bars="2"' in html
    assert 'data-seal="S000101" class="intact"' in html and "S000103" not in html
    raise_alarm("seal_open", now, meter=prepaid.meter)
    html = page(signed_in_portal, "account", prepaid)
    assert 'data-seal="S000102" class="attention"' in html and "we are checking it" in html


def test_a_postpaid_account_shows_the_amount_due_and_its_bill(signed_in_portal, bound):
    water = bound["postpaid"]
    Bill.objects.create(account=water, period="2026-04", period_start=date(2026, 4, 1), period_end=date(2026, 5, 1),
                        issued_on=date(2026, 5, 1), due_on=date(2026, 5, 16), opening_balance=D(0),
                        charges=D("48.60"), closing_balance=D("-48.60"), amount_due=D("48.60"), volume=D("12.5"))
    html = page(signed_in_portal, "account", water)
    assert 'id="amount-due">CNY 48.60' in html and "Latest bill 2026-04" in html and 'id="supply"' not in html
    html = page(signed_in_portal, "bills", water)
    assert 'data-bill="2026-04"' in html
    bill = Bill.objects.get()
    pdf = signed_in_portal.get(reverse("portal:bill-pdf", kwargs={"pk": water.pk, "bill": bill.pk}))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert AuditEntry.objects.filter(action="portal.download", actor_name="customer:137****0002").exists()


def test_usage_shows_30_days_and_12_months_of_this_tenancy_only(signed_in_portal, bound):
    prepaid = bound["prepaid"]
    today = today_local()
    opened = today - timedelta(days=10)
    Account.objects.filter(pk=prepaid.pk).update(opened_on=opened)
    for back in range(0, 40):
        day_row(prepaid, today - timedelta(days=back), "2")
    before = today.replace(day=1) - timedelta(days=70)
    MeterMonth.objects.create(meter=prepaid.meter, quantity="energy_import", month=before.replace(day=1),
                              site=prepaid.site, kind="electricity", consumption=D(300), unit="kWh", days=30)
    html = page(signed_in_portal, "usage", prepaid)
    daily = re.search(r'<section class="card" id="daily">.*?</section>', html, re.S).group(0)
    assert 'data-bars="11"' in daily, "the ten days since opening and today, not the previous tenant's"
    monthly = re.search(r'<section class="card" id="monthly">.*?</section>', html, re.S).group(0)
    months_in_tenancy = 1 if opened.month == today.month else 2
    assert "300" not in monthly and f'data-bars="{months_in_tenancy}"' in monthly
    assert f"{2 * (today - max(opened, today.replace(day=1))).days + 2:g}" in monthly  # this month so far


def test_payments_receipts_and_statements(signed_in_portal, bound):
    prepaid = bound["prepaid"]
    paid = payments.take_payment(prepaid, D("20.00"), method="cash")
    html = page(signed_in_portal, "payments", prepaid)
    assert f'data-receipt="{paid.receipt_no}"' in html
    receipt = signed_in_portal.get(reverse("portal:receipt", kwargs={"pk": prepaid.pk, "payment": paid.pk}))
    assert receipt.content.startswith(b"%PDF")
    entry = AuditEntry.objects.get(action="portal.download", object_type="payment")
    assert (entry.object_id, entry.changes, entry.actor_name) == (str(paid.pk), {"document": [None, "receipt"]},
                                                                  "customer:137****0002")
    statement = signed_in_portal.get(reverse("portal:statement", kwargs={"pk": prepaid.pk}),
                                     {"from": "2026-01-01", "to": "2026-12-31"})
    assert statement["Content-Type"] == "application/pdf" and "statement-C-100-E1-2026-01-01-2026-12-31" in \
        statement["Content-Disposition"]
    backwards = signed_in_portal.get(reverse("portal:statement", kwargs={"pk": prepaid.pk}),
                                     {"from": "2026-12-31", "to": "2026-01-01"}, follow=True)
    assert "at most ten years" in backwards.content.decode()


def test_recharge_makes_an_order_and_its_page_shows_the_credit_arrive(signed_in_portal, bound):
    prepaid = bound["prepaid"]
    refused = signed_in_portal.post(reverse("portal:recharge", kwargs={"pk": prepaid.pk}), {"amount": "0.001"})
    assert "at most two decimals" in refused.content.decode()
    response = signed_in_portal.post(reverse("portal:recharge", kwargs={"pk": prepaid.pk}), {"amount": "100"})
    order = PaymentOrder.objects.get()
    assert response.url == reverse("checkout-sandbox", kwargs={"number": order.number})
    assert order.return_url == reverse("portal:order", kwargs={"pk": prepaid.pk, "number": order.number})
    assert (order.channel, order.amount, order.requested_by) == ("portal", D(100), "customer:137****0002")
    status_url = reverse("portal:order-status", kwargs={"pk": prepaid.pk, "number": order.number})
    assert signed_in_portal.get(status_url).json()["order"] == "pending"
    assert "Waiting for the payment" in page(signed_in_portal, "order", prepaid, number=order.number)
    body, headers = sandbox.notification(order)
    assert payments.handle_webhook("sandbox", body, headers).outcome == "credited"
    status = signed_in_portal.get(status_url).json()
    assert (status["order"], status["paid"], status["balance"], status["currency"]) == ("paid", True, "135.20", "CNY")
    assert status["receipt"].startswith("R")
    assert "Payment received" in page(signed_in_portal, "order", prepaid, number=order.number)
    assert AuditEntry.objects.filter(action="portal.recharge").count() == 1


def test_another_accounts_order_is_not_found(signed_in_portal, bound):
    from meterhub.billing import checkout

    theirs = checkout.create_order(bound["other"], D(5), "kiosk").order
    response = signed_in_portal.get(reverse("portal:order-status", kwargs={"pk": bound["prepaid"].pk,
                                                                           "number": theirs.number}))
    assert response.status_code == 404


def test_reconnection_after_paying_queues_the_restore_and_shows_its_progress(signed_in_portal, bound):
    prepaid = bound["prepaid"]
    Account.objects.filter(pk=prepaid.pk).update(supply="off")
    html = page(signed_in_portal, "account", prepaid)
    assert 'data-state="off"' in html and 'id="reconnect-form"' in html
    response = signed_in_portal.post(reverse("portal:reconnect", kwargs={"pk": prepaid.pk}), follow=True)
    assert "being switched on" in response.content.decode()
    command = Command.objects.get()
    assert command.kind == "relay_direct_close" and SupplyAction.objects.get().command == command
    status = signed_in_portal.get(reverse("portal:supply-status", kwargs={"pk": prepaid.pk})).json()
    assert (status["state"], status["in_flight"]) == ("restoring", True)
    assert [s["done"] for s in status["steps"]] == [True, False, False]
    Command.objects.filter(pk=command.pk).update(status="done", finished_at=timezone.now())
    status = signed_in_portal.get(reverse("portal:supply-status", kwargs={"pk": prepaid.pk})).json()
    assert (status["state"], status["label"], [s["done"] for s in status["steps"]]) == (
        "on", "Supply on", [True, True, True])
    again = signed_in_portal.post(reverse("portal:reconnect", kwargs={"pk": prepaid.pk}), follow=True)
    assert "The supply is on." in again.content.decode()
    assert AuditEntry.objects.filter(action="portal.reconnect").count() == 1


def test_messages_to_the_holder_are_listed_but_never_codes(signed_in_portal, bound):
    enqueue("sms", "13800000001", "alarm.raised", body="[meterhub] Gas leak at W100")
    enqueue("sms", "13800000001", "portal.code", body="[meterhub] Your sign-in code is 123456.")
    enqueue("sms", "13900000009", "alarm.raised", body="someone else's")
    html = page(signed_in_portal, "messages", bound["prepaid"])
    assert "Gas leak at W100" in html and "123456" not in html and "someone else" not in html


def test_contact_preferences_are_saved_and_audited(signed_in_portal, bound):
    url = reverse("portal:contact", kwargs={"pk": bound["prepaid"].pk})
    html = signed_in_portal.get(url).content.decode()
    assert "138****0001" in html and "l***@example.test" in html
    half = signed_in_portal.post(url, {"sms": "on", "quiet_from": "22:00"})
    assert "Give both ends of the quiet hours" in half.content.decode()
    done = signed_in_portal.post(url, {"sms": "on", "email": "on", "quiet_from": "22:00", "quiet_until": "07:30"})
    assert done.status_code == 302
    pref = ContactPreference.objects.get(customer=bound["holder"])
    assert (pref.sms, pref.email, str(pref.quiet_from), str(pref.quiet_until)) == (True, True, "22:00:00", "07:30:00")
    entry = AuditEntry.objects.get(action="contact_preference")
    assert entry.changes["email"] == [False, True] and entry.actor_name == "customer:137****0002"


def test_a_customer_can_stop_wechat_messages_but_not_point_them_elsewhere(signed_in_portal, bound):
    """Any phone bound to the account opens this page: an open id typed here would send the
    holder's messages to whoever typed it."""
    ContactPreference.objects.create(customer=bound["holder"], wechat_openid="o-holder")
    url = reverse("portal:contact", kwargs={"pk": bound["prepaid"].pk})
    html = signed_in_portal.get(url).content.decode()
    assert "o-holder" not in html and "Stop WeChat messages" in html
    signed_in_portal.post(url, {"sms": "on", "wechat_openid": "o-somebody-else"})
    assert ContactPreference.objects.get(customer=bound["holder"]).wechat_openid == "o-holder"
    signed_in_portal.post(url, {"sms": "on", "stop_wechat": "on"})
    assert ContactPreference.objects.get(customer=bound["holder"]).wechat_openid == ""


def test_the_web_app_manifest_and_service_worker(client, db):
    manifest = client.get(reverse("portal:manifest"))
    data = json.loads(manifest.content)
    assert manifest["Content-Type"] == "application/manifest+json"
    assert data["start_url"] == "/portal/" and data["display"] == "standalone" and data["theme_color"]
    assert {i["sizes"] for i in data["icons"]} == {"192x192", "512x512"}
    for icon in data["icons"]:
        assert client.get(icon["src"]).status_code == 200
    worker = client.get(reverse("portal:service-worker"))
    script = worker.content.decode()
    assert worker["Content-Type"].startswith("text/javascript") and worker["Cache-Control"] == "no-cache"
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", script).group(1))
    assert all(path.startswith("/static/portal/") or path == "/portal/offline/" for path in shell)
    assert "/portal/accounts" not in script, "never an account page in the cache"
    assert client.get(reverse("portal:offline")).status_code == 200


def test_the_pages_speak_chinese(signed_in_portal, bound):
    signed_in_portal.cookies["django_language"] = "zh-hans"
    html = page(signed_in_portal, "account", bound["prepaid"])
    assert "余额" in html and "充值" in html


def test_order_page_polls_only_while_something_is_on_its_way(signed_in_portal, bound):
    from meterhub.billing import checkout

    order = checkout.create_order(bound["prepaid"], D(5), "portal").order
    assert "data-poll=" in page(signed_in_portal, "order", bound["prepaid"], number=order.number)
    PaymentOrder.objects.filter(pk=order.pk).update(status="cancelled")
    assert 'id="order" data-order="cancelled" aria-live' in page(signed_in_portal, "order", bound["prepaid"],
                                                                  number=order.number)




def test_a_cut_off_account_says_how_much_brings_the_supply_back(signed_in_portal, bound):
    from meterhub.billing import ledger

    prepaid = bound["prepaid"]
    ledger.post(prepaid, "consumption", D("-38.60"), key="ran-out", source="test")  # 35.20 - 38.60 = -3.40
    Account.objects.filter(pk=prepaid.pk).update(supply="off")
    html = page(signed_in_portal, "account", prepaid)
    assert "Recharge at least CNY 3.41 and your supply is switched back on by itself." in html
    assert 'id="reconnect-form"' not in html
