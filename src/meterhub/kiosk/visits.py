"""One customer's turn at a terminal, kept in the device's session and nowhere else.

A visit starts with a successful lookup and holds the account, the reads and the orders
it made; pages of the visit show only those. It ends when the customer presses Finish,
when the page has been left alone (the page's own idle timer, then `IDLE` here in any
case), after `LONGEST`, or when the terminal goes out of service. Ending flushes the
session: the next customer starts with nothing of the last one, not even their language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from meterhub.billing.models import Account
from meterhub.kiosk.models import Terminal

KEY = "kiosk_visit"
LANGUAGE = "kiosk_language"
IDLE = timedelta(minutes=5)
LONGEST = timedelta(minutes=30)
READS = 3  # live reads of the meter one visit may ask for


@dataclass
class Visit:
    account: Account
    started_at: datetime
    reads: list[int]  # read commands this visit asked for
    orders: list[str]  # order numbers this visit made


def start(request, terminal: Terminal, account: Account, now: datetime | None = None) -> Visit:
    now = now or timezone.now()
    request.session.cycle_key()
    request.session[KEY] = {"terminal": terminal.pk, "account": account.pk, "started": now.isoformat(),
                            "seen": now.isoformat(), "reads": [], "orders": []}
    return Visit(account, now, [], [])


def current(request, terminal: Terminal, now: datetime | None = None) -> Visit | None:
    """The visit going on at this terminal, touched; None if there is none (any more)."""
    now = now or timezone.now()
    data = request.session.get(KEY)
    if not data or data.get("terminal") != terminal.pk:
        return None
    started, seen = datetime.fromisoformat(data["started"]), datetime.fromisoformat(data["seen"])
    account = Account.objects.select_related("site", "customer", "meter").filter(pk=data["account"]).first()
    if account is None or now - seen > IDLE or now - started > LONGEST:
        end(request)
        return None
    data["seen"] = now.isoformat()
    request.session.modified = True
    return Visit(account, started, data["reads"], data["orders"])


def remember(request, *, read: int | None = None, order: str | None = None) -> None:
    """Note a read command or an order made during the visit (its pages show only those)."""
    data = request.session[KEY]
    if read is not None:
        data["reads"].append(read)
    if order is not None:
        data["orders"].append(order)
    request.session.modified = True


def leave(request) -> None:
    """Back at the start screen: the account is put away; the language chosen stays for this customer."""
    if request.session.pop(KEY, None) is not None:
        request.session.cycle_key()


def end(request) -> None:
    """The customer is done (or gone): nothing of them stays on the device."""
    request.session.flush()
