"""Finding a customer's account at a terminal by its account number or its meter number.

A terminal is a public screen: anybody may type numbers into it. So lookups are limited
per terminal (`LOOKUPS` in `WINDOW`, and fewer misses, `MISSES`): past either limit the
terminal looks nothing up until the oldest of them leaves the window, and the refusal is
the same whatever was typed. Only open accounts of the terminal's own site are found.
Every lookup is a `Lookup` row (the limits are counted from them) and an audit entry
under the terminal's name.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from meterhub.accounts import audit
from meterhub.billing.models import Account
from meterhub.kiosk.models import Lookup, Terminal

WINDOW = timedelta(minutes=10)
LOOKUPS = 40  # a busy lobby: one customer a minute, a few tries each
MISSES = 10  # numbers that are no account: typos happen, walking through numbers should not


class LookupRefused(ValueError):
    """Nothing to show, with what to tell the customer."""


@dataclass(frozen=True)
class Found:
    account: Account
    by: str  # Lookup.By: how the typed number matched


def clean(typed: str) -> str:
    """As typed on any keyboard: full-width characters folded (NFKC), spaces dropped (and NFKC again:
    dropping a space can join a letter and a combining mark)."""
    return unicodedata.normalize("NFKC", "".join(ch for ch in unicodedata.normalize("NFKC", typed or "")
                                                 if not ch.isspace()))


def paused_until(recent: list[tuple[datetime, bool]], now: datetime) -> datetime | None:
    """When lookups may go on, given this terminal's lookups as (time, found), if they must wait now."""
    since = now - WINDOW
    times = sorted((at for at, _found in recent if at > since), reverse=True)
    misses = sorted((at for at, found in recent if at > since and not found), reverse=True)
    waits = [latest[limit - 1] + WINDOW for latest, limit in ((times, LOOKUPS), (misses, MISSES))
             if len(latest) >= limit]
    return max(waits, default=None)


def open_account(terminal: Terminal, number: str, now: datetime) -> Found | None:
    """The open account of the terminal's site with this account number, else the one on the
    meter with this number."""
    today = now.astimezone(ZoneInfo(terminal.site.time_zone)).date()
    accounts = (Account.objects.filter(site=terminal.site).filter(Q(closed_on__isnull=True) | Q(closed_on__gt=today))
                .select_related("site", "customer", "meter"))
    account = accounts.filter(number__iexact=number).first()
    if account is not None:
        return Found(account, Lookup.By.ACCOUNT)
    account = accounts.filter(meter__serial__iexact=number).order_by("-opened_on", "-id").first()
    return Found(account, Lookup.By.METER) if account is not None else None


def look_up(terminal: Terminal, typed: str, *, now: datetime | None = None) -> Found:
    now = now or timezone.now()
    number = clean(typed)[:40]
    if not number:
        raise LookupRefused(_("Type an account number or a meter number."))
    recent = terminal.lookups.filter(at__gt=now - WINDOW, refused=False).values_list("at", "by")
    until = paused_until([(at, bool(by)) for at, by in recent], now)
    if until is not None:
        Lookup.objects.create(terminal=terminal, at=now, typed=number, refused=True)
        audit.record("kiosk.lookup_refused", audit.Typed("account", number), {"until": [None, until.isoformat()]},
                     actor_name=terminal.audit_name)
        raise LookupRefused(_("Many numbers were looked up here just now. Please try again after %(when)s, or ask "
                              "at the counter.") % {"when": formats.time_format(timezone.localtime(until), "H:i")})
    found = open_account(terminal, number, now)
    Lookup.objects.create(terminal=terminal, at=now, typed=number, by=found.by if found else "",
                          account=found.account if found else None)
    audit.record("kiosk.lookup", found.account if found else audit.Typed("account", number),
                 {"found": [None, found is not None], "by": [None, found.by if found else ""]},
                 actor_name=terminal.audit_name)
    if found is None:
        raise LookupRefused(_("No account has this number here. Check the account number on your bill or "
                              "receipt, or the meter number on your meter."))
    return found
