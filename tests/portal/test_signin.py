"""Phone + SMS code sign-in: codes hashed at rest, six digits, five minutes, five tries, sends
rate-limited per phone and per network; sessions with their own cookie and expiry."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections
from django.test import RequestFactory
from django.urls import reverse
from openpyxl import load_workbook

from meterhub.accounts.models import AuditEntry
from meterhub.notifications.models import Message
from meterhub.portal import codes, retention, sessions, signin
from meterhub.portal.models import BindAttempt, OneTimeCode, PortalSession, PortalUser
from tests.portal.conftest import code_sent_to

pytestmark = pytest.mark.django_db
PHONE = "13800000001"
T0 = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)


def test_a_code_goes_out_as_an_sms_and_only_its_hash_is_kept():
    sent = codes.send(PHONE, "sign_in", language="zh-hans", ip="203.0.113.5", now=T0)
    assert len(sent.plain) == 6 and sent.plain.isdigit()
    row = OneTimeCode.objects.get()
    assert sent.plain not in row.code_hash and len(row.code_hash) == 64 and row.expires_at == T0 + timedelta(minutes=5)
    message = Message.objects.get()
    assert (message.channel, message.recipient, message.event, message.status) == ("sms", PHONE, "portal.code",
                                                                                    "queued")
    assert sent.plain in message.body and "5 分钟内有效" in message.body and row.message == message


def test_the_right_code_signs_in_once():
    sent = codes.send(PHONE, "sign_in", language="en", now=T0)
    user = signin.verify(PHONE, f" {sent.plain[:3]} {sent.plain[3:]} ", now=T0 + timedelta(minutes=4))
    assert user.phone == PHONE and PortalUser.objects.count() == 1
    with pytest.raises(codes.CodeError, match="No code is waiting"):
        signin.verify(PHONE, sent.plain, now=T0 + timedelta(minutes=4))
    entry = AuditEntry.objects.get(action="portal.sign_in")
    assert entry.actor is None and entry.actor_name == "customer:138****0001"


def test_a_code_expires_after_five_minutes():
    sent = codes.send(PHONE, "sign_in", language="en", now=T0)
    with pytest.raises(codes.CodeError, match="expired"):
        codes.check(PHONE, "sign_in", sent.plain, now=T0 + timedelta(minutes=5))


def test_five_wrong_tries_and_even_the_right_code_is_refused():
    sent = codes.send(PHONE, "sign_in", language="en", now=T0)
    wrong = "000000" if sent.plain != "000000" else "111111"
    said = []
    for _ in range(5):
        with pytest.raises(codes.CodeError) as refused:
            codes.check(PHONE, "sign_in", wrong, now=T0)
        said.append(str(refused.value))
    assert said[:2] == ["Wrong code: 4 tries left.", "Wrong code: 3 tries left."]
    assert said[-1] == "Wrong code, and that was the last try: ask for a new one."
    with pytest.raises(codes.CodeError, match="Too many wrong codes"):
        codes.check(PHONE, "sign_in", sent.plain, now=T0)


def test_a_new_code_replaces_the_old_one():
    first = codes.send(PHONE, "sign_in", language="en", now=T0)
    second = codes.send(PHONE, "sign_in", language="en", now=T0 + timedelta(minutes=2))
    if first.plain != second.plain:
        with pytest.raises(codes.CodeError, match="Wrong code"):
            codes.check(PHONE, "sign_in", first.plain, now=T0 + timedelta(minutes=2))
    assert codes.check(PHONE, "sign_in", second.plain, now=T0 + timedelta(minutes=2)).pk == second.code.pk


def test_sends_are_limited_per_phone():
    codes.send(PHONE, "sign_in", language="en", now=T0)
    with pytest.raises(codes.CodeError, match="Ask again in 31 seconds"):
        codes.send(PHONE, "sign_in", language="en", now=T0 + timedelta(seconds=30))
    for minute in range(1, 5):
        codes.send(PHONE, "sign_in", language="en", now=T0 + timedelta(minutes=minute))
    with pytest.raises(codes.CodeError, match="Too many codes were sent to this number"):
        codes.send(PHONE, "sign_in", language="en", now=T0 + timedelta(minutes=10))
    codes.send(PHONE, "sign_in", language="en", now=T0 + timedelta(minutes=61))  # an hour on


def test_sends_are_limited_per_network():
    for i in range(codes.IP_PER_HOUR):
        codes.send(f"1380000{i:04d}", "sign_in", language="en", ip="198.51.100.7", now=T0)
    with pytest.raises(codes.CodeError, match="from this network"):
        codes.send("13999999999", "sign_in", language="en", ip="198.51.100.7", now=T0)
    codes.send("13999999999", "sign_in", language="en", ip="198.51.100.8", now=T0)


# --- two sends at the same moment ------------------------------------------------------------

NETWORK = "198.51.100.7"
# each case: codes sent before (phone, address, minutes ago), the two sends (phone, address,
# purpose) of which either would be the one too many, and what the later one is told
RACES = {
    "one a minute": ([], [(PHONE, None, "sign_in"), (PHONE, None, "sign_in")], "A code was just sent"),
    "five an hour": ([(PHONE, None, minutes) for minutes in (50, 40, 30, 20)],
                     [(PHONE, None, "sign_in"), (PHONE, None, "bind")], "Too many codes were sent to this number"),
    "twenty a network": ([(f"1370000{i:04d}", NETWORK, 10) for i in range(codes.IP_PER_HOUR - 1)],
                         [("13900000001", NETWORK, "sign_in"), ("13900000002", NETWORK, "sign_in")],
                         "from this network"),
}


def _sent_before(earlier):
    for phone, ip, minutes in earlier:
        codes.send(phone, "sign_in", language="en", ip=ip, now=T0 - timedelta(minutes=minutes))


def _outcome(phone, ip, purpose):
    try:
        codes.send(phone, purpose, language="en", ip=ip, now=T0)
        return "sent"
    except codes.CodeError as exc:
        return str(exc)


@pytest.mark.parametrize("case", RACES)
def test_the_limits_hold_send_after_send(case):
    earlier, sends, refusal = RACES[case]
    _sent_before(earlier)
    first, second = (_outcome(*send) for send in sends)
    assert first == "sent" and refusal in second
    assert OneTimeCode.objects.count() == len(earlier) + 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", RACES)
def test_two_sends_at_once_cannot_both_pass_a_limit(case, monkeypatch):
    """Each send stops between counting and writing its code until the other has counted too;
    with the lock the other is still waiting for it, the wait gives up, and the other then
    counts the code just written."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite takes the write lock at BEGIN IMMEDIATE: two sends cannot count at the same time there")
    earlier, sends, refusal = RACES[case]
    _sent_before(earlier)
    ready, counted = threading.Barrier(2), threading.Barrier(2, timeout=1.0)
    count = codes._refuse_if_too_many

    def count_then_wait(*args):
        count(*args)
        try:
            counted.wait()
        except threading.BrokenBarrierError:
            pass  # the other send is held back: it has not counted

    monkeypatch.setattr(codes, "_refuse_if_too_many", count_then_wait)
    outcomes = {}

    def send(i, how):
        try:
            connection.ensure_connection()  # both connected before either starts
            ready.wait()
            outcomes[i] = _outcome(*how)
        except Exception as exc:  # noqa: BLE001 - shown in the assertion below
            outcomes[i] = repr(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(i, how)) for i, how in enumerate(sends)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first, second = sorted(outcomes.values(), key=lambda said: said != "sent")
    assert first == "sent" and refusal in second, outcomes
    assert OneTimeCode.objects.count() == len(earlier) + 1


@pytest.mark.parametrize("typed", ["", "12345", "1380000000a", "+", "12 34"])
def test_a_number_that_is_not_a_phone_is_refused_plainly(typed):
    with pytest.raises(codes.CodeError, match="Enter a mobile number"):
        signin.send_code(typed, ip=None, language="en")
    assert not Message.objects.exists()


# --- the pages ---------------------------------------------------------------------------------

def test_signing_in_through_the_pages_sets_the_portal_cookie_only(client):
    page = client.post(reverse("portal:sign-in") + "?next=/portal/bind/", {"phone": "138 0000 0001"})
    assert page.status_code == 302 and page.url == reverse("portal:sign-in-code")
    wrong = client.post(reverse("portal:sign-in-code"), {"code": "99999a"})
    assert b"Wrong code: 4 tries left." in wrong.content
    done = client.post(reverse("portal:sign-in-code"), {"code": code_sent_to(PHONE)})
    assert done.status_code == 302 and done.url == "/portal/bind/"
    cookie = done.cookies[sessions.COOKIE]
    assert cookie["path"] == "/portal/" and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert "_auth_user_id" not in client.session, "no console sign-in"
    assert client.get(reverse("portal:home")).status_code == 200


def test_a_next_page_off_the_portal_is_not_followed(client):
    client.post(reverse("portal:sign-in") + "?next=https://evil.example/", {"phone": PHONE})
    done = client.post(reverse("portal:sign-in-code"), {"code": code_sent_to(PHONE)})
    assert done.url == "/portal/"


def test_signing_out_ends_the_session(signed_in_portal):
    assert signed_in_portal.get(reverse("portal:home")).status_code == 200
    out = signed_in_portal.post(reverse("portal:sign-out"))
    assert out.status_code == 302 and out.cookies[sessions.COOKIE].value == ""
    assert PortalSession.objects.get().ended_at is not None


def test_signing_out_leaves_nothing_pending_for_the_next_person(signed_in_portal):
    from meterhub.portal.views.accounts import PENDING_BIND

    session = signed_in_portal.session
    session[PENDING_BIND] = 12345  # a binding half done
    session.save()
    signed_in_portal.post(reverse("portal:sign-out"))
    assert PENDING_BIND not in signed_in_portal.session


def test_sessions_end_after_30_idle_minutes_and_12_hours_in_all(portal_user):
    request = RequestFactory().get("/portal/")
    token = sessions.start(portal_user, request, now=T0)
    assert sessions.current(token, now=T0 + timedelta(minutes=29)) is not None
    assert sessions.current(token, now=T0 + timedelta(minutes=29 + 31)) is None  # idle
    token = sessions.start(portal_user, request, now=T0)
    for minutes in range(20, 12 * 60 + 1, 20):  # in use every 20 minutes all day
        assert sessions.current(token, now=T0 + timedelta(minutes=minutes)) is not None
    assert sessions.current(token, now=T0 + timedelta(hours=12, minutes=1)) is None
    assert sessions.current("not-a-token") is None and sessions.current("") is None


def test_sessions_are_deleted_90_days_after_they_ended_or_expired(portal_user, monkeypatch):
    now = T0 + timedelta(days=400)
    cutoff = now - retention.RETENTION
    minute = timedelta(minutes=1)

    def session(name, created, last_seen=None, ended=None):
        sessions.start(portal_user, RequestFactory().get("/portal/"), now=created)
        PortalSession.objects.filter(pk=PortalSession.objects.latest("pk").pk).update(
            user_agent=name, last_seen_at=last_seen or created, ended_at=ended)

    session("signed out 90 days and a minute ago", cutoff - timedelta(hours=1), ended=cutoff - minute)
    session("signed out 89 days ago", cutoff, ended=cutoff + timedelta(days=1))
    session("left idle, expired 90 days and a minute ago", cutoff - 31 * minute)
    session("left idle, expires right at the cutoff", cutoff - 30 * minute)
    session("in use to its 12th hour, which ended before the cutoff", cutoff - timedelta(hours=12) - minute,
            last_seen=cutoff - 2 * minute)  # idle until after the cutoff, but the 12 hours were up before
    session("in use to its 12th hour, which ends after the cutoff", cutoff - timedelta(hours=11),
            last_seen=cutoff - 2 * minute)
    session("live", now - timedelta(minutes=5), last_seen=now)
    signin.verify(PHONE, codes.send(PHONE, "sign_in", language="en", now=now).plain, now=now)
    monkeypatch.setattr(retention, "PURGE_BATCH", 2)  # more than one batch
    assert retention.purge(now=now) == 3
    assert sorted(PortalSession.objects.values_list("user_agent", flat=True)) == [
        "in use to its 12th hour, which ends after the cutoff", "left idle, expires right at the cutoff", "live",
        "signed out 89 days ago"]
    assert retention.purge(now=now) == 0
    assert PortalUser.objects.count() == 2 and AuditEntry.objects.filter(action="portal.sign_in").count() == 1


def test_an_expired_session_sends_back_to_sign_in_and_drops_the_cookie(client, portal_user):
    token = sessions.start(portal_user, RequestFactory().get("/portal/"), now=T0)
    client.cookies[sessions.COOKIE] = token
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302 and response.cookies[sessions.COOKIE].value == ""


def test_signing_in_and_at_once_binding_with_the_same_phone_is_not_held_back():
    codes.send(PHONE, "sign_in", language="en", now=T0)
    codes.send(PHONE, "bind", language="en", now=T0 + timedelta(seconds=5))
    with pytest.raises(codes.CodeError, match="Ask again"):
        codes.send(PHONE, "bind", language="en", now=T0 + timedelta(seconds=10))


def test_the_console_message_log_never_shows_or_searches_a_code(signed_in):
    sent = codes.send(PHONE, "sign_in", language="en", now=T0)
    client, _user = signed_in("readonly")
    page = client.get("/alarms/messages/").content.decode()
    assert PHONE in page and "one-time code: not shown" in page and sent.plain not in page
    found = client.get("/alarms/messages/", {"q": sent.plain}).content.decode()
    assert 'data-message-status="' not in found, "a search must not confirm a code digit by digit"
    sheet = client.get("/alarms/messages/", {"format": "xlsx"}).content
    rows = list(load_workbook(io.BytesIO(sheet)).active.iter_rows(values_only=True))
    assert rows[1][2] == PHONE and sent.plain not in str(rows[1])


def test_codes_and_binding_attempts_are_deleted_90_days_after_they_were_of_use(portal_user):
    """A code is of use until it expires, an attempt for the lockout's day; both are kept
    90 days more, and the audit log keeps the bindings and refusals."""
    now = T0 + timedelta(days=400)
    cutoff = now - retention.RETENTION
    old_code = codes.send(PHONE, "sign_in", language="en", now=cutoff - timedelta(minutes=6))  # expired before
    kept_code = codes.send(PHONE, "bind", language="en", now=cutoff - timedelta(minutes=4))  # expires after
    for at in (cutoff - timedelta(seconds=1), cutoff + timedelta(seconds=1)):
        BindAttempt.objects.create(user=portal_user, account_number="SR00001", outcome="mismatch", at=at)
    assert retention.purge(now=now) == 2
    assert list(OneTimeCode.objects.values_list("pk", flat=True)) == [kept_code.code.pk]
    assert not OneTimeCode.objects.filter(pk=old_code.code.pk).exists()
    assert list(BindAttempt.objects.values_list("at", flat=True)) == [cutoff + timedelta(seconds=1)]
