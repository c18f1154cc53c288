"""Operators see a customer's contact preferences on the customer page and, with the right to
change customer records, change them there; every change is audited and dispatch follows it."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from django.urls import reverse

from meterhub.accounts.models import AuditEntry
from meterhub.alarms import services
from meterhub.assets import history
from meterhub.assets.models import Building, Customer, Meter, Premise
from meterhub.notifications import contacts
from meterhub.notifications.models import ContactPreference, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    return Customer.objects.create(account_no="C-1", name="Li Wei", phone="13800000001", email="li@example.test")


def contact_url(customer):
    return reverse("customer-contact", args=[customer.pk])


def test_the_customer_page_shows_the_defaults_and_a_change_link(signed_in, customer):
    client, _user = signed_in("operator")
    page = client.get(reverse("customer-detail", args=[customer.pk])).content.decode()
    assert 'id="contact-preferences"' in page and "✓ 13800000001" in page
    assert contact_url(customer) in page
    assert not ContactPreference.objects.exists(), "looking creates nothing"


def test_an_operator_changes_them_and_the_change_is_audited(signed_in, customer):
    client, user = signed_in("operator")
    assert client.get(contact_url(customer)).status_code == 200
    answer = client.post(contact_url(customer), {"sms": "on", "email": "on", "wechat_openid": "OPENID-LI",
                                                 "quiet_from": "22:00", "quiet_until": "07:00"})
    assert answer.status_code == 302 and answer.url == reverse("customer-detail", args=[customer.pk])
    pref = ContactPreference.objects.get(customer=customer)
    assert (pref.sms, pref.email, pref.wechat_openid, pref.quiet_from, pref.quiet_until) == (
        True, True, "OPENID-LI", time(22), time(7))
    [entry] = AuditEntry.objects.filter(action="contact_preference")
    assert (entry.actor, entry.object_type, entry.object_id) == (user, "customer", str(customer.pk))
    assert entry.changes == {"email": [False, True], "wechat_openid": ["", "OPENID-LI"],
                             "quiet_from": [None, "22:00:00"], "quiet_until": [None, "07:00:00"]}
    page = client.get(reverse("customer-detail", args=[customer.pk])).content.decode()
    assert "22:00–07:00" in page and "OPENID-LI" in page
    # the form shows what is stored; saving it unchanged audits nothing
    form = client.get(contact_url(customer)).content.decode()
    assert 'value="22:00"' in form and 'value="OPENID-LI"' in form
    client.post(contact_url(customer), {"sms": "on", "email": "on", "wechat_openid": "OPENID-LI",
                                        "quiet_from": "22:00", "quiet_until": "07:00"})
    assert AuditEntry.objects.filter(action="contact_preference").count() == 1


@pytest.mark.parametrize("data, error", [
    ({"sms": "on", "quiet_from": "22:00"}, "both ends of the quiet hours"),
    ({"sms": "on", "quiet_from": "22:00", "quiet_until": "22:00"}, "end at another time"),
    ({"quiet_from": "25:00", "quiet_until": "07:00"}, "valid time"),
])
def test_bad_quiet_hours_are_refused_with_a_reason(signed_in, customer, data, error):
    client, _user = signed_in("operator")
    answer = client.post(contact_url(customer), data)
    assert answer.status_code == 200 and error in answer.content.decode()
    assert not ContactPreference.objects.exists()


def test_e_mail_needs_an_address(signed_in):
    client, _user = signed_in("operator")
    customer = Customer.objects.create(account_no="C-2", name="Wang Fang", phone="13800000002")
    answer = client.post(contact_url(customer), {"sms": "on", "email": "on"})
    assert "no e-mail address" in answer.content.decode()


@pytest.mark.parametrize("role", ["readonly", "finance", "technician"])
def test_those_who_may_not_change_customers_see_them_but_cannot_change_them(signed_in, customer, role):
    client, _user = signed_in(role)
    page = client.get(reverse("customer-detail", args=[customer.pk]))
    assert page.status_code == 200 and contact_url(customer) not in page.content.decode()
    assert client.get(contact_url(customer)).status_code == 403
    assert client.post(contact_url(customer), {"sms": "on"}).status_code == 403


def test_dispatch_follows_what_the_operator_set(site, collector, customer):
    meter = Meter.objects.create(serial="E1", site=site, address="000000000001", collector=collector)
    premise = Premise.objects.create(site=site, building=Building.objects.create(site=site, code="B1"), unit="1")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    history.install_meter(meter, premise, start)
    history.move_in(customer, premise, start)
    contacts.update(customer, {"sms": False, "email": True, "quiet_from": time(22), "quiet_until": time(7)})
    at = datetime(2026, 5, 1, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai: quiet
    services.raise_alarm("low_balance", at, meter=meter)
    [mail] = Message.objects.filter(recipient__in=["li@example.test", "13800000001"])
    assert (mail.channel, mail.held_reason) == ("email", "quiet hours")
    assert mail.next_attempt_at == datetime(2026, 5, 1, 23, 0, tzinfo=UTC)  # 07:00 local
