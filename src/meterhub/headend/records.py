"""What the head-end hands to the store: plain records, no database types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class ReadingRecord:
    meter_id: int
    quantity: str
    ts: datetime
    raw_value: Decimal
    multiplier: Decimal
    unit: str
    source: str  # "scheduled" | "on_demand" | "mqtt" | "import" | "manual"
    quality: str = "actual"  # "estimated" for VEE's estimates

    @property
    def value(self) -> Decimal:
        return self.raw_value * self.multiplier


@dataclass(frozen=True, slots=True)
class EventRecord:
    meter_id: int
    kind: str
    ts: datetime
    detail: dict = field(default_factory=dict)
    source: str = "scheduled"


@dataclass(frozen=True, slots=True)
class LinkRecord:
    at: datetime
    registration_id: str
    port: int
    kind: str  # "online" | "offline" | "replaced" | "refused"
    peer: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CommRecord:
    meter_id: int
    at: datetime
    ok: bool
    error: str = ""
