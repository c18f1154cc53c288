"""Data quality in a real Chromium: judge a finding, then correct the reading behind it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meterhub.assets.models import Collector, Meter, Site
from meterhub.comms.models import ReadPlan
from meterhub.headend.records import ReadingRecord
from meterhub.readings import processing
from meterhub.readings.ingest import store_readings
from meterhub.readings.models import Reading
from meterhub.vee.models import Finding, ReadingEdit

pytestmark = pytest.mark.browser


@pytest.fixture
def backwards_meter(transactional_db):
    site = Site.objects.create(code="north", name="North Estate", time_zone="Asia/Shanghai", currency="CNY")
    collector = Collector.objects.create(code="DTU-1", site=site, registration_id="REG-1")
    ReadPlan.objects.create(name="15 min", cron="*/15 * * * *", items="instant", site=site, kind="electricity")
    meter = Meter.objects.create(serial="E1", site=site, address="000000000001", collector=collector)
    now = datetime.now(UTC)
    end = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0) - timedelta(minutes=30)
    store_readings([ReadingRecord(meter.pk, "energy_import", end - timedelta(minutes=15 * i), Decimal(v), Decimal(1),
                                  "kWh", "scheduled") for i, v in ((2, "500"), (1, "400"), (0, "502"))])
    while processing.process_dirty():
        pass
    return meter


def test_an_analyst_edits_the_suspect_reading_from_its_finding(new_page, operator_login, backwards_meter):
    page = new_page(390, 844)  # a phone
    user = operator_login(page, "analyst")
    page.goto("/vee/findings/?rule=register_backwards")
    page.click("text=Edit reading")
    page.fill("textarea[name=reason]", "display photo shows 501")
    page.fill("input[name=value]", "501")
    page.click("button.primary")
    page.wait_for_url("**/vee/meters/*/readings/?day=*")
    assert page.locator("td", has_text="Edited").count() == 1
    edit = ReadingEdit.objects.get()
    assert (edit.old_raw_value, edit.new_raw_value, edit.user) == (Decimal(400), Decimal(501), user)
    while processing.process_dirty():
        pass
    assert Finding.objects.get(rule="register_backwards").status == "resolved"


def test_accepting_a_finding_with_a_note(new_page, operator_login, backwards_meter):
    page = new_page()
    operator_login(page, "operator")
    page.goto("/vee/findings/?rule=register_backwards")
    page.click("summary")
    page.fill("form.decide input[name=note]", "vendor reset the register")
    page.select_option("form.decide select[name=status]", "accepted")
    page.click("form.decide button")
    page.wait_for_selector(".flash")
    finding = Finding.objects.get(rule="register_backwards")
    assert (finding.status, finding.note) == ("accepted", "vendor reset the register")
    assert Reading.objects.get(meter=backwards_meter, ts=finding.ts).quality == "actual"
