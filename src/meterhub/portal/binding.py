"""Binding a billing account to a signed-in phone, after real-name verification.

Three things prove the customer is the account holder: the account number, the holder's
name and ID number as on the customer record, and a one-time code sent to the phone
registered on that record (which need not be the phone signed in: a family member's
phone can be bound with the holder's code). Name and ID are compared after Unicode
normalisation (full-width digits, spaces, letter case), in constant time.

Every try is recorded (`BindAttempt`) and audited. Five failures (details that do not
match, or wrong codes) for one account number within a day lock that account number for
binding until the day has passed, whoever tries; ten failures by one phone lock that
phone out of binding likewise (someone trying many account numbers). A mismatch never
says which of the details was wrong, nor whether the account exists, and does not hint at
it by its time either: an account number that matches no account is compared against a
stand-in holder whose ID number is decrypted and normalised like a real one.
"""

from __future__ import annotations

import hmac
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from meterhub import encryption
from meterhub.accounts import audit
from meterhub.billing.models import Account
from meterhub.portal import codes
from meterhub.portal.masking import mask_phone, normalise_phone
from meterhub.portal.models import BindAttempt, Binding, OneTimeCode, PortalUser

WINDOW = timedelta(hours=24)
ACCOUNT_FAILURES = 5
USER_FAILURES = 10
FAILED = (BindAttempt.Outcome.MISMATCH, BindAttempt.Outcome.WRONG_CODE)


class BindError(ValueError):
    """Binding refused, with the reason for the customer."""


@dataclass(frozen=True)
class Pending:
    """Details matched; a code went to the registered phone (shown masked)."""

    account: Account
    phone_masked: str


@dataclass(frozen=True)
class _AccountNumber:
    """What the audit log names when the number typed matches no account."""

    number: str
    audit_type = "account"
    pk = ""

    def __str__(self):
        return self.number


def _canonical(text: str, case, drop: str = "") -> str:
    """NFKC (full-width to ASCII), case folded, without whitespace or `drop` characters; NFKC
    again after each step that can make a new composable pair, so the result is a fixed point."""
    value = unicodedata.normalize("NFKC", case(unicodedata.normalize("NFKC", text or "")))
    value = "".join(ch for ch in value if not ch.isspace() and ch not in drop)
    return unicodedata.normalize("NFKC", value)


def normalise_name(text: str) -> str:
    return _canonical(text, str.casefold)


def normalise_id(text: str) -> str:
    return _canonical(text, str.upper, drop="-")


def _same(a: str, b: str) -> bool:
    return bool(a) and hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True)
class _Holder:
    """The name and ID number a typed pair is compared with."""

    name: str
    id_number: str


DECOY_NAME, DECOY_ID = "张伟", "110101190001010000"  # a typical length; never matched (see start)


@lru_cache(maxsize=1)
def _decoy_ciphertext() -> str:
    return encryption.encrypt(DECOY_ID)


def _decoy_holder() -> _Holder:
    """For a number that matches no account: a holder whose ID number costs a decryption, as a
    real customer's does when the account is read, so both answers take the same work."""
    try:
        id_number = encryption.decrypt(_decoy_ciphertext())
    except ValueError:  # the field keys changed since it was made
        _decoy_ciphertext.cache_clear()
        id_number = encryption.decrypt(_decoy_ciphertext())
    return _Holder(DECOY_NAME, id_number)


def details_match(holder, name: str, id_number: str) -> bool:
    """`holder` (a Customer, or the decoy) has this name and ID number, as people type them."""
    return (_same(normalise_name(holder.name), normalise_name(name))
            & _same(normalise_id(holder.id_number), normalise_id(id_number)))  # both compared, always


def locked_until(user: PortalUser, number: str, now: datetime) -> datetime | None:
    """When binding `number` (or binding anything, for this user) is possible again, if locked now."""
    since = now - WINDOW
    for attempts, limit in ((BindAttempt.objects.filter(account_number=number), ACCOUNT_FAILURES),
                            (BindAttempt.objects.filter(user=user), USER_FAILURES)):
        last_bound = attempts.filter(outcome=BindAttempt.Outcome.BOUND, at__gt=since).order_by("-at").first()
        failures = attempts.filter(outcome__in=FAILED, at__gt=last_bound.at if last_bound else since)
        times = list(failures.order_by("-at").values_list("at", flat=True)[:limit])
        if len(times) >= limit:
            return times[-1] + WINDOW  # when the oldest of the last `limit` failures leaves the window
    return None


def _record(user: PortalUser, number: str, outcome: str, ip: str | None, now: datetime, account=None) -> None:
    BindAttempt.objects.create(user=user, account_number=number[:32], outcome=outcome, at=now, ip=ip)
    action = "portal.bind" if outcome == BindAttempt.Outcome.BOUND else "portal.bind_refused"
    audit.record(action, account or _AccountNumber(number[:32]), {"outcome": [None, outcome]},
                 actor_name=user.audit_name)
    if outcome in FAILED and locked_until(user, number, now):
        audit.record("portal.bind_locked", account or _AccountNumber(number[:32]), {}, actor_name=user.audit_name)


def _refuse_if_locked(user: PortalUser, number: str, ip: str | None, now: datetime, account=None) -> None:
    until = locked_until(user, number, now)
    if until is not None:
        _record(user, number, BindAttempt.Outcome.LOCKED, ip, now, account)
        raise BindError(_("Too many failed attempts. Binding is possible again after %(when)s, or ask customer "
                          "service.") % {"when": formats.date_format(timezone.localtime(until), "DATETIME_FORMAT")})


def start(user: PortalUser, number: str, name: str, id_number: str, *, ip: str | None = None, language: str = "",
          now: datetime | None = None) -> Pending:
    """Check the details; if they match, send a code to the phone on the customer record."""
    now = now or timezone.now()
    number = (number or "").strip()
    if not (number and name.strip() and id_number.strip()):
        raise BindError(_("Enter the account number, the account holder's name and ID number."))
    account = Account.objects.select_related("customer", "site").filter(number=number).first()
    holder = account.customer if account is not None else _decoy_holder()  # the ID number decrypted either way
    _refuse_if_locked(user, number, ip, now, account)
    matched = details_match(holder, name, id_number)  # compared either way, so "no such account" is not quicker
    if account is None or not matched:
        _record(user, number, BindAttempt.Outcome.MISMATCH, ip, now, account)
        raise BindError(_("These details do not match our records. Check the account number, name and ID number, "
                          "as on your bill."))
    if Binding.objects.filter(user=user, account=account, unbound_at__isnull=True).exists():
        raise BindError(_("This account is bound to your phone already."))
    phone = normalise_phone(account.customer.phone)
    if not phone:
        raise BindError(_("No mobile number is registered for this account. Please ask customer service to add it."))
    try:
        codes.send(phone, OneTimeCode.Purpose.BIND, language=account.customer.language or language, ip=ip,
                   account=account, requested_by=user, now=now)
    except codes.CodeError as exc:
        raise BindError(str(exc)) from None
    return Pending(account, mask_phone(phone))


def confirm(user: PortalUser, account: Account, typed: str, *, ip: str | None = None,
            now: datetime | None = None) -> Binding:
    """The code from the registered phone: bind the account to this user."""
    now = now or timezone.now()
    _refuse_if_locked(user, account.number, ip, now, account)
    try:
        codes.check(normalise_phone(account.customer.phone), OneTimeCode.Purpose.BIND, typed, account=account,
                    requested_by=user, now=now)
    except codes.CodeError as exc:
        _record(user, account.number, BindAttempt.Outcome.WRONG_CODE, ip, now, account)
        raise BindError(str(exc)) from None
    try:
        with transaction.atomic():
            binding = Binding.objects.create(user=user, account=account, bound_at=now)
    except IntegrityError:  # the same code confirmed twice at once
        return Binding.objects.get(user=user, account=account, unbound_at__isnull=True)
    _record(user, account.number, BindAttempt.Outcome.BOUND, ip, now, account)
    return binding


def unbind(user: PortalUser, account: Account, now: datetime | None = None) -> None:
    if Binding.objects.filter(user=user, account=account, unbound_at__isnull=True).update(
            unbound_at=now or timezone.now()):
        audit.record("portal.unbind", account, {}, actor_name=user.audit_name)


def bound_accounts(user: PortalUser):
    return (Account.objects.filter(portal_bindings__user=user, portal_bindings__unbound_at__isnull=True)
            .select_related("site", "customer", "meter").order_by("number"))
