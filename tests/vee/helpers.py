"""Helpers for the VEE tests."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal


def slot_now() -> datetime:
    """The latest 15-minute slot, so tests run against the real clock the pipeline uses."""
    now = datetime.now(UTC)
    return now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)


def rec(meter, ts, raw, quantity="energy_import", quality="actual", multiplier="1", source="scheduled"):
    from meterhub.headend.records import ReadingRecord

    return ReadingRecord(meter.pk, quantity, ts, Decimal(str(raw)), Decimal(multiplier), "kWh", source, quality)


def drain():
    from meterhub.readings import processing

    rounds = 0
    while processing.process_dirty():
        rounds += 1
        assert rounds < 20, "the pipeline does not settle"
    return rounds


Q = timedelta(minutes=15)
