"""The server-sent event stream, both ways the console may be served."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from meterhub.alarms import live, services

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def meter(site, collector):
    from meterhub.assets.models import Meter

    return Meter.objects.create(serial="E1", site=site, address="000000000001", collector=collector)


def events(text: str) -> list[dict]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


@pytest.mark.django_db
def test_the_stream_sends_alarms_after_the_last_one_seen(meter, signed_in, monkeypatch):
    monkeypatch.setattr(live, "STREAM_S", 0.05)
    old, _ = services.raise_alarm("seal_open", T0, meter=meter)
    new, _ = services.raise_alarm("voltage_loss", T0, meter=meter)
    client, _user = signed_in("operator")
    response = client.get("/alarms/stream/", HTTP_LAST_EVENT_ID=str(old.pk))
    assert response["Content-Type"].startswith("text/event-stream")
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("retry: ")
    [sent] = events(body)
    assert (sent["id"], sent["kind"], sent["where"]) == (new.pk, "voltage_loss", "E1")
    assert f"id: {new.pk}\nevent: alarm\n" in body


@pytest.mark.django_db
def test_a_fresh_stream_starts_after_the_newest_alarm(meter, signed_in, monkeypatch):
    monkeypatch.setattr(live, "STREAM_S", 0.05)
    services.raise_alarm("seal_open", T0, meter=meter)
    body = b"".join(signed_in("operator")[0].get("/alarms/stream/").streaming_content).decode()
    assert events(body) == []


@pytest.mark.django_db(transaction=True)
def test_the_asgi_stream_waits_without_a_thread_and_speaks_the_users_language(meter, monkeypatch):
    monkeypatch.setattr(live, "POLL_S", 0.05)

    async def first_alarm():
        stream = live.async_stream(0, "zh-hans", stream_s=5)
        assert (await anext(stream)).startswith("retry:")
        await asyncio.to_thread(services.raise_alarm, "gas_leak", T0, meter=meter)
        chunk = await anext(stream)
        await stream.aclose()
        return chunk

    [alarm] = events(asyncio.run(first_alarm()))
    assert alarm["kind"] == "gas_leak" and alarm["severity"] == "critical"
