"""Every kiosk route says what it needs of the device, and the table proves it: a device that is
not paired is sent to pairing, a disabled terminal shows out of service whatever is asked,
screens of a visit need a visit, and neither the console's sign-in nor a forged cookie opens
anything here."""

from __future__ import annotations

import pytest
from django.urls import reverse

from meterhub.kiosk import terminals
from meterhub.kiosk.access import IN_SERVICE, KINDS, PAIRED, PUBLIC, VISIT
from tests.accounts.test_roles import all_routes
from tests.portal.test_access import get_or_post

KIOSK = [p for p in all_routes() if p.qualified_name.startswith("kiosk:")]


def url(pattern) -> str:
    values = {name: ("PO1" if name == "number" else 1) for name in pattern.pattern.converters}
    return reverse(pattern.qualified_name, kwargs=values)


def kind(pattern) -> str:
    return pattern.callback.kiosk_access


def test_the_kiosk_routes_are_all_walked():
    assert {p.qualified_name for p in KIOSK} == {
        "kiosk:start", "kiosk:pair", "kiosk:heartbeat", "kiosk:language", "kiosk:finish", "kiosk:account",
        "kiosk:live", "kiosk:live-answer", "kiosk:pay", "kiosk:order", "kiosk:order-status", "kiosk:order-cancel",
        "kiosk:receipt", "kiosk:receipt-pdf"}
    assert all(kind(p) in KINDS for p in KIOSK)


def test_only_pairing_is_public_and_only_the_heartbeat_runs_out_of_service():
    assert {p.qualified_name for p in KIOSK if kind(p) == PUBLIC} == {"kiosk:pair"}
    assert {p.qualified_name for p in KIOSK if kind(p) == PAIRED} == {"kiosk:heartbeat"}


@pytest.mark.parametrize("pattern", [p for p in KIOSK if kind(p) != PUBLIC], ids=lambda p: p.qualified_name)
def test_a_device_that_is_not_paired_is_sent_to_pairing(client, db, pattern):
    response = get_or_post(client, url(pattern))
    assert response.status_code == 302 and response.url == reverse("kiosk:pair")


@pytest.mark.parametrize("pattern", [p for p in KIOSK if kind(p) != PUBLIC], ids=lambda p: p.qualified_name)
def test_a_forged_cookie_or_one_from_before_a_new_key_pairs_nothing(client, issued, pattern):
    from meterhub.kiosk import pairing
    from tests.kiosk.conftest import paired_cookie

    client.cookies[pairing.COOKIE] = pairing.cookie_value(issued.terminal)  # right content, no signature
    response = get_or_post(client, url(pattern))
    assert response.status_code == 302 and response.url == reverse("kiosk:pair")
    client.cookies[pairing.COOKIE] = paired_cookie(issued.terminal)
    terminals.rotate_key(issued.terminal, actor=None)
    response = get_or_post(client, url(pattern))
    assert response.status_code == 302 and response.url == reverse("kiosk:pair")


@pytest.mark.parametrize("pattern", [p for p in KIOSK if kind(p) in (IN_SERVICE, VISIT)],
                         ids=lambda p: p.qualified_name)
def test_a_disabled_terminal_is_out_of_service_whatever_is_asked(kiosk, terminal, pattern):
    terminals.set_enabled(terminal, False, actor=None)
    response = get_or_post(kiosk, url(pattern))
    assert response.status_code == 503
    assert 'id="out-of-service"' in response.content.decode()
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("pattern", [p for p in KIOSK if kind(p) == VISIT], ids=lambda p: p.qualified_name)
def test_screens_of_a_visit_go_back_to_the_start_without_one(kiosk, pattern):
    response = get_or_post(kiosk, url(pattern))
    assert response.status_code == 302 and response.url == reverse("kiosk:start")


@pytest.mark.parametrize("pattern", [p for p in KIOSK if kind(p) != PUBLIC], ids=lambda p: p.qualified_name)
def test_a_console_operator_is_a_stranger_to_the_kiosk(client, make_operator, pattern):
    client.force_login(make_operator("administrator"))
    response = get_or_post(client, url(pattern))
    assert response.status_code == 302 and response.url == reverse("kiosk:pair")


def test_a_paired_kiosk_is_a_stranger_to_the_console_and_the_portal(kiosk):
    for name in ("dashboard", "terminal-list", "portal:home"):
        response = kiosk.get(reverse(name))
        assert response.status_code == 302 and "/kiosk/" not in response.url
    assert kiosk.get("/api/v1/meters").status_code == 401
