"""The console as an operator uses it, in a real Chromium."""

from __future__ import annotations

import pytest

from meterhub.assets.models import Collector, Meter, Site

pytestmark = pytest.mark.browser


@pytest.fixture
def estate(transactional_db):
    site = Site.objects.create(code="north", name="North Estate", time_zone="Asia/Shanghai", currency="CNY")
    Collector.objects.create(code="DTU-1", site=site, registration_id="REG-1")
    return site


def test_sign_in_shows_every_section(new_page, operator_login):
    page = new_page()
    operator_login(page)
    sections = page.locator("nav.sections a").evaluate_all("els => els.map(e => e.dataset.section)")
    assert sections == ["dashboard", "collectors", "meters", "customers", "billing", "seals", "alarms",
                        "reports", "vee", "settings"]


def test_wrong_password_is_refused_on_the_page(new_page, make_operator):
    make_operator("operator", "alice")
    page = new_page()
    page.goto("/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.locator(".errors").is_visible()
    assert "/login/" in page.url


def test_switching_to_simplified_chinese_and_back(new_page, operator_login):
    page = new_page()
    operator_login(page)
    english_label = page.locator('nav.sections a[data-section="meters"]').inner_text()
    page.select_option("#language", "zh-hans")
    page.wait_for_selector('html[lang="zh-hans"]')
    chinese_label = page.locator('nav.sections a[data-section="meters"]').inner_text()
    assert chinese_label != english_label
    assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese_label)
    page.select_option("#language", "en")
    page.wait_for_selector('html[lang="en"]')
    assert page.locator('nav.sections a[data-section="meters"]').inner_text() == english_label


def test_import_with_a_bad_row_shows_the_line_and_imports_nothing(new_page, operator_login, estate, tmp_path):
    bad = tmp_path / "meters.csv"
    bad.write_text("serial,site,address,collector\n"
                   "E1,north,240101000001,DTU-1\n"
                   "E2,north,24010100000X,DTU-1\n")
    page = new_page()
    operator_login(page)
    page.goto("/settings/import/")
    page.select_option("select[name=kind]", "meters")
    page.set_input_files("input[name=file]", str(bad))
    page.uncheck("input[name=dry_run]")
    page.click("button.primary")
    page.wait_for_selector("#import-report")
    row = page.locator("tr.row-error")
    assert row.count() == 1
    cells = row.first.locator("td").all_inner_texts()
    assert cells[0] == "3" and cells[1] == "address" and "bad BCD address" in cells[2]
    assert Meter.objects.count() == 0


def test_add_a_meter_through_the_form(new_page, operator_login, estate):
    page = new_page()
    operator_login(page)
    page.goto("/meters/new/")
    page.fill("input[name=serial]", "E-NEW-1")
    page.select_option("select[name=site]", label="North Estate")
    page.select_option("select[name=protocol]", "dlt645_2007")
    page.fill("input[name=address]", "240101000042")
    page.select_option("select[name=collector]", label="DTU-1")
    page.fill("input[name=ct_ratio]", "50")
    page.fill("input[name=password]", "00123456")
    page.click("button.primary")
    page.wait_for_url("**/meters/*/")
    assert "E-NEW-1" in page.locator("h1").inner_text()
    meter = Meter.objects.get(serial="E-NEW-1")
    assert (meter.address, meter.multiplier, meter.password) == ("240101000042", 50, "00123456")


def test_bad_meter_address_is_explained_next_to_the_field(new_page, operator_login, estate):
    page = new_page()
    operator_login(page)
    page.goto("/meters/new/")
    page.fill("input[name=serial]", "E-BAD")
    page.select_option("select[name=site]", label="North Estate")
    page.fill("input[name=address]", "12AB")
    page.select_option("select[name=collector]", label="DTU-1")
    page.click("button.primary")
    assert "bad BCD address" in page.locator(".field.invalid .error").inner_text()
    assert not Meter.objects.filter(serial="E-BAD").exists()


def test_phone_layout_hides_the_menu_behind_a_button(new_page, operator_login):
    page = new_page(width=390, height=844)
    operator_login(page)
    meters_link = page.locator('nav.sections a[data-section="meters"]')
    assert not meters_link.is_visible()
    page.click(".menu-button")
    assert meters_link.is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page must not scroll sideways on a phone"
