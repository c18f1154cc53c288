"""Delivery through real servers: an SMTP server (aiosmtpd) and HTTP gateways on 127.0.0.1,
driven by the real worker. Each message reaches its gateway once, failures are retried with
backoff and recorded with why, and a restart sends nothing twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from meterhub.alarms import services
from meterhub.notifications import outbox
from meterhub.notifications.dispatch import enqueue
from meterhub.notifications.models import Attempt, Message, Status
from tests.notifications.helpers import run_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(outbox, "BACKOFF_S", (0.05, 0.2))


def test_a_gas_leak_reaches_the_operator_and_the_customer_by_sms_email_and_wechat(
        estate, adapters, sms_gateway, wechat_gateway, mailbox):
    alarm, _ = services.raise_alarm("gas_leak", estate["now"], meter=estate["meter"])
    queued = {(m.channel, m.recipient) for m in Message.objects.all()}
    assert queued == {("sms", "13900000002"), ("email", "olga@meterhub.test"), ("sms", "13800000001"),
                      ("email", "li@example.test"), ("wechat", "OPENID-LI")}
    run_worker(adapters)

    assert sorted(r.json["to"] for r in sms_gateway.accepted) == ["13800000001", "13900000002"]
    customer_sms = next(r.json for r in sms_gateway.accepted if r.json["to"] == "13800000001")
    assert "燃气泄漏" in customer_sms["text"] or "Gas leak" in customer_sms["text"]
    assert "紧急" in customer_sms["text"] and "G1" in customer_sms["text"]
    assert sms_gateway.accepted[0].headers["Authorization"] == "Bearer k1"
    [wechat] = wechat_gateway.accepted
    assert (wechat.json["touser"], wechat.json["template_id"]) == ("OPENID-LI", "TPL-1")
    assert "G1" in wechat.json["data"]["keyword2"]["value"]
    assert sorted(rcpt[0] for rcpt, _mail in mailbox.messages) == ["li@example.test", "olga@meterhub.test"]
    _rcpt, mail = mailbox.messages[0]
    assert mail["From"] == "alarms@meterhub.test" and "G1" in mail["Subject"]
    assert f"#{alarm.pk}" in mail.get_content() or str(alarm.pk) in mail.get_content()
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    assert all(m.provider_ref and m.sent_at for m in Message.objects.all())


def test_a_gateway_that_fails_then_recovers_gets_the_message_once(db, adapters, sms_gateway):
    sms_gateway.fail_first = 2
    message = enqueue("sms", "13800000009", "test", body="hello")
    run_worker(adapters)
    message.refresh_from_db()
    assert len(sms_gateway.refused) == 2 and len(sms_gateway.accepted) == 1
    assert (message.status, message.attempts, message.provider_ref) == ("sent", 3, "GW-1")
    log = list(Attempt.objects.filter(message=message).values_list("ok", "detail"))
    assert [ok for ok, _d in log] == [False, False, True] and "HTTP 500" in log[0][1]
    # the same delivery key every time: a gateway that had taken it would know it
    assert len({r.json["client_ref"] for r in sms_gateway.refused + sms_gateway.accepted}) == 1


def test_a_refused_message_fails_at_once_and_says_why(db, adapters, sms_gateway):
    sms_gateway.fail_first, sms_gateway.status_on_fail = 1, 400
    message = enqueue("sms", "not-a-number", "test", body="hello")
    run_worker(adapters)
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", 1) and "HTTP 400" in message.error


def test_a_gateway_down_for_good_fails_after_the_last_retry(db, adapters, sms_gateway, monkeypatch):
    monkeypatch.setattr(outbox, "MAX_ATTEMPTS", 3)
    sms_gateway.fail_first = 99
    message = enqueue("sms", "13800000009", "test", body="hello")
    run_worker(adapters)
    message.refresh_from_db()
    assert (message.status, message.attempts, len(sms_gateway.refused)) == ("failed", 3, 3)
    assert "HTTP 500" in message.error


def test_an_unconfigured_channel_is_a_recorded_failure(db, sms_gateway):
    message = enqueue("sms", "13800000009", "test", body="hello")
    run_worker({})
    message.refresh_from_db()
    assert message.status == "failed" and "not configured" in message.error


def test_a_restart_with_messages_queued_sends_each_exactly_once(db, adapters, sms_gateway):
    sms_gateway.delay_s = 0.2
    for n in range(30):
        enqueue("sms", f"1380000{n:04d}", "test", body=f"message {n}")
    run_worker(adapters, cancel_after=0.3)  # stopped while sending (a deploy, a restart)
    first_run = len(sms_gateway.accepted)
    assert 0 < first_run < 30, "the first run was stopped part-way"
    assert Message.objects.filter(status=Status.SENDING).count() == 0, "what was handed over is recorded"
    run_worker(adapters, node="test-restarted")
    refs = [r.json["client_ref"] for r in sms_gateway.accepted]
    assert len(refs) == 30 and len(set(refs)) == 30
    assert Message.objects.filter(status="sent", attempts=1).count() == 30


def test_a_worker_that_died_mid_send_loses_its_claim_and_the_resend_carries_the_same_key(db):
    message = enqueue("sms", "13800000009", "test", body="hello")
    [claimed] = outbox.claim("node-a")
    assert outbox.claim("node-b") == [], "leased"
    later = timezone.now() + outbox.LEASE + timedelta(seconds=1)
    [again] = outbox.claim("node-b", now=later)
    assert (again.pk, again.delivery_key, again.attempts) == (message.pk, claimed.delivery_key, 2)
    assert outbox.finish(outbox.Outcome(message.pk, 1, True, "late"), "node-a") is None, "a stale attempt"
    done = outbox.finish(outbox.Outcome(message.pk, 2, True, "GW-7"), "node-b")
    assert (done.status, done.provider_ref) == ("sent", "GW-7")


def test_backoff_doubles_up_to_the_limit():
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3)] == [
        outbox.BACKOFF_S[0], outbox.BACKOFF_S[0] * 2, outbox.BACKOFF_S[0] * 4]
    assert outbox.backoff(60).total_seconds() == outbox.BACKOFF_S[1]
