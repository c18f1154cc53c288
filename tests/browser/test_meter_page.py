"""The meter page in a real Chromium: the load-profile chart draws, zooms by asking the
server again, and read-now shows the head-end's answer; on a desktop and on a phone."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from meterhub.assets.models import Collector, Meter, Site
from meterhub.comms import commands
from meterhub.comms.models import BusLink, Command
from meterhub.headend.commands import Outcome
from meterhub.headend.records import ReadingRecord
from meterhub.readings.ingest import store_readings

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("METERHUB_SCREENSHOTS", "/tmp/meterhub-screenshots"))


@pytest.fixture
def metered(transactional_db):
    site = Site.objects.create(code="north", name="North Estate", time_zone="Asia/Shanghai", currency="CNY")
    collector = Collector.objects.create(code="DTU-1", site=site, registration_id="REG-1")
    meter = Meter.objects.create(serial="E1", site=site, address="240101000001", collector=collector,
                                 ct_ratio=Decimal(10), pt_ratio=Decimal(4))
    now = timezone.now().replace(second=0, microsecond=0)
    start = now - timedelta(days=40, minutes=now.minute % 15)
    steps = int((now - start) / timedelta(minutes=15))
    register, records = Decimal(1000), []
    for i in range(steps):
        ts = start + i * timedelta(minutes=15)
        hour = ts.astimezone(UTC).hour
        register += Decimal("0.05") + (Decimal("0.2") if 10 <= hour <= 14 else 0)  # daytime load
        quality = "estimated" if i % 500 == 7 else "suspect" if i == steps - 20 else "actual"
        records.append(ReadingRecord(meter.pk, "energy_import", ts, register, Decimal(40), "kWh", "scheduled",
                                     quality))
        records.append(ReadingRecord(meter.pk, "voltage_a", ts, Decimal(220) + Decimal(i % 7), Decimal(4), "V",
                                     "scheduled"))
    store_readings(records)
    return meter


def _loads(page) -> int:
    return int(page.get_attribute("#chart", "data-loads") or 0)


def _wait_loads(page, n: int):
    page.wait_for_function(f"Number(document.getElementById('chart').dataset.loads || 0) >= {n}")


def test_chart_draws_readings_marks_quality_and_zoom_fetches_finer_data(new_page, operator_login, metered):
    page = new_page()
    operator_login(page, "readonly")
    page.goto(f"/meters/{metered.pk}/")
    _wait_loads(page, 1)
    chart = page.locator("#chart")
    assert chart.locator("canvas").count() == 1
    # the default week, every reading drawn: at least six whole days however late in the local day it is
    assert int(chart.get_attribute("data-points")) >= 6 * 96
    assert int(chart.get_attribute("data-marked")) >= 1  # the suspect reading near the end
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "meter-page-desktop.png"), full_page=True)

    page.click("button[data-days='365']")
    _wait_loads(page, 2)
    assert chart.get_attribute("data-bucket") == str(6 * 3600)
    year = chart.get_attribute("data-range")

    chart.scroll_into_view_if_needed()
    box = chart.locator(".u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.90, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.95, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.99, y, steps=5)
    page.mouse.up()
    _wait_loads(page, 3)
    assert chart.get_attribute("data-range") != year
    assert int(chart.get_attribute("data-bucket")) < 6 * 3600, "zoomed in, the server sends finer data"

    page.select_option("select[name=quantity]", "voltage_a")
    page.wait_for_selector("#chart[data-quantity=voltage_a]")
    assert "Voltage" in page.locator(".u-legend").inner_text()


@pytest.fixture
def nine_digits(transactional_db):
    """A meter behind 100/100 transformers whose register is past 123,450,000 kWh."""
    site = Site.objects.create(code="plant", name="Plant", time_zone="Asia/Shanghai", currency="CNY")
    meter = Meter.objects.create(serial="E9", site=site, address="240101000009", ct_ratio=Decimal(100),
                                 pt_ratio=Decimal(100))
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    store_readings([ReadingRecord(meter.pk, "energy_import", start + i * timedelta(minutes=15),
                                  Decimal(12_345) + i * Decimal("3.5"), Decimal(10_000), "kWh", "scheduled")
                    for i in range(150)])
    return meter


@pytest.mark.parametrize("width", [1280, 390])
def test_a_register_of_nine_digits_fits_its_axis(nine_digits, new_page, operator_login, width):
    page = new_page(width=width, height=900)
    operator_login(page, "readonly")
    page.goto(f"/meters/{nine_digits.pk}/")
    _wait_loads(page, 1)
    page.wait_for_function("document.getElementById('chart').dataset.axesFit !== undefined")
    assert page.get_attribute("#chart", "data-axes-fit") == "true"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#load-profile").screenshot(path=str(SHOTS / f"meter-page-nine-digits-{width}.png"))


@pytest.fixture
def read_twice_in_a_minute(transactional_db):
    """A meter read twice, twenty seconds apart: all it has, just after installation."""
    site = Site.objects.create(code="new", name="New", time_zone="Asia/Shanghai", currency="CNY")
    meter = Meter.objects.create(serial="E7", site=site, address="240101000007")
    first = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    store_readings([ReadingRecord(meter.pk, "energy_import", first + timedelta(seconds=s), Decimal(18_560) + s,
                                  Decimal(1), "kWh", "on_demand") for s in (0, 20)])
    return meter


def test_ticks_less_than_a_minute_apart_show_seconds_and_differ(read_twice_in_a_minute, new_page, operator_login):
    page = new_page()
    operator_login(page, "readonly")
    page.goto(f"/meters/{read_twice_in_a_minute.pk}/")
    _wait_loads(page, 1)
    page.wait_for_function("document.getElementById('chart').dataset.timeTicks")
    ticks = page.get_attribute("#chart", "data-time-ticks").split("|")
    assert len(ticks) >= 2 and len(set(ticks)) == len(ticks), ticks
    assert all(len(t) == 8 for t in ticks if ":" in t), ticks  # HH:MM:SS


def test_read_now_shows_the_head_ends_answer(new_page, operator_login, metered):
    BusLink.objects.create(collector=metered.collector, port=1, online=True, since=timezone.now(),
                           last_seen=timezone.now())
    page = new_page()
    operator_login(page, "operator")
    page.goto(f"/meters/{metered.pk}/")
    page.click("#read-now-button")
    page.wait_for_selector("#read-now-status[data-state=waiting]")
    for _ in range(100):  # the head-end's part: claim the queued read and record the meter's answer
        tasks = commands.claim("node-1", {("REG-1", 1)})
        if tasks:
            break
        time.sleep(0.1)
    assert [t.kind for t in tasks] == ["read_now"]
    commands.finish(tasks[0].id, Outcome("done", {"values": {"00010000": "1234.56", "02010100": "220.1"}},
                                         [("answered", {"items": 2})]))
    page.wait_for_selector("#read-now-status[data-state=done]")
    energy = page.locator("#read-now-values tr[data-quantity=energy_import] td").all_inner_texts()
    assert energy[1:] == ["1234.56", "40", "49382.4", "kWh"]
    assert Command.objects.get().status == "done"


def test_read_now_failure_is_shown(new_page, operator_login, metered):
    page = new_page()
    operator_login(page, "operator")
    page.goto(f"/meters/{metered.pk}/")
    page.click("#read-now-button")
    page.wait_for_selector("#read-now-status[data-state=waiting]")
    assert "collector is offline" in page.inner_text("#read-now-status")
    commands.expire_overdue(now=datetime.now(UTC) + timedelta(minutes=5))
    page.wait_for_selector("#read-now-status[data-state=failed]")
    assert page.inner_text("#read-now-status") == "No answer: the collector is offline."


def test_meter_page_on_a_phone(new_page, operator_login, metered):
    page = new_page(width=390, height=844)
    operator_login(page, "operator")
    page.goto(f"/meters/{metered.pk}/")
    _wait_loads(page, 1)
    assert page.locator("#chart canvas").bounding_box()["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing wider than the phone"
    page.click("button[data-days='31']")
    _wait_loads(page, 2)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#load-profile").screenshot(path=str(SHOTS / "meter-page-phone.png"))


def test_reading_history_filters_and_exports_on_a_phone(new_page, operator_login, metered):
    page = new_page(width=390, height=844)
    operator_login(page, "readonly")
    page.goto("/readings/")
    page.fill("input[name=meter]", "E1")
    page.select_option("select[name=quality]", "estimated")
    start = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    page.fill("input[name=start]", start)
    page.click("#reading-filters button[type=submit]")
    page.wait_for_selector("#readings tbody tr.quality-estimated")
    assert page.locator("#readings tbody tr.quality-estimated").count() >= 2
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the table scrolls inside its box"
    with page.expect_download() as download:
        page.click("text=CSV")
    assert download.value.suggested_filename.endswith(".csv")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "reading-history-phone.png"), full_page=True)
