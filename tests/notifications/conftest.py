from __future__ import annotations

import pytest

from tests.notifications.gateways import HttpGateway, Mailbox


@pytest.fixture
def sms_gateway():
    gateway = HttpGateway()
    yield gateway
    gateway.close()


@pytest.fixture
def wechat_gateway():
    gateway = HttpGateway()
    yield gateway
    gateway.close()


@pytest.fixture
def receiver():
    gateway = HttpGateway()
    yield gateway
    gateway.close()


@pytest.fixture
def mailbox():
    box = Mailbox()
    yield box
    box.close()


@pytest.fixture
def adapters(sms_gateway, wechat_gateway, mailbox):
    from meterhub.notifications import channels

    return channels.from_environment({
        "METERHUB_SMS_URL": sms_gateway.url, "METERHUB_SMS_KEY": "k1",
        "METERHUB_WECHAT_URL": wechat_gateway.url, "METERHUB_WECHAT_TEMPLATE": "TPL-1",
        "METERHUB_SMTP_HOST": "127.0.0.1", "METERHUB_SMTP_PORT": str(mailbox.port),
        "METERHUB_SMTP_FROM": "alarms@meterhub.test"})


@pytest.fixture
def estate(site, collector, make_operator):
    """A gas meter with a valve in a let flat, an operator on duty (level 1) and a supervisor
    on escalation duty (level 2)."""
    from datetime import UTC, datetime, timedelta

    from meterhub.assets import history
    from meterhub.assets.models import Building, Customer, Meter, Premise
    from meterhub.notifications.models import ContactPreference, DutyShift

    meter = Meter.objects.create(serial="G1", site=site, address="00000001", collector=collector, kind="gas",
                                 protocol="mbus", switch="valve")
    premise = Premise.objects.create(site=site, building=Building.objects.create(site=site, code="B1", name="B1"),
                                     unit="101")
    customer = Customer.objects.create(account_no="C-1", name="Li Wei", phone="13800000001",
                                       email="li@example.test", language="zh-hans")
    ContactPreference.objects.create(customer=customer, sms=True, email=True, wechat_openid="OPENID-LI")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    history.install_meter(meter, premise, start)
    history.move_in(customer, premise, start)
    olga = make_operator("operator", "olga")
    olga.phone, olga.email = "13900000002", "olga@meterhub.test"
    olga.save()
    boss = make_operator("administrator", "boss")
    boss.phone = "13900000003"
    boss.save()
    far = datetime(2030, 1, 1, tzinfo=UTC)
    DutyShift.objects.create(user=olga, site=site, level=1, starts_at=start, ends_at=far)
    DutyShift.objects.create(user=boss, level=2, starts_at=start, ends_at=far)
    return {"meter": meter, "customer": customer, "olga": olga, "boss": boss, "premise": premise,
            "now": datetime.now(UTC), "day": timedelta(days=1)}
