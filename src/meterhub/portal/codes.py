"""One-time SMS codes: six digits, five minutes, five tries, sends rate-limited.

The code's row keeps only a salted HMAC of it (keyed with the installation's secret); the
SMS text in the outbox holds the code, since the gateway needs it, but the console's message
log never shows it nor searches in it (notifications.models.CONFIDENTIAL_EVENTS). A new code for the same phone and purpose
replaces the earlier one. Sends are limited per phone (one a minute for each purpose, five
an hour in all) and per client address (twenty an hour): codes cost money and must not
become a way to flood someone's phone. The counting and the new code's row are one step:
on PostgreSQL a send holds a transaction-level advisory lock for its phone and one for its
address while it counts and writes, so two sends at once are counted one after the other;
SQLite's transactions take the write lock at BEGIN (IMMEDIATE), which serialises them
already. The SMS goes out through the notification outbox like every message.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from meterhub.notifications.dispatch import enqueue
from meterhub.notifications.models import Channel
from meterhub.notifications.templates import language_of, render
from meterhub.portal.models import OneTimeCode

DIGITS = 6
LIFETIME = timedelta(minutes=5)
MAX_ATTEMPTS = 5
PHONE_GAP = timedelta(seconds=60)
PHONE_PER_HOUR = 5
IP_PER_HOUR = 20
EVENT = "portal.code"  # the notification event: the portal's message list leaves these out


class CodeError(ValueError):
    """The code was not accepted or not sent, with the reason for the customer."""


@dataclass(frozen=True)
class Sent:
    code: OneTimeCode
    plain: str  # for the SMS only; never stored


def _hash(salt: str, phone: str, purpose: str, code: str) -> str:
    return salted_hmac("meterhub.portal.code", f"{salt}:{phone}:{purpose}:{code}", algorithm="sha256").hexdigest()


def _lock_id(key: str) -> int:
    """A 64-bit advisory lock number for `key` (a collision only makes two sends wait in turn)."""
    return int.from_bytes(hashlib.blake2b(f"meterhub.portal.code:{key}".encode(), digest_size=8).digest(), "big",
                          signed=True)


def _hold_send_locks(phone: str, ip: str | None) -> None:
    """Until this transaction ends, no other send to `phone` or from `ip` may count or write.
    Taken in the order of their numbers, so two sends never wait for each other in a circle."""
    if connection.vendor != "postgresql":
        return  # SQLite: this transaction holds the database's write lock since BEGIN IMMEDIATE
    keys = {f"phone:{phone}"} | ({f"ip:{ip}"} if ip else set())
    with connection.cursor() as cursor:
        for lock_id in sorted(_lock_id(key) for key in keys):
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])


def _refuse_if_too_many(phone: str, purpose: str, ip: str | None, now: datetime) -> None:
    hour_ago = now - timedelta(hours=1)
    recent = OneTimeCode.objects.filter(phone=phone, created_at__gt=hour_ago)
    # the gap is per purpose: signing in and at once binding with the same phone is normal
    last = recent.filter(purpose=purpose).order_by("-created_at").values_list("created_at", flat=True).first()
    if last is not None and now - last < PHONE_GAP:
        wait = int((PHONE_GAP - (now - last)).total_seconds()) + 1
        raise CodeError(ngettext("A code was just sent. Ask again in %(n)d second.",
                                 "A code was just sent. Ask again in %(n)d seconds.", wait) % {"n": wait})
    if recent.count() >= PHONE_PER_HOUR:
        raise CodeError(_("Too many codes were sent to this number. Try again in an hour."))
    if ip and OneTimeCode.objects.filter(ip=ip, created_at__gt=hour_ago).count() >= IP_PER_HOUR:
        raise CodeError(_("Too many codes were asked for from this network. Try again in an hour."))


@transaction.atomic
def send(phone: str, purpose: str, *, language: str, ip: str | None = None, account=None, requested_by=None,
         now: datetime | None = None) -> Sent:
    """Make a code for `phone` and queue the SMS carrying it."""
    now = now or timezone.now()
    _hold_send_locks(phone, ip)
    _refuse_if_too_many(phone, purpose, ip, now)
    plain = f"{secrets.randbelow(10 ** DIGITS):0{DIGITS}d}"
    salt = secrets.token_hex(16)
    code = OneTimeCode.objects.create(phone=phone, purpose=purpose, account=account, requested_by=requested_by,
                                      salt=salt, code_hash=_hash(salt, phone, purpose, plain), created_at=now,
                                      expires_at=now + LIFETIME, ip=ip)
    language = language_of(language)
    template = "portal_bind_code" if purpose == OneTimeCode.Purpose.BIND else "portal_sign_in_code"
    _subject, body = render(template, language, code=plain, minutes=int(LIFETIME.total_seconds() // 60),
                            account=account.number if account else "")
    code.message = enqueue(Channel.SMS, phone, EVENT, body=body, language=language,
                           site=account.site if account else None)
    code.save(update_fields=["message"])
    return Sent(code, plain)


def check(phone: str, purpose: str, typed: str, *, account=None, requested_by=None,
          now: datetime | None = None) -> OneTimeCode:
    """Accept the latest code sent to `phone` for `purpose` (and account, and asker) once, or say
    why not. Call it outside a transaction: a wrong try must stay counted when the caller fails."""
    now = now or timezone.now()
    typed = "".join(ch for ch in (typed or "") if not ch.isspace())
    with transaction.atomic():
        codes = OneTimeCode.objects.select_for_update().filter(phone=phone, purpose=purpose, account=account)
        if requested_by is not None:
            codes = codes.filter(requested_by=requested_by)
        code = codes.order_by("-created_at", "-id").first()
        if code is None or code.used_at is not None:
            raise CodeError(_("No code is waiting for this number: ask for a new one."))
        if code.expires_at <= now:
            raise CodeError(_("This code has expired: ask for a new one."))
        if code.attempts >= MAX_ATTEMPTS:
            raise CodeError(_("Too many wrong codes: ask for a new one."))
        if not (len(typed) == DIGITS and typed.isdigit()
                and constant_time_compare(code.code_hash, _hash(code.salt, phone, purpose, typed))):
            code.attempts += 1
            code.save(update_fields=["attempts"])
            left = MAX_ATTEMPTS - code.attempts
            if left == 0:
                wrong = _("Wrong code, and that was the last try: ask for a new one.")
            else:
                wrong = ngettext("Wrong code: %(n)d try left.", "Wrong code: %(n)d tries left.", left) % {"n": left}
        else:
            code.used_at = now
            code.save(update_fields=["used_at"])
            return code
    raise CodeError(wrong)
