"""Pairing a device with its terminal, and recognising the paired device on every request.

Someone from the utility opens /kiosk/pair/ on the device and types the terminal's code and
key. The device then holds a signed cookie (path /kiosk/, HttpOnly, five years) naming the
terminal and the fingerprint of its key: the signature stops a forged or edited cookie,
the fingerprint makes a new key (terminals.rotate_key) unpair the device. The cookie is
checked against the terminal's row on every request, so nothing about the terminal's
state is trusted from the device.

Wrong keys are counted on the terminal: after five in a row its pairing is locked for
fifteen minutes (a 100-bit key cannot be guessed anyway; the lock keeps the log short).
An unknown code gets the same answer as a wrong key.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

from django.core import signing
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from meterhub.accounts import audit
from meterhub.kiosk import keys
from meterhub.kiosk.models import Terminal

COOKIE = "meterhub_kiosk"
COOKIE_PATH = "/kiosk/"
SALT = "meterhub.kiosk.pairing"
MAX_AGE = timedelta(days=5 * 365)
FAILURES = 5
LOCK = timedelta(minutes=15)


class PairingError(ValueError):
    """The device was not paired, with the reason for the person pairing it."""


def _attempt(terminal: Terminal | None, typed_key: str, now: datetime) -> str:
    """Check the key against the (locked) terminal row and count the outcome on it."""
    if terminal is None:
        return "unknown"
    if terminal.pair_locked_until and terminal.pair_locked_until > now:
        return "locked"
    if keys.matches(typed_key, terminal.key_hash):
        terminal.pair_failures, terminal.pair_locked_until, terminal.paired_at = 0, None, now
        terminal.save(update_fields=["pair_failures", "pair_locked_until", "paired_at"])
        return "paired"
    terminal.pair_failures += 1
    if terminal.pair_failures >= FAILURES:
        terminal.pair_failures, terminal.pair_locked_until = 0, now + LOCK
    terminal.save(update_fields=["pair_failures", "pair_locked_until"])
    return "locked" if terminal.pair_locked_until and terminal.pair_locked_until > now else "wrong key"


def pair(code: str, typed_key: str, *, now: datetime | None = None) -> Terminal:
    """The terminal whose code and key these are; raises PairingError otherwise."""
    now = now or timezone.now()
    code = (code or "").strip()
    if not code or not (typed_key or "").strip():
        raise PairingError(_("Enter the terminal code and its key."))
    with transaction.atomic():
        terminal = Terminal.objects.select_for_update().filter(code__iexact=code).first()
        outcome = _attempt(terminal, typed_key, now)
        if outcome == "paired":
            audit.record("kiosk.pair", terminal, {"paired_at": [None, now.isoformat()]}, actor_name="kiosk")
            return terminal
        audit.record("kiosk.pair_refused", terminal or audit.Typed("terminal", code[:40]),
                     {"reason": [None, outcome]}, actor_name="kiosk")
    if outcome == "locked":
        raise PairingError(_("Too many wrong keys for this terminal. Try again after %(when)s.") % {
            "when": formats.time_format(timezone.localtime(terminal.pair_locked_until), "H:i")})
    raise PairingError(_("This terminal code and key do not belong together. Check both in the console."))


def cookie_value(terminal: Terminal) -> str:
    return f"{terminal.pk}:{keys.fingerprint(terminal.key_hash)}"


def set_cookie(response, request, terminal: Terminal) -> None:
    response.set_signed_cookie(COOKIE, cookie_value(terminal), salt=SALT, max_age=int(MAX_AGE.total_seconds()),
                               path=COOKIE_PATH, httponly=True, samesite="Lax", secure=request.is_secure())


def clear_cookie(response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, samesite="Lax")


def paired_terminal(request) -> Terminal | None:
    """The terminal this device is paired with, enabled or not; None if it is not paired (any more)."""
    try:
        value = request.get_signed_cookie(COOKIE, salt=SALT, max_age=MAX_AGE)
    except (KeyError, signing.BadSignature):
        return None
    pk, _sep, fingerprint = value.partition(":")
    terminal = Terminal.objects.select_related("site").filter(pk=int(pk) if pk.isdigit() else None).first()
    if terminal is None or not hmac.compare_digest(keys.fingerprint(terminal.key_hash), fingerprint):
        return None
    return terminal
