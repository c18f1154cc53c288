"""The reports page in a real Chromium: criteria, the table, the Excel download, a phone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from meterhub.assets import history
from meterhub.assets.models import Building, Collector, Meter, Premise, Site
from meterhub.headend.records import ReadingRecord
from meterhub.readings import processing
from meterhub.readings.ingest import store_readings

pytestmark = pytest.mark.browser
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def estate(transactional_db):
    """Building B1 with two flats using 2 and 3 kWh an hour, read hourly over 1-4 March."""
    site = Site.objects.create(code="north", name="North Estate", time_zone="Asia/Shanghai", currency="CNY")
    collector = Collector.objects.create(code="DTU-1", site=site, registration_id="REG-1")
    building = Building.objects.create(site=site, code="B1")
    start = datetime(2026, 3, 1, tzinfo=SHANGHAI)
    for n, rate in ((1, 2), (2, 3)):
        meter = Meter.objects.create(serial=f"E10{n}", site=site, address=f"00000000010{n}", collector=collector)
        history.install_meter(meter, Premise.objects.create(site=site, building=building, unit=f"10{n}"),
                              datetime(2026, 1, 1, tzinfo=UTC))
        store_readings([ReadingRecord(meter.pk, "energy_import", start + timedelta(hours=h), Decimal(rate * h),
                                      Decimal(1), "kWh", "scheduled") for h in range(3 * 24 + 1)])
    while processing.process_dirty():
        pass
    return site


def show(page, report, **fields):
    page.goto("/reports/")
    page.select_option("select[name=report]", report)
    page.fill("input[name=start]", "2026-03-01")
    page.fill("input[name=end]", "2026-03-03")
    for name, value in fields.items():
        page.select_option(f"select[name={name}]", value)
    page.click("#report-form button[type=submit]")
    page.wait_for_selector("#report-table")


def test_daily_report_and_its_excel_file(new_page, operator_login, estate, tmp_path):
    page = new_page()
    operator_login(page, "readonly")
    show(page, "daily")
    rows = page.locator("#report-table tbody tr")
    assert rows.count() == 6
    first = rows.first.locator("td").all_inner_texts()
    assert first[:2] == ["2026-03-01", "E101"] and first[6] == "48"
    with page.expect_download() as info:
        page.click("#export-xlsx")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.name == "daily-north-20260301-20260303.xlsx"
    sheet = load_workbook(path).active
    figures = [(r[0].date().isoformat(), r[1], r[6]) for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert figures == [(f"2026-03-0{d}", m, 24 * rate) for d in (1, 2, 3) for m, rate in (("E101", 2), ("E102", 3))]


def test_building_totals_on_a_phone(new_page, operator_login, estate, tmp_path):
    page = new_page(width=390, height=844)
    operator_login(page, "readonly")
    show(page, "monthly", scope="building")
    cells = page.locator("#report-table tbody tr").first.locator("td").all_inner_texts()
    assert cells[:3] == ["2026-03", "B1", "360"]
    # the table scrolls sideways inside its box; the page itself does not
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("#export-csv").is_visible()
    page.screenshot(path=str(tmp_path / "reports-phone.png"))


def test_print_hides_the_controls(new_page, operator_login, estate):
    page = new_page()
    operator_login(page, "readonly")
    show(page, "top")
    page.click("#print")
    page.wait_for_selector("#report-table")
    page.emulate_media(media="print")
    assert not page.locator("#report-form").is_visible()
    assert not page.locator(".topbar").is_visible()
    assert page.locator("#report-table").is_visible()
