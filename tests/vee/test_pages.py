"""VEE console pages through Django's test client."""

import re
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import translation

from meterhub.readings.ingest import store_readings
from meterhub.readings.models import Reading
from meterhub.vee.models import Finding, ReadingEdit, VeeSettings
from tests.vee.helpers import Q, drain, rec, slot_now

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def backwards(meter):
    end = slot_now() - 2 * Q
    store_readings([rec(meter, end - Q, 500), rec(meter, end, 400)])
    drain()
    return Finding.objects.get(rule="register_backwards")


def test_findings_page_filters_by_site_rule_and_status(signed_in, backwards):
    client, _ = signed_in("readonly")
    page = client.get(reverse("vee-findings")).content.decode()
    assert "Register went backwards" in page and ">E1<" in page
    assert "500 at " in page and ", then 400" in page  # the finding in words, times local
    assert "vee-finding-decide" not in page and "/decide/" not in page  # read-only: no decision form
    # the serial as link text: a random token on the page cannot contain ">E1<" by chance
    assert ">E1<" not in client.get(reverse("vee-findings"), {"rule": "spike"}).content.decode()
    assert ">E1<" not in client.get(reverse("vee-findings"), {"site": "elsewhere"}).content.decode()
    assert ">E1<" not in client.get(reverse("vee-findings"), {"status": "accepted"}).content.decode()
    assert ">E1<" in client.get(reverse("vee-findings"), {"status": "all", "site": "north"}).content.decode()


def test_an_analyst_accepts_a_finding_with_a_note(signed_in, backwards, meter):
    client, user = signed_in("analyst")
    page = client.get(reverse("vee-findings")).content.decode()
    assert f"/vee/findings/{backwards.pk}/decide/" in page
    response = client.post(reverse("vee-finding-decide", args=[backwards.pk]),
                           {"status": "accepted", "note": "vendor reset", "next": "/vee/findings/?status=all"})
    assert response.status_code == 302 and response.url == "/vee/findings/?status=all"
    backwards.refresh_from_db()
    assert (backwards.status, backwards.decided_by, backwards.note) == ("accepted", user, "vendor reset")
    assert Reading.objects.get(meter=meter, ts=backwards.ts).quality == "actual"


def test_deciding_without_a_note_changes_nothing(signed_in, backwards):
    client, _ = signed_in("operator")
    client.post(reverse("vee-finding-decide", args=[backwards.pk]), {"status": "resolved", "note": ""})
    backwards.refresh_from_db()
    assert backwards.status == "open"


def test_the_edit_form_is_reachable_from_a_reading_and_saves_with_a_reason(signed_in, backwards, meter):
    client, user = signed_in("operator")
    day_page = client.get(reverse("vee-meter-readings", args=[meter.pk]),
                          {"day": backwards.day.isoformat()}).content.decode()
    edit_url = f"{reverse('vee-reading-edit', args=[meter.pk])}?quantity=energy_import&amp;ts={quote(backwards.ts.isoformat())}"
    assert edit_url in day_page
    form = client.get(edit_url.replace("&amp;", "&"))
    assert form.status_code == 200 and "Edit a reading" in form.content.decode()
    response = client.post(reverse("vee-reading-edit", args=[meter.pk]),
                           {"quantity": "energy_import", "ts": backwards.ts.isoformat(), "value": "501",
                            "reason": ""})
    assert response.status_code == 200 and not ReadingEdit.objects.exists()  # a reason is required
    response = client.post(reverse("vee-reading-edit", args=[meter.pk]),
                           {"quantity": "energy_import", "ts": backwards.ts.isoformat(), "value": "501",
                            "reason": "misread"})
    assert response.status_code == 302
    edit = ReadingEdit.objects.get()
    assert (edit.old_raw_value, edit.new_raw_value, edit.user) == (Decimal(400), Decimal(501), user)
    history = client.get(edit_url.replace("&amp;", "&")).content.decode()
    assert "misread" in history and user.username in history


def test_the_edit_form_needs_a_reading_reference(signed_in, meter):
    client, _ = signed_in("operator")
    assert client.get(reverse("vee-reading-edit", args=[meter.pk])).status_code == 400
    assert client.get(reverse("vee-reading-edit", args=[meter.pk]),
                      {"quantity": "energy_import", "ts": "2026-05-01T00:00:00"}).status_code == 400  # naive


def test_a_missing_reading_can_be_supplied_from_its_finding(signed_in, meter):
    end = slot_now() - 2 * Q
    store_readings([rec(meter, end - 4 * Q, 100), rec(meter, end - 3 * Q, 101)])
    drain()
    client, _ = signed_in("operator")
    page = client.get(reverse("vee-findings"), {"rule": "missing_interval"}).content.decode()
    link = re.search(r'href="([^"]+)">Edit reading', page).group(1).replace("&amp;", "&")
    assert "Supply a reading" in client.get(link).content.decode()  # the link itself works
    form = client.get(reverse("vee-reading-edit", args=[meter.pk]),
                      {"quantity": "energy_import", "ts": (end - 2 * Q).isoformat()})
    assert "Supply a reading" in form.content.decode()


def test_site_settings_are_saved(signed_in, site):
    client, _ = signed_in("administrator")
    page = client.get(reverse("vee-settings", args=[site.pk]))
    assert page.status_code == 200
    form = page.context["form"]
    data = {field.name: form[field.name].value() for field in form}
    data.update({"spike_factor": "5", "limits": '{"voltage_a": [180, 260]}'})
    response = client.post(reverse("vee-settings", args=[site.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    row = VeeSettings.objects.get(site=site)
    assert row.spike_factor == 5 and row.limits == {"voltage_a": [180, 260]}


def test_findings_page_in_chinese(signed_in, backwards):
    client, _ = signed_in("readonly")
    with translation.override("en"):  # the request switches this thread's language: put it back after
        page = client.get(reverse("vee-findings"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "数据质量" in page and "示值倒走" in page
