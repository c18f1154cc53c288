"""Gateways' delivery reports through the real route: signed with the gateway's shared secret
(anything else refused and recorded), each report applied once, in any order, a message's
status only moving forward. This is the test tests/accounts/test_roles.py points to for the
route's signature check."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from meterhub.notifications import outbox, signing
from meterhub.notifications.dispatch import enqueue
from meterhub.notifications.models import Attempt, DeliveryReport, Message, Status

SECRET = "sms-report-secret"
URL = reverse("delivery-report", kwargs={"channel": "sms"})


@pytest.fixture(autouse=True)
def report_secrets(monkeypatch):
    monkeypatch.setenv("METERHUB_SMS_REPORT_SECRET", SECRET)
    monkeypatch.setenv("METERHUB_WECHAT_REPORT_SECRET", "wechat-report-secret")


@pytest.fixture
def sent(db):
    """An SMS the gateway took (its reference GW-7)."""
    message = enqueue("sms", "13800000001", "alarm.raised", body="gas leak at G1")
    [claimed] = outbox.claim("n1")
    outbox.finish(outbox.Outcome(claimed.pk, claimed.attempts, True, "GW-7"), "n1")
    message.refresh_from_db()
    assert message.status == Status.SENT
    return message


def signed(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"X-Gateway-Timestamp": str(timestamp),
            "X-Gateway-Signature": signing.report_signature(secret, timestamp, body)}


def post(client, reports, *, url=URL, headers=None, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps({"reports": reports}).encode()
    return client.post(url, data=body, content_type="application/json",
                       headers=signed(body) if headers is None else headers)


def report(message: Message, status: str, **extra) -> dict:
    return {"client_ref": str(message.delivery_key), "id": message.provider_ref, "status": status, **extra}


def test_a_delivered_report_marks_the_message_delivered_once(client, sent):
    at = "2026-05-01T08:00:09+08:00"
    answer = post(client, [report(sent, "delivered", at=at)])
    assert answer.status_code == 200 and answer.json() == {"results": ["applied"]}
    sent.refresh_from_db()
    assert (sent.status, sent.delivered_at, sent.error) == ("delivered", datetime(2026, 5, 1, 0, 0, 9, tzinfo=UTC), "")
    again = post(client, [report(sent, "delivered", at=at)])
    assert again.json() == {"results": ["unchanged"]}
    assert list(DeliveryReport.objects.order_by("id").values_list("outcome", "message", "status")) == [
        ("applied", sent.pk, "delivered"), ("unchanged", sent.pk, "delivered")]


@pytest.mark.parametrize("order, final", [
    (["delivered", "sent"], "delivered"),  # a late "sent" does not undo "delivered"
    (["delivered", "failed"], "delivered"),
    (["failed", "delivered"], "delivered"),  # the carrier retried and got it through
    (["sent", "failed", "sent"], "failed"),
])
def test_reports_in_any_order_only_move_a_message_forward(client, sent, order, final):
    for status in order:
        post(client, [report(sent, status, reason="handset off" if status == "failed" else "")])
    sent.refresh_from_db()
    assert sent.status == final
    assert sent.error == ("handset off" if final == "failed" else "")


def test_a_failed_report_says_why(client, sent):
    post(client, [{"id": "GW-7", "status": "failed", "reason": "number does not exist"}])  # by the gateway's id
    sent.refresh_from_db()
    assert (sent.status, sent.error) == ("failed", "number does not exist")


def test_a_report_that_beats_the_gateways_answer_stands(client, db):
    """The gateway reports before the worker has recorded its answer: the answer is recorded
    as an attempt, the reported status stays."""
    message = enqueue("sms", "13800000001", "alarm.raised", body="x")
    [claimed] = outbox.claim("n1")
    post(client, [{"client_ref": str(message.delivery_key), "status": "delivered"}])
    outbox.finish(outbox.Outcome(claimed.pk, claimed.attempts, False, "timed out"), "n1")
    message.refresh_from_db()
    assert (message.status, message.lease_until) == ("delivered", None)
    assert list(Attempt.objects.filter(message=message).values_list("ok", flat=True)) == [False]
    assert outbox.claim("n2") == [], "a delivered message is never sent again"


def test_a_message_waiting_to_be_retried_that_was_delivered_after_all_is_not_sent_again(client, db):
    message = enqueue("sms", "13800000001", "alarm.raised", body="x")
    [claimed] = outbox.claim("n1")
    outbox.finish(outbox.Outcome(claimed.pk, claimed.attempts, False, "timed out"), "n1")
    post(client, [{"client_ref": str(message.delivery_key), "status": "delivered"}])
    message.refresh_from_db()
    assert message.status == "delivered" and message.sent_at is not None
    assert outbox.claim("n1", now=message.next_attempt_at) == []


@pytest.mark.parametrize("headers", [
    {},  # unsigned
    {"X-Gateway-Timestamp": "1", "X-Gateway-Signature": "v1=00"},
    "wrong secret", "ten minutes old", "not ASCII",
])
def test_an_unsigned_or_badly_signed_post_is_refused_and_recorded(client, sent, headers):
    body = json.dumps({"reports": [report(sent, "failed")]}).encode()
    if headers == "wrong secret":
        headers = signed(body, "guess")
    elif headers == "ten minutes old":
        headers = signed(body, timestamp=int(time.time()) - 600)
    elif headers == "not ASCII":  # a header decoded as Latin-1 by the server
        headers = {"X-Gateway-Timestamp": str(int(time.time())), "X-Gateway-Signature": "v1=\u00e9"}
    answer = post(client, None, raw=body, headers=headers)
    assert answer.status_code == 403
    sent.refresh_from_db()
    assert sent.status == "sent"
    [logged] = DeliveryReport.objects.all()
    assert (logged.outcome, logged.message, logged.channel) == ("bad_signature", None, "sms")
    assert "failed" in logged.body


def test_a_signature_over_other_bytes_is_refused(client, sent):
    body = json.dumps({"reports": [report(sent, "delivered")]}).encode()
    tampered = body.replace(b"delivered", b"failed\\u0000")
    assert post(client, None, raw=tampered, headers=signed(body)).status_code == 403


@pytest.mark.parametrize("channel", ["email", "webhook", "fax"])
def test_a_gateway_we_take_no_reports_from_is_refused(client, db, channel):
    body = b'{"reports": []}'
    answer = post(client, None, url=reverse("delivery-report", kwargs={"channel": channel}), raw=body)
    assert answer.status_code == 404
    assert DeliveryReport.objects.get().outcome == "unknown_gateway"


def test_without_a_configured_secret_no_report_is_taken(client, sent, monkeypatch):
    monkeypatch.delenv("METERHUB_SMS_REPORT_SECRET")
    assert post(client, [report(sent, "delivered")]).status_code == 404


def test_a_report_for_a_message_we_do_not_know_is_refused_and_recorded(client, sent):
    answer = post(client, [{"id": "GW-999", "status": "delivered"}])
    assert answer.status_code == 404 and answer.json() == {"results": ["unknown_message"]}
    # another channel's gateway cannot report on an SMS
    body = json.dumps([report(sent, "delivered")]).encode()
    wechat = client.post(reverse("delivery-report", kwargs={"channel": "wechat"}), data=body,
                         content_type="application/json", headers=signed(body, "wechat-report-secret"))
    assert wechat.status_code == 404
    sent.refresh_from_db()
    assert sent.status == "sent"
    assert list(DeliveryReport.objects.values_list("outcome", flat=True)) == ["unknown_message"] * 2


def test_a_batch_with_some_unknown_reports_is_taken(client, sent):
    answer = post(client, [{"id": "GW-999", "status": "delivered"}, report(sent, "delivered")])
    assert answer.status_code == 200 and answer.json() == {"results": ["unknown_message", "applied"]}


@pytest.mark.parametrize("body, why", [
    (b"not json", "not JSON"),
    (b"[]", "a list of 1 to 500"),
    (b'{"reports": [1]}', "not an object"),
    (b'{"id": "GW-7", "status": "read"}', "status must be one of sent, delivered, failed"),
    (b'{"status": "delivered"}', "needs client_ref or id"),
    (b'{"client_ref": "nope", "status": "delivered"}', "client_ref is not a UUID"),
    (b'{"id": "GW-7", "status": "delivered", "at": "2026-05-01 08:00"}', "ISO time with its offset"),
])
def test_a_malformed_post_gets_a_clear_error(client, sent, body, why):
    answer = post(client, None, raw=body)
    assert answer.status_code == 400 and why in answer.json()["error"]
    assert DeliveryReport.objects.get().outcome == "malformed"


def test_only_posts_are_taken(client, db):
    assert client.get(URL).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_a_gateway_posting_over_http_to_the_live_server(live_server):
    message = enqueue("sms", "13800000001", "alarm.raised", body="x")
    [claimed] = outbox.claim("n1")
    outbox.finish(outbox.Outcome(claimed.pk, claimed.attempts, True, "GW-1"), "n1")
    body = json.dumps({"reports": [{"id": "GW-1", "status": "delivered"}]}).encode()
    request = urllib.request.Request(live_server.url + URL, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **signed(body)})
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the test's own server
        assert answer.status == 200 and json.loads(answer.read()) == {"results": ["applied"]}
    message.refresh_from_db()
    assert message.status == "delivered"
    refused = urllib.request.Request(live_server.url + URL, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(refused, timeout=10)  # noqa: S310
    assert exc.value.code == 403
