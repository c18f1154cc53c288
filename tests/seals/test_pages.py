"""The Seals and Alarms pages through Django's test client."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from meterhub.alarms.models import Alarm
from meterhub.alarms.services import raise_alarm
from meterhub.seals import custody, keys
from meterhub.seals.custody import Where
from meterhub.seals.models import Case, Photo, Seal, SealEvent, VerificationResult

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_overview_counts_and_receiving_a_batch(client, storekeeper, batch):
    client.force_login(storekeeper)
    page = client.get(reverse("section-seals"))
    assert page.status_code == 200 and 'data-state-count="in_stock">10<' in page.content.decode()
    response = client.post(reverse("seal-batch-new"), {"reference": "B2", "seal_type": "wire", "prefix": "W",
                                                       "first": 1, "last": 5, "digits": 4}, follow=True)
    assert Seal.objects.filter(serial__startswith="W").count() == 5
    assert "Received 5 seals" in " ".join(messages_of(response))
    clash = client.post(reverse("seal-batch-new"), {"reference": "B3", "seal_type": "wire", "prefix": "W",
                                                    "first": 5, "last": 6, "digits": 4}, follow=True)
    assert "already registered: W0005" in " ".join(messages_of(clash))


def test_issue_install_and_a_refused_action_through_the_seal_page(client, storekeeper, tech, batch, meter):
    seal = Seal.objects.get(serial="S000001")
    client.force_login(storekeeper)
    client.post(reverse("seal-action", args=[seal.pk]), {"action": "issue", "technician": tech.pk})
    assert Seal.objects.get(pk=seal.pk).holder == tech
    client.force_login(tech)
    client.post(reverse("seal-action", args=[seal.pk]), {
        "action": "install", "meter": "E240101000001", "position": "meter_cover", "location": "unit 3",
        "photo": SimpleUploadedFile("cover.png", PNG, content_type="image/png")}, follow=True)
    seal.refresh_from_db()
    assert seal.state == "installed" and seal.code
    event = SealEvent.objects.get(seal=seal, action="install")
    assert bytes(Photo.objects.get(pk=event.photo_id).data) == PNG
    assert client.get(reverse("seal-photo", args=[event.photo_id]))["Content-Type"] == "image/png"
    refused = client.post(reverse("seal-action", args=[seal.pk]), {"action": "destroy"}, follow=True)
    assert "cannot be destroyed" in " ".join(messages_of(refused))
    page = client.get(reverse("seal-detail", args=[seal.pk])).content.decode()
    assert 'data-seal-state="installed"' in page and "<strong>valid</strong>" in page
    not_image = client.post(reverse("seal-action", args=[seal.pk]), {
        "action": "remove", "reason": "x", "photo": SimpleUploadedFile("a.txt", b"hi", content_type="text/plain")},
        follow=True)
    assert "must be an image" in " ".join(messages_of(not_image))
    assert Seal.objects.get(pk=seal.pk).state == "installed", "nothing changed with a bad photo"


def test_technician_reconciliation_page(client, storekeeper, tech, batch):
    custody.issue(["S000001", "S000002"], tech, Where(storekeeper))
    client.force_login(storekeeper)
    page = client.get(reverse("seal-technician", args=[tech.pk]), {"counted": "S000001\nS000009"}).content.decode()
    assert "S000002" in page and "S000009" in page and "Missing:" in page


def test_labels_and_key_list(client, storekeeper, tech, batch, meter):
    custody.issue(["S000001"], tech, Where(storekeeper))
    custody.install("S000001", Where(tech), meter=meter, position="meter_cover")
    client.force_login(tech)
    pdf = client.get(reverse("seal-labels"), {"meter": "E240101000001", "layout": "roll"})
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    envelope = client.get(reverse("seal-keys")).json()
    assert keys.open_envelope(envelope, [keys.list_public_key()]).keys


def test_phone_results_upload_is_idempotent_and_checked(client, tech, db):
    client.force_login(tech)
    item = {"client_id": "c0ffee", "code": "MS1:XYZ", "meter": "E1", "verdict": "not_genuine",
            "seal": "", "checked_at": "2026-05-01T08:00:00.000Z"}
    url = reverse("seal-verify-results")
    for _ in range(2):
        response = client.post(url, json.dumps({"results": [item]}), content_type="application/json")
        assert response.status_code == 200
    assert VerificationResult.objects.count() == 1
    assert VerificationResult.objects.get().checked_at == datetime(2026, 5, 1, 8, tzinfo=UTC)
    bad = client.post(url, json.dumps({"results": [{**item, "client_id": "x", "verdict": "fine"}]}),
                      content_type="application/json")
    assert bad.status_code == 400 and "unknown verdict" in bad.json()["error"]
    assert client.post(url, "not json", content_type="application/json").status_code == 400


def test_service_worker_and_manifest(client, tech, db):
    client.force_login(tech)
    sw = client.get(reverse("seal-verify-sw"))
    assert sw["Content-Type"].startswith("text/javascript")
    body = sw.content.decode()
    assert '"/seals/verify/"' in body and "jsQR.js" in body and '"/seals/keys.json"' in body
    manifest = client.get(reverse("seal-verify-manifest")).json()
    assert manifest["start_url"] == "/seals/verify/" and manifest["display"] == "standalone"


def test_alarm_list_acknowledge_clear_and_investigate(client, make_operator, meter):
    alarm, _ = raise_alarm("seal_open", datetime(2026, 5, 1, tzinfo=UTC), meter=meter)
    analyst = make_operator("analyst", "ana")
    client.force_login(analyst)
    page = client.get(reverse("section-alarms")).content.decode()
    assert 'data-alarm="seal_open"' in page
    client.post(reverse("alarm-acknowledge", args=[alarm.pk]))
    response = client.post(reverse("alarm-investigate", args=[alarm.pk]))
    case = Case.objects.get()
    assert response.url == reverse("seal-case", args=[case.pk])
    assert client.get(response.url).status_code == 200
    client.post(reverse("seal-case-update", args=[case.pk]), {"assignee": analyst.pk, "note": "on it"})
    client.post(reverse("seal-case-close", args=[case.pk]), {"outcome": "false_alarm"})
    assert Case.objects.get().status == "closed"
    refused = client.post(reverse("alarm-clear", args=[alarm.pk]), {"reason": ""}, follow=True)
    assert "why" in " ".join(messages_of(refused))
    client.post(reverse("alarm-clear", args=[alarm.pk]), {"reason": "checked on site"})
    assert Alarm.objects.get().state == "cleared"
    assert 'data-alarm="seal_open"' not in client.get(reverse("section-alarms")).content.decode()


def test_inspection_form_opens_a_case_on_a_mismatch(client, storekeeper, tech, batch, meter):
    custody.issue(["S000001"], tech, Where(storekeeper))
    custody.install("S000001", Where(tech), meter=meter, position="meter_cover")
    client.force_login(tech)
    assert client.get(reverse("seal-inspection-new")).status_code == 200
    data = {"meter": "E240101000001", "notes": "", "f-TOTAL_FORMS": 3, "f-INITIAL_FORMS": 0,
            "f-MIN_NUM_FORMS": 0, "f-MAX_NUM_FORMS": 6,
            "f-0-position": "meter_cover", "f-0-condition": "broken", "f-0-seal_serial": "S000001",
            "f-0-photo": SimpleUploadedFile("broken.png", PNG, content_type="image/png")}
    response = client.post(reverse("seal-inspection-new"), data)
    case = Case.objects.get()
    assert response.url == reverse("seal-case", args=[case.pk])
    assert case.entries.filter(photo__isnull=False).count() == 1
    page = client.get(response.url).content.decode()
    assert "Broken" in page


@pytest.mark.parametrize("role", ["readonly", "finance"])
def test_view_only_roles_see_no_change_forms(client, make_operator, role, batch):
    client.force_login(make_operator(role))
    page = client.get(reverse("section-seals")).content.decode()
    assert "Receive a batch" not in page


def test_a_new_list_key_makes_phones_reload_the_page(client, tech, db):
    from meterhub.seals.models import SigningKey

    client.force_login(tech)
    before = client.get(reverse("seal-verify-sw")).content
    keys.rotate(SigningKey.Purpose.LIST)
    after = client.get(reverse("seal-verify-sw")).content
    assert before != after, "a new cache name: the service worker installs the page again"
