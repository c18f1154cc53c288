"""Every portal route says who may open it, and the table proves it: strangers are sent to the
portal sign-in, a customer sees only accounts bound to them (any other id is 404), and neither
the console's sign-in nor the portal's opens the other."""

from __future__ import annotations

import pytest
from django.urls import reverse

from meterhub.portal.access import ACCOUNT, CUSTOMER, PUBLIC
from tests.accounts.test_roles import all_routes

PORTAL = [p for p in all_routes() if p.qualified_name.startswith("portal:")]


def url(pattern, **kwargs) -> str:
    values = {name: kwargs.get(name, 1) for name in pattern.pattern.converters}
    return reverse(pattern.qualified_name, kwargs=values)


def kind(pattern) -> str:
    return pattern.callback.portal_access


def get_or_post(client, path):
    response = client.get(path)
    return client.post(path) if response.status_code == 405 else response


def test_the_portal_routes_are_all_walked():
    names = {p.qualified_name for p in PORTAL}
    assert {"portal:home", "portal:sign-in", "portal:account", "portal:recharge", "portal:bill-pdf",
            "portal:order-status", "portal:reconnect", "portal:manifest", "portal:service-worker"} <= names


def test_every_portal_route_names_its_access_and_account_routes_take_the_account_id():
    assert [p.qualified_name for p in PORTAL if kind(p) not in (PUBLIC, CUSTOMER, ACCOUNT)] == []
    for pattern in PORTAL:
        takes_account = "pk" in pattern.pattern.converters
        assert takes_account == (kind(pattern) == ACCOUNT), pattern.qualified_name


def test_only_the_sign_in_pages_and_the_app_files_are_public():
    public = {p.qualified_name for p in PORTAL if kind(p) == PUBLIC}
    assert public == {"portal:sign-in", "portal:sign-in-code", "portal:manifest", "portal:service-worker",
                      "portal:offline"}


@pytest.mark.parametrize("pattern", [p for p in PORTAL if kind(p) != PUBLIC], ids=lambda p: p.qualified_name)
def test_anonymous_visitors_go_to_the_portal_sign_in(client, db, pattern):
    path = url(pattern)
    response = get_or_post(client, path)
    assert response.status_code == 302
    assert response.url.startswith(reverse("portal:sign-in"))
    assert "next=" in response.url


@pytest.mark.parametrize("pattern", [p for p in PORTAL if kind(p) == ACCOUNT], ids=lambda p: p.qualified_name)
def test_an_account_not_bound_to_the_customer_is_404(signed_in_portal, bound, pattern):
    response = get_or_post(signed_in_portal, url(pattern, pk=bound["other"].pk))
    assert response.status_code == 404
    response = get_or_post(signed_in_portal, url(pattern, pk=999_999))
    assert response.status_code == 404


@pytest.mark.parametrize("pattern", [p for p in PORTAL if kind(p) != PUBLIC], ids=lambda p: p.qualified_name)
def test_a_console_operator_is_a_stranger_to_the_portal(client, make_operator, bound, pattern):
    client.force_login(make_operator("administrator"))
    response = get_or_post(client, url(pattern, pk=bound["prepaid"].pk))
    assert response.status_code == 302 and response.url.startswith(reverse("portal:sign-in"))


def test_a_portal_customer_is_a_stranger_to_the_console(signed_in_portal, bound):
    for name in ("dashboard", "section-billing", "customer-list"):
        response = signed_in_portal.get(reverse(name))
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert signed_in_portal.get("/api/v1/meters").status_code == 401


def test_a_bound_account_opens_and_nested_objects_of_other_accounts_do_not(signed_in_portal, bound):
    from meterhub.billing import payments

    assert signed_in_portal.get(reverse("portal:account", kwargs={"pk": bound["prepaid"].pk})).status_code == 200
    theirs = payments.take_payment(bound["other"], payments.Decimal("5.00"), method="cash")
    mine = bound["prepaid"].pk
    assert signed_in_portal.get(reverse("portal:receipt", kwargs={"pk": mine, "payment": theirs.pk})).status_code \
        == 404


def test_personal_pages_are_never_cached(signed_in_portal, bound):
    response = signed_in_portal.get(reverse("portal:account", kwargs={"pk": bound["prepaid"].pk}))
    assert response["Cache-Control"] == "no-store"
