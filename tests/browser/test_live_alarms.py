"""A new alarm appears on the open console page without a reload: the console served by
uvicorn (ASGI, as `meterhub web` runs it), server-sent events, a real Chromium."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime

import pytest

from meterhub.alarms import services
from meterhub.assets.models import Collector, Meter, Site
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def asgi_server(transactional_db):
    """The console under uvicorn in a thread of this process (it shares the test database)."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config("meterhub.asgi:application", host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def meter(transactional_db):
    site = Site.objects.create(code="north", name="North Estate", time_zone="Asia/Shanghai", currency="CNY")
    collector = Collector.objects.create(code="DTU-1", site=site, registration_id="REG-1")
    return Meter.objects.create(serial="G1", site=site, address="00000001", collector=collector, kind="gas")


@pytest.mark.parametrize("width", [1280, 390])
def test_a_new_alarm_appears_on_the_open_page_without_reload(browser, asgi_server, meter, make_operator, width):
    user = make_operator("operator", "olga")
    context = browser.new_context(viewport={"width": width, "height": 800}, locale="en-US", base_url=asgi_server)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto("/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/")
        page.goto("/alarms/")
        page.evaluate("window.notReloaded = true")
        assert page.locator("#live-alarms").is_hidden()
        page.wait_for_timeout(500)  # the stream is open
        services.raise_alarm("gas_leak", datetime.now(UTC), meter=meter)
        toast = page.locator('[data-live-alarm="gas_leak"]')
        toast.wait_for(state="visible")
        assert "G1" in toast.inner_text() and "Gas leak" in toast.inner_text()
        assert page.locator('table[data-alarm-table] tr[data-alarm="gas_leak"]').count() == 1
        assert page.locator("table[data-alarm-table] tr[data-empty]").count() == 0
        assert page.evaluate("window.notReloaded") is True, "no reload"
        page.screenshot(path=f"/tmp/live-alarms-{width}.png")
        # the next one arrives on the same page too; the first is not shown twice
        services.raise_alarm("collector_offline", datetime.now(UTC), collector=meter.collector)
        page.locator('[data-live-alarm="collector_offline"]').wait_for(state="visible")
        assert page.locator('[data-live-alarm="gas_leak"]').count() == 1
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_message_log_reads_on_a_phone(new_page, operator_login, meter, width):
    from meterhub.notifications.dispatch import enqueue
    from meterhub.notifications.models import Message

    alarm, _ = services.raise_alarm("gas_leak", datetime.now(UTC), meter=meter)
    enqueue("sms", "13800000001", "alarm.raised", body="【meterhub】紧急：North Estate G1 燃气泄漏", name="Li Wei",
            alarm=alarm)
    failed = enqueue("email", "olga@meterhub.test", "alarm.raised", body="[meterhub] CRITICAL: Gas leak at G1")
    Message.objects.filter(pk=failed.pk).update(status="failed", attempts=8, error="SMTPConnectError: refused")
    page = new_page(width=width)
    operator_login(page, role="operator")
    page.goto("/alarms/messages/")
    assert page.locator('tr[data-message-status="failed"]').inner_text().count("SMTPConnectError") == 1
    page.fill("input[name=q]", "1380000")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**q=1380000**")
    assert page.locator("tr[data-message-status]").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "no sideways page scroll"
    page.screenshot(path=f"/tmp/message-log-{width}.png", full_page=True)


def test_the_alarm_settings_page_on_a_phone(new_page, operator_login, meter):
    page = new_page(width=390)
    operator_login(page, role="administrator")
    page.goto("/alarms/settings/")
    page.select_option("select[name=user]", index=1)
    page.fill("input[name=starts_at]", "2026-05-01T08:00")
    page.fill("input[name=ends_at]", "2030-05-01T20:00")
    page.click("text=Add shift")
    page.locator("tr[data-shift]").wait_for()
    page.fill("input[name=name]", "ERP")
    page.fill("input[name=url]", "https://erp.example.test/hook")
    page.check("input[value='alarm.raised']")
    page.click("text=Add webhook")
    page.locator('tr[data-webhook="ERP"]').wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path="/tmp/alarm-settings-390.png", full_page=True)
