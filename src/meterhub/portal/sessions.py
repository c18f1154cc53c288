"""Portal sign-in sessions: their own cookie, their own table, their own expiry.

The cookie (`COOKIE`, path /portal/, HttpOnly, SameSite=Lax, Secure over HTTPS) holds 256
random bits; the table holds their SHA-256. A session ends after 30 minutes without a
request, 12 hours after sign-in, or at sign-out. It knows a phone number and nothing
else: the console's session and `request.user` are never read or set here, so signing in
to one never signs in to the other.

A session's row (with the address and browser it was used from) is kept for a while after
it ended or expired (portal.retention). Nothing refers to a session row: the audit log names
the customer (`customer:138****0001`), so the sign-ins and what they did stay on record.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from meterhub.accounts import context
from meterhub.portal.models import PortalSession, PortalUser

COOKIE = "meterhub_portal"
COOKIE_PATH = "/portal/"
IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
TOUCH_EVERY = timedelta(seconds=60)  # last_seen is written at most this often


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(user: PortalUser, request, now: datetime | None = None) -> str:
    """A new session for `user`; returns the token for the cookie (a new one every sign-in)."""
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    PortalSession.objects.create(user=user, key_hash=_digest(token), created_at=now, last_seen_at=now,
                                 ip=context.client_ip(request), user_agent=context.user_agent(request))
    PortalUser.objects.filter(pk=user.pk).update(last_signed_in_at=now)
    return token


def expired(session: PortalSession, now: datetime) -> bool:
    return (session.ended_at is not None or now - session.last_seen_at > IDLE
            or now - session.created_at > ABSOLUTE)


def current(token: str | None, now: datetime | None = None) -> PortalSession | None:
    """The live session this cookie token names, touched; None if there is none (any more)."""
    if not token:
        return None
    now = now or timezone.now()
    session = PortalSession.objects.select_related("user").filter(key_hash=_digest(token)).first()
    if session is None:
        return None
    if expired(session, now):
        if session.ended_at is None:
            PortalSession.objects.filter(pk=session.pk).update(ended_at=now)
        return None
    if now - session.last_seen_at > TOUCH_EVERY:
        PortalSession.objects.filter(pk=session.pk).update(last_seen_at=now)
        session.last_seen_at = now
    return session


def end(session: PortalSession, now: datetime | None = None) -> None:
    PortalSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(ended_at=now or timezone.now())


def past_retention(cutoff: datetime) -> QuerySet:
    """The sessions that ended, or expired, before `cutoff` (portal.retention deletes them).
    A session never signed out expired IDLE after its last request or ABSOLUTE after sign-in,
    whichever came first, whether or not anyone has presented its cookie since."""
    expired_before_cutoff = Q(last_seen_at__lt=cutoff - IDLE) | Q(created_at__lt=cutoff - ABSOLUTE)
    return PortalSession.objects.filter(Q(ended_at__lt=cutoff) | (Q(ended_at__isnull=True) & expired_before_cutoff))


def set_cookie(response, request, token: str) -> None:
    response.set_cookie(COOKIE, token, max_age=int(ABSOLUTE.total_seconds()), path=COOKIE_PATH, httponly=True,
                        samesite="Lax", secure=request.is_secure())


def clear_cookie(response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, samesite="Lax")
