"""The quantities a meter has sent, and the newest reading of each.

Most of a meter's readings are interval data, so its latest few hundred readings may hold
only its interval quantities: a register read once a month (the billing-day freeze) or
once at installation falls out of any fixed window. The table's key (meter, quantity, ts)
answers without scanning the meter's history: a loose index scan steps from one quantity
to the next, and each quantity's newest instant is one probe at the end of its part of
the key. A few dozen probes for a meter, however many years it has been read.
"""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.db import connection
from django.db.models import Q, Subquery

from meterhub.readings.models import Reading

# each step finds the next quantity above the last (one index probe); the recursion ends
# when there is none (NULL)
_QUANTITIES = """
    WITH RECURSIVE sent(quantity) AS (
        SELECT MIN(quantity) FROM readings_reading WHERE meter_id = %s
        UNION ALL
        SELECT (SELECT MIN(quantity) FROM readings_reading WHERE meter_id = %s AND quantity > sent.quantity)
        FROM sent WHERE sent.quantity IS NOT NULL
    )"""


def quantities_sent(meter_id: int) -> list[str]:
    """Every quantity the meter has a reading of, in the key's order."""
    with connection.cursor() as cursor:
        cursor.execute(f"{_QUANTITIES} SELECT quantity FROM sent WHERE quantity IS NOT NULL",
                       [meter_id, meter_id])
        return [row[0] for row in cursor.fetchall()]


def latest_per_quantity(meter_id: int) -> list[Reading]:
    """The newest reading of each quantity the meter has sent, by quantity."""
    quantities = quantities_sent(meter_id)
    if not quantities:
        return []
    mine = Reading.objects.filter(meter_id=meter_id)
    # one uncorrelated subquery per quantity: each is one probe at the end of its key range
    newest = [Q(quantity=q, ts=Subquery(mine.filter(quantity=q).order_by("-ts").values("ts")[:1]))
              for q in quantities]
    return sorted(mine.filter(reduce(or_, newest)), key=lambda r: r.quantity)
