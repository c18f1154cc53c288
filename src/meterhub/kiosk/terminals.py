"""The terminal register: issuing keys, enabling and disabling, and whether each is online.

Keys are shown once (`Issued.key`) and stored as a hash. A terminal reports in from its
page every few seconds (`heartbeat`); the console calls it online while the last report
is recent (settings.KIOSK_ONLINE_WITHIN_S). Disabling takes effect at the terminal's next
request or heartbeat: every kiosk request reads the terminal's row. Every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from meterhub.accounts import audit
from meterhub.assets import registry
from meterhub.kiosk import keys
from meterhub.kiosk.models import Terminal

ONLINE, OFFLINE, DISABLED = "online", "offline", "disabled"


@dataclass(frozen=True)
class Issued:
    terminal: Terminal
    key: str  # for the person pairing the device; never stored, never shown again


def online_within() -> timedelta:
    return timedelta(seconds=settings.KIOSK_ONLINE_WITHIN_S)


def state_of(terminal: Terminal, now: datetime | None = None) -> str:
    if not terminal.enabled:
        return DISABLED
    seen = terminal.last_seen_at
    return ONLINE if seen is not None and (now or timezone.now()) - seen <= online_within() else OFFLINE


def _with_new_key(terminal: Terminal, now: datetime) -> str:
    key = keys.new_key()
    terminal.key_hash, terminal.key_issued_at = keys.digest(key), now
    terminal.pair_failures, terminal.pair_locked_until = 0, None
    return key


@transaction.atomic
def register(terminal: Terminal, *, actor, now: datetime | None = None) -> Issued:
    """Save a new terminal (filled in by the console's form) with a new key."""
    if terminal.pk is not None:
        raise ValueError("register a new terminal; change an existing one with change()")
    key = _with_new_key(terminal, now or timezone.now())
    return Issued(registry.save(terminal, before={}, actor=actor), key)


def change(terminal: Terminal, *, before: dict, actor) -> Terminal:
    """Save edits to name, site, location or language (the code stays: it was typed when pairing)."""
    return registry.save(terminal, before=before, actor=actor)


@transaction.atomic
def rotate_key(terminal: Terminal, *, actor, now: datetime | None = None) -> Issued:
    """A new key: devices paired with the old one are unpaired at their next request."""
    now = now or timezone.now()
    terminal = Terminal.objects.select_for_update().get(pk=terminal.pk)
    key = _with_new_key(terminal, now)
    terminal.paired_at = None
    terminal.save(update_fields=["key_hash", "key_issued_at", "pair_failures", "pair_locked_until", "paired_at"])
    audit.record("terminal_key", terminal, {"key_issued_at": [None, now.isoformat()]}, actor=actor)
    return Issued(terminal, key)


def set_enabled(terminal: Terminal, enabled: bool, *, actor) -> Terminal:
    """Put a terminal in or out of service (remotely: it follows at its next request)."""
    if Terminal.objects.filter(pk=terminal.pk, enabled=not enabled).update(enabled=enabled):
        audit.record("terminal_enable" if enabled else "terminal_disable", terminal,
                     {"enabled": [not enabled, enabled]}, actor=actor)
    terminal.enabled = enabled
    return terminal


def heartbeat(terminal: Terminal, *, ip: str | None, version: str, now: datetime | None = None) -> None:
    """The terminal's page reported in: when, from where, with which version of the app."""
    now = now or timezone.now()
    Terminal.objects.filter(pk=terminal.pk).update(last_seen_at=now, last_seen_ip=ip, app_version=version[:40])
    terminal.last_seen_at, terminal.last_seen_ip, terminal.app_version = now, ip, version[:40]
