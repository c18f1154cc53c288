"""Date ranges typed by people or sent by the chart, read in the site's time zone.

A date ("2026-03-01") means that day's local midnight; the end date is included, so
"from 1 March to 31 March" ends at local midnight on 1 April. A full timestamp with an
offset ("2026-03-01T04:00:00Z", what a zoomed chart sends) is taken as it is.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _


def _moment(text: str, zone: ZoneInfo, *, end: bool) -> datetime:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return datetime.combine(day + timedelta(days=1 if end else 0), time(), tzinfo=zone)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(_("%(v)s is not a date (YYYY-MM-DD) or a time") % {"v": text}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def parse_range(start: str, end: str, zone: ZoneInfo, *, default_days: int = 7) -> tuple[datetime, datetime]:
    """[start, end) from two texts; either may be empty: the range then ends tonight
    and covers `default_days` local days."""
    today = timezone.localtime(timezone=zone).date()
    end_at = _moment(end, zone, end=True) if end else _moment(today.isoformat(), zone, end=True)
    start_at = (_moment(start, zone, end=False) if start
                else datetime.combine(end_at.astimezone(zone).date() - timedelta(days=default_days), time(),
                                      tzinfo=zone))
    if start_at >= end_at:
        raise ValueError(_("The range must end after it starts"))
    return start_at, end_at
