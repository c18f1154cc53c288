"""Who is told: signed webhooks for subscribed events, operators on duty, customers by their
preferences and quiet hours."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterhub.alarms import services
from meterhub.notifications import channels, dispatch, signing
from meterhub.notifications.models import ContactPreference, Message, WebhookEndpoint
from tests.notifications.helpers import run_worker

SECRET = "s3cret-for-tests"


@pytest.mark.django_db(transaction=True)
def test_webhooks_are_signed_and_only_for_subscribed_events(estate, receiver):
    WebhookEndpoint.objects.create(name="ERP", url=receiver.url, secret=SECRET, events=["alarm.raised"])
    WebhookEndpoint.objects.create(name="Off", url=receiver.url, secret=SECRET, events=["alarm.raised"],
                                   active=False)
    alarm, _ = services.raise_alarm("gas_leak", estate["now"], meter=estate["meter"])
    services.resolve("gas_leak", estate["now"], meter=estate["meter"])
    run_worker({"webhook": channels.Webhook()})
    [delivery] = receiver.accepted
    assert signing.verify(SECRET, delivery.headers, delivery.body)
    assert not signing.verify("another-secret", delivery.headers, delivery.body)
    assert not signing.verify(SECRET, delivery.headers, delivery.body.replace(b"gas_leak", b"gas_lead"))
    body = delivery.json
    assert body["type"] == "alarm.raised" and body["id"] == delivery.headers["X-Meterhub-Event-Id"]
    assert (body["data"]["alarm_id"], body["data"]["meter"], body["data"]["severity"]) == (alarm.pk, "G1", "critical")


@pytest.mark.django_db
def test_one_call_publishes_any_event_to_its_subscribers(site):
    WebhookEndpoint.objects.create(name="Billing", url="http://127.0.0.1:9/x", secret=SECRET,
                                   events=["payment.credited"], site=site)
    WebhookEndpoint.objects.create(name="Other", url="http://127.0.0.1:9/y", secret=SECRET,
                                   events=["reading.arrived"])
    [message] = dispatch.publish("payment.credited", {"account": "C-1", "amount": "50.00"}, site=site)
    assert message.channel == "webhook" and message.payload["data"]["amount"] == "50.00"
    assert dispatch.publish("relay.changed", {}, site=site) == []


def test_stale_signatures_are_refused():
    headers = signing.headers(SECRET, "evt-1", b"{}", timestamp=1_000_000)
    assert signing.verify(SECRET, headers, b"{}", now=1_000_000 + 10)
    assert not signing.verify(SECRET, headers, b"{}", now=1_000_000 + signing.TOLERANCE_S + 1)


@given(st.binary(max_size=200), st.text(min_size=1, max_size=40), st.integers(0, 2**40))
def test_a_signature_verifies_only_the_body_and_event_it_was_made_for(body, secret, ts):
    headers = signing.headers(secret, "evt", body, timestamp=ts)
    assert signing.verify(secret, headers, body, now=ts)
    assert not signing.verify(secret, {**headers, "X-Meterhub-Event-Id": "other"}, body, now=ts)
    assert not signing.verify(secret, headers, body + b"x", now=ts)


@pytest.mark.django_db
def test_alarms_go_to_whoever_is_on_duty_and_escalate_to_the_second_line(estate, site):
    meter = estate["meter"]
    alarm, _ = services.raise_alarm("collector_offline", estate["now"], collector=meter.collector)
    assert set(Message.objects.values_list("recipient", flat=True)) == {"13900000002", "olga@meterhub.test"}, \
        "collector alarms are for operators, not customers"
    assert services.escalate_overdue(estate["now"] + timedelta(minutes=29)) == []
    [escalated] = services.escalate_overdue(estate["now"] + timedelta(minutes=31))
    assert escalated.pk == alarm.pk and escalated.escalated_at
    assert list(Message.objects.filter(event="alarm.escalated").values_list("recipient", flat=True)) == [
        "13900000003"]
    assert services.escalate_overdue(estate["now"] + timedelta(hours=5)) == [], "once"


@pytest.mark.django_db
def test_an_acknowledged_alarm_does_not_escalate(estate):
    alarm, _ = services.raise_alarm("meter_silent", estate["now"], meter=estate["meter"])
    services.acknowledge(alarm, estate["olga"])
    assert services.escalate_overdue(estate["now"] + timedelta(hours=2)) == []


@pytest.mark.django_db
def test_quiet_hours_hold_a_customer_message_but_not_a_gas_leak(estate):
    pref = ContactPreference.objects.get(customer=estate["customer"])
    pref.quiet_from, pref.quiet_until, pref.email, pref.wechat_openid = time(22), time(7), False, ""
    pref.save()
    night = datetime(2026, 5, 1, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    services.raise_alarm("low_balance", night, meter=estate["meter"])
    held = Message.objects.get(recipient="13800000001")
    assert held.held_reason == "quiet hours"
    assert held.next_attempt_at == datetime(2026, 5, 1, 23, 0, tzinfo=UTC)  # 07:00 next morning there
    services.raise_alarm("gas_leak", night, meter=estate["meter"])
    leak = Message.objects.get(recipient="13800000001", alarm__kind="gas_leak")
    assert leak.held_reason == "" and leak.next_attempt_at <= datetime.now(UTC)


@pytest.mark.django_db
def test_a_customer_who_wants_no_sms_gets_none(estate):
    ContactPreference.objects.filter(customer=estate["customer"]).update(sms=False, email=False, wechat_openid="")
    services.raise_alarm("arrears", estate["now"], meter=estate["meter"])
    assert not Message.objects.filter(recipient="13800000001").exists()


@given(st.times(), st.times(), st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)))
def test_quiet_hours_end_is_after_the_moment_and_within_a_day(start, end, moment):
    pref = ContactPreference(quiet_from=start.replace(microsecond=0, second=0),
                             quiet_until=end.replace(microsecond=0, second=0))
    at = moment.replace(tzinfo=UTC)
    wake = dispatch.quiet_until(pref, at, "Asia/Shanghai")
    if wake is not None:
        assert at < wake <= at + timedelta(days=1)
        assert wake.time().replace(second=0) == pref.quiet_until


def test_templates_exist_in_both_languages_with_the_same_placeholders():
    import string

    from meterhub.notifications.templates import TEMPLATES

    for name, by_language in TEMPLATES.items():
        fields = {lang: {f for text in pair for _l, f, _s, _c in string.Formatter().parse(text) if f}
                  for lang, pair in by_language.items()}
        assert set(by_language) == {"en", "zh-hans"} and fields["en"] == fields["zh-hans"], name
    assert json.dumps(TEMPLATES, ensure_ascii=False)
