"""Building and site totals from meter rows, master meters set beside them. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class TotalFigures:
    building_id: int | None  # None: the whole site
    kind: str
    consumption: Decimal = Decimal(0)
    unit: str = ""
    meters: int = 0
    complete_meters: int = 0
    master: Decimal | None = None
    master_complete: bool = True
    by_hour: list[float | None] = field(default_factory=list)


def totals(rows: Iterable[Mapping], masters: Mapping[int, int | None]) -> list[TotalFigures]:
    """`rows`: one per meter (meter_id, building_id, kind, consumption, complete, unit and
    optionally by_hour). `masters`: master meter id -> the building it measures (None: the
    site). Returns the site total per kind and one total per building and kind."""
    out: dict[tuple[int | None, str], TotalFigures] = {}

    def total(building_id, kind):
        return out.setdefault((building_id, kind), TotalFigures(building_id, kind))

    for row in rows:
        kind = row["kind"]
        if row["meter_id"] in masters:
            figures = total(masters[row["meter_id"]], kind)
            figures.master = (figures.master or Decimal(0)) + row["consumption"]
            figures.master_complete = figures.master_complete and row["complete"]
            figures.unit = figures.unit or row.get("unit", "")
            continue
        scopes = [total(None, kind)] + ([total(row["building_id"], kind)] if row["building_id"] else [])
        for figures in scopes:
            figures.consumption += row["consumption"]
            figures.meters += 1
            figures.complete_meters += bool(row["complete"])
            figures.unit = figures.unit or row.get("unit", "")
            figures.by_hour = _add_hours(figures.by_hour, row.get("by_hour") or [])
    for figures in out.values():
        if figures.master is None:
            figures.master_complete = False
    return sorted(out.values(), key=lambda f: (f.building_id is not None, f.building_id or 0, f.kind))


def _add_hours(acc: list, hours: list) -> list:
    """Hour-by-hour sums; an hour some meter does not know yet counts what is known."""
    n = max(len(acc), len(hours))
    acc, hours = acc + [None] * (n - len(acc)), list(hours) + [None] * (n - len(hours))
    return [a if h is None else round((a or 0.0) + h, 3) for a, h in zip(acc, hours, strict=True)]
