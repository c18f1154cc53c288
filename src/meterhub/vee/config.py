"""A site's VEE thresholds as plain data: its VeeSettings row, or the defaults."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal

from meterhub.vee.models import VeeSettings


@dataclass(frozen=True)
class Thresholds:
    missing_grace_minutes: int
    spike_factor: Decimal
    spike_history_days: int
    spike_min_history_days: int
    spike_floor: Decimal
    limits: dict
    register_capacity: Decimal
    zero_days: int
    tariff_tolerance: Decimal
    future_tolerance_s: int
    interpolation_max_slots: int
    estimation_max_hours: int
    profile_weeks: int
    reread_window_hours: int

    @classmethod
    def from_row(cls, row: VeeSettings) -> Thresholds:
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


def defaults() -> Thresholds:
    return Thresholds.from_row(VeeSettings())


def for_sites(site_ids) -> dict[int, Thresholds]:
    """{site id: thresholds} for every id given, defaults where a site has no row."""
    rows = {row.site_id: Thresholds.from_row(row) for row in VeeSettings.objects.filter(site_id__in=set(site_ids))}
    fallback = defaults()
    return {site_id: rows.get(site_id, fallback) for site_id in site_ids}
