"""The phone seal check in a real Chromium: works with the network cut after one visit,
verifies with WebCrypto Ed25519, scans a QR photo with jsQR, queues checks and uploads
them when the signal returns."""

from __future__ import annotations

import pytest
import segno

from meterhub.assets.models import Meter
from meterhub.seals import custody, keys
from meterhub.seals.custody import Where
from meterhub.seals.models import VerificationResult

pytestmark = pytest.mark.browser


@pytest.fixture
def sealed(transactional_db, site, collector, make_operator):
    meter = Meter.objects.create(serial="E240101000001", site=site, address="240101000001", collector=collector)
    keeper, tech = make_operator("administrator", "keeper"), make_operator("technician", "tina")
    custody.receive_batch("B1", "plastic", 1, 3, Where(keeper), prefix="S")
    custody.issue(["S000001", "S000002"], tech, Where(keeper))
    good = custody.install("S000001", Where(tech), meter=meter, position="meter_cover").code
    gone = custody.install("S000002", Where(tech), meter=meter, position="terminal_cover").code
    custody.remove("S000002", "cover replaced", Where(tech))
    keys.list_public_key()  # made here, not by two server threads sharing SQLite's test connection
    return {"good": good, "withdrawn": gone, "tech": tech}


def check(page, meter: str, code: str) -> str:
    page.fill("#meter", meter)
    page.fill("#code", code)
    page.click("button[type=submit]")
    page.wait_for_function("document.getElementById('result').dataset.verdict")
    verdict = page.locator("#result").get_attribute("data-verdict")
    page.evaluate("document.getElementById('result').dataset.verdict = ''")
    return verdict


def test_seal_check_works_offline_after_one_visit_and_uploads_when_back(new_page, sealed, tmp_path):
    page = new_page(width=390, height=844)
    page.goto("/login/")
    page.fill("input[name=username]", "tina")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    page.goto("/seals/verify/")
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=20_000)
    page.wait_for_function("localStorage.getItem('meterhub.seals.keylist') !== null")
    assert page.evaluate("document.querySelector('link[rel=manifest]') !== null")

    context = page.context
    context.set_offline(True)
    page.reload()  # served by the service worker from its cache
    assert page.locator("h1").inner_text() == "Check a seal"
    assert page.evaluate("navigator.onLine") is False

    good, withdrawn = sealed["good"], sealed["withdrawn"]
    tampered = good[:-5] + ("A" if good[-5] != "A" else "B") + good[-4:]
    assert check(page, "E240101000001", good) == "valid"
    assert check(page, "E240101000002", good) == "other_meter"
    assert check(page, "E240101000001", tampered) == "not_genuine"
    assert check(page, "E240101000001", "hello") == "not_genuine"
    assert check(page, "E240101000001", withdrawn) == "withdrawn"
    assert "Valid" not in page.locator("#result").inner_text()

    # A photo of the label, decoded by the vendored jsQR, offline.
    photo = tmp_path / "label.png"
    segno.make(good, error="m").save(str(photo), scale=6, border=4)
    page.fill("#meter", "E240101000001")
    page.fill("#code", "")
    page.set_input_files("#photo", str(photo))
    page.wait_for_function("document.getElementById('result').dataset.verdict === 'valid'")
    assert page.locator("#code").input_value() == good

    assert page.locator("#queue-status").get_attribute("data-pending") == "6"
    assert VerificationResult.objects.count() == 0, "nothing reached the server while offline"

    context.set_offline(False)
    page.wait_for_function("document.getElementById('queue-status').dataset.pending === '0'", timeout=20_000)
    stored = dict(VerificationResult.objects.values_list("verdict").annotate(
        n=__import__("django.db.models", fromlist=["Count"]).Count("id")))
    assert stored == {"valid": 2, "other_meter": 1, "not_genuine": 2, "withdrawn": 1}
    assert set(VerificationResult.objects.values_list("checked_by__username", flat=True)) == {"tina"}


def test_an_old_key_list_answers_too_old_to_be_sure(new_page, sealed):
    page = new_page(width=390, height=844)
    page.goto("/login/")
    page.fill("input[name=username]", "tina")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    page.goto("/seals/verify/")
    page.wait_for_function("localStorage.getItem('meterhub.seals.keylist') !== null")
    page.context.set_offline(True)
    page.evaluate("""() => { const l = JSON.parse(localStorage.getItem('meterhub.seals.keylist'));
                             l.stale_after = '2000-01-01T00:00:00+00:00';
                             localStorage.setItem('meterhub.seals.keylist', JSON.stringify(l)); }""")
    assert check(page, "E240101000001", sealed["good"]) == "stale_list"


def test_a_key_list_not_signed_by_the_pinned_key_is_refused(new_page, sealed):
    envelope, pinned = keys.publish(), keys.list_public_key()  # before the server thread uses the database
    page = new_page()
    page.goto("/login/")
    page.fill("input[name=username]", "tina")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    page.goto("/seals/verify/")
    forged = {**envelope, "body": envelope["body"].replace('"withdrawn":{', '"withdrawn":{"S000001":"lost",')}
    outcome = page.evaluate("""async ([env, key]) => {
        try { await SealCheck.openEnvelope(env, key); return 'accepted'; } catch (e) { return e.message; } }""",
                            [forged, pinned])
    assert "does not match" in outcome
    genuine = page.evaluate("async ([env, key]) => (await SealCheck.openEnvelope(env, key)).format",
                            [envelope, pinned])
    assert genuine == "meterhub-seal-keys/1"
