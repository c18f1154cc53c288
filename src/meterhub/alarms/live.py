"""New alarms as server-sent events, for the console's live view.

A stream lasts STREAM_S and ends; the browser's EventSource reconnects by itself with the
last event id (the alarm's id), so nothing is missed and no connection is held forever.
Under ASGI (uvicorn, `meterhub web`) the stream is an async generator that waits without
a thread; under WSGI (the development server) one answer per request, polled.
"""

from __future__ import annotations

import asyncio
import json
from zoneinfo import ZoneInfo

from asgiref.sync import sync_to_async
from django.urls import reverse
from django.utils import translation

from meterhub.alarms.models import Alarm

STREAM_S = 25.0
POLL_S = 1.0
KEEPALIVE_S = 10.0
RETRY_MS = 1000


def latest_id() -> int:
    return Alarm.objects.order_by("-id").values_list("id", flat=True).first() or 0


def new_alarms(after: int, language: str, limit: int = 20) -> list[dict]:
    """Alarms raised since alarm `after`, oldest first, as the page shows them."""
    rows = Alarm.objects.select_related("meter", "collector", "site").filter(id__gt=after).order_by("id")[:limit]
    out = []
    with translation.override(language):
        for a in rows:
            where = str(a.meter or a.collector or a.site)
            out.append({"id": a.pk, "kind": a.kind, "label": str(a.get_kind_display()), "severity": a.severity,
                        "severity_label": str(a.get_severity_display()), "where": where, "site": a.site.name,
                        "raised_at": a.raised_at.astimezone(ZoneInfo(a.site.time_zone or "UTC"))
                        .strftime("%Y-%m-%d %H:%M:%S"),
                        "url": reverse("meter-detail", args=[a.meter_id]) if a.meter_id else reverse("section-alarms")})
    return out


def event(alarm: dict) -> str:
    return f"id: {alarm['id']}\nevent: alarm\ndata: {json.dumps(alarm, ensure_ascii=False)}\n\n"


def sync_stream(after: int, language: str):
    """Under WSGI a held stream would hold a server thread: answer what is new and end; the
    browser reconnects after RETRY_MS, which makes it a poll once a second."""
    yield f"retry: {RETRY_MS}\n\n"
    for alarm in new_alarms(after, language):
        yield event(alarm)


async def async_stream(after: int, language: str, stream_s: float | None = None):
    stream_s = STREAM_S if stream_s is None else stream_s
    fetch = sync_to_async(new_alarms, thread_sensitive=False)
    yield f"retry: {RETRY_MS}\n\n"
    loop = asyncio.get_running_loop()
    end, quiet_since = loop.time() + stream_s, loop.time()
    while loop.time() < end:
        for alarm in await fetch(after, language):
            after, quiet_since = alarm["id"], loop.time()
            yield event(alarm)
        if loop.time() - quiet_since > KEEPALIVE_S:
            quiet_since = loop.time()
            yield ": keepalive\n\n"
        await asyncio.sleep(POLL_S)
