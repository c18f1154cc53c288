"""Signing in to the portal with a phone number and a code sent to it by SMS.

Any mobile number may sign in (a family member pays for the holder's account): what it
may see is decided by binding (portal.binding), never by the number alone. The answer to
"send me a code" is the same whether or not the number is known, so the form does not
tell anyone who is a customer.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from meterhub.accounts import audit
from meterhub.portal import codes
from meterhub.portal.masking import normalise_phone
from meterhub.portal.models import OneTimeCode, PortalUser


def phone_or_error(text: str) -> str:
    phone = normalise_phone(text)
    if not phone:
        raise codes.CodeError(_("Enter a mobile number: digits only, 6 to 15 of them, for example 13800000001."))
    return phone


def send_code(phone_text: str, *, ip: str | None, language: str, now: datetime | None = None) -> str:
    """Send a sign-in code; returns the normalised phone the code went to."""
    phone = phone_or_error(phone_text)
    codes.send(phone, OneTimeCode.Purpose.SIGN_IN, language=language, ip=ip, now=now)
    return phone


def verify(phone: str, typed: str, *, now: datetime | None = None) -> PortalUser:
    """The code is right: the portal user of this phone (made on first sign-in)."""
    codes.check(phone, OneTimeCode.Purpose.SIGN_IN, typed, now=now)
    user, created = PortalUser.objects.get_or_create(phone=phone, defaults={"created_at": now or timezone.now()})
    audit.record("portal.sign_in", user, {"first_time": [None, created]}, actor_name=user.audit_name)
    return user
