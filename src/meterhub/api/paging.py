"""Keyset (cursor) paging over the readings table's own key, so page 1,000 costs what page 1 does.

A cursor is the key (meter, quantity, ts) of the last reading sent (or, for daily and monthly
figures, their (meter, quantity, day)), opaque to the caller; the next page is the rows after it
in key order. No count, no OFFSET.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime

from ninja.errors import HttpError


def encode(meter_id: int, quantity: str, ts: datetime | date) -> str:
    raw = json.dumps([meter_id, quantity, ts.isoformat()], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[int, str, datetime]:
    try:
        meter_id, quantity, ts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not 0 <= int(meter_id) < 2**63:
            raise ValueError(meter_id)
        return int(meter_id), str(quantity), datetime.fromisoformat(ts)
    except (ValueError, TypeError) as exc:
        raise HttpError(400, "cursor is not one this API gave out") from exc


def page(rows, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
    """Up to `limit` rows after the cursor (rows ordered by the key), and the next cursor."""
    if cursor:
        rows = rows.filter(pk__gt=decode(cursor))
    found = list(rows[:limit + 1])
    items = found[:limit]
    more = len(found) > limit
    last = items[-1] if items else None
    return items, (encode(last["meter_id"], last["quantity"], last["ts"]) if more else None)


def by_id(rows, limit: int, after: int | None) -> tuple[list, int | None]:
    """Up to `limit` rows with an id above `after`, in id order, and the `after` for the next page."""
    if not 1 <= limit <= 1000:
        raise HttpError(400, "limit must be between 1 and 1000")
    if after is not None:
        rows = rows.filter(pk__gt=after)
    found = list(rows.order_by("pk")[:limit + 1])
    items = found[:limit]
    return items, (items[-1].pk if len(found) > limit else None)
