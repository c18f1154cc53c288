"""A fixed-window request counter per caller, in the database so every process shares it.

Each request adds one to the row (caller, window) with a single INSERT ... ON CONFLICT DO
UPDATE ... RETURNING (PostgreSQL and SQLite alike): atomic without locks held across the
request. Past the limit the caller gets 429 with Retry-After: the seconds to the window's end.
A fixed window lets a burst of up to twice the limit straddle a boundary; that is the
price of one row and one statement per request (docs/decisions.md).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection

from meterhub.accounts.models import ApiRateWindow


class RateLimited(Exception):
    def __init__(self, retry_after: int, limit: int):
        super().__init__(f"more than {limit} requests in {settings.API_RATE_WINDOW_S} s")
        self.retry_after = retry_after
        self.limit = limit


def hit(caller: str, limit: int | None = None, now: float | None = None) -> int:
    """Count one request for caller; the count so far in this window. Raises RateLimited past the limit."""
    limit = settings.API_RATE_LIMIT if limit is None else limit
    window = settings.API_RATE_WINDOW_S
    now = time.time() if now is None else now
    start = int(now) // window * window
    table = ApiRateWindow._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (caller, window_start, hits) VALUES (%s, %s, 1) "
            f"ON CONFLICT (caller, window_start) DO UPDATE SET hits = {table}.hits + 1 RETURNING hits",
            [caller, start])
        hits = cursor.fetchone()[0]
    if hits == 1:  # the window's first request sweeps the caller's old windows
        ApiRateWindow.objects.filter(caller=caller, window_start__lt=start).delete()
    if hits > limit:
        raise RateLimited(retry_after=max(1, start + window - int(now)), limit=limit)
    return hits
