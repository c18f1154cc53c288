"""Every console and API route names a capability, and every role gets exactly what its capabilities allow."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from meterhub.accounts.roles import CAPABILITIES, Role
from meterhub.api.routes import CAPABILITY_BY_URL_NAME

PUBLIC = {"login", "logout", "set_language",
          "billing-webhook",  # authenticated by the provider's signature (tests/billing/test_payments.py)
          "delivery-report",  # by the gateway's signature (tests/notifications/test_delivery_reports.py)
          # the sandbox provider's page: addressed by an unguessable order number, sandbox providers only
          # (tests/billing/test_checkout.py)
          "checkout-sandbox", "checkout-sandbox-pay", "checkout-sandbox-cancel"}


def all_routes(resolver=None, namespace=""):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from all_routes(entry, f"{namespace}{entry.namespace}:" if entry.namespace else namespace)
        elif isinstance(entry, URLPattern):
            entry.qualified_name = f"{namespace}{entry.name}"
            yield entry


def sample_url(pattern: URLPattern) -> str:
    kwargs = {name: 1 for name in pattern.pattern.converters}
    return reverse(pattern.qualified_name, kwargs=kwargs)


def is_api_operation(pattern: URLPattern) -> bool:
    """API routes answer JSON (401 for strangers); the console redirects to its sign-in page."""
    return pattern.name in CAPABILITY_BY_URL_NAME


def is_portal_route(pattern: URLPattern) -> bool:
    """Customer portal routes carry their access kind instead (tests/portal/test_access.py)."""
    return hasattr(pattern.callback, "portal_access")


def is_kiosk_route(pattern: URLPattern) -> bool:
    """Self-service terminal routes carry theirs (tests/kiosk/test_access.py)."""
    return hasattr(pattern.callback, "kiosk_access")


ROUTES = [p for p in all_routes() if p.name not in PUBLIC and not is_portal_route(p) and not is_kiosk_route(p)]


def test_every_route_is_guarded_by_a_capability_or_a_portal_or_kiosk_access_kind():
    unguarded = [p.qualified_name for p in all_routes() if p.name not in PUBLIC and not hasattr(p.callback, "capability")
                 and not is_portal_route(p) and not is_kiosk_route(p)]
    assert unguarded == []
    for kind_of, namespace in ((is_portal_route, "portal:"), (is_kiosk_route, "kiosk:")):
        routes = [p.qualified_name for p in all_routes() if kind_of(p)]
        assert routes and all(name.startswith(namespace) for name in routes)


def test_the_terminal_register_is_walked_too():
    names = {p.qualified_name: p.callback.capability for p in ROUTES if p.qualified_name.startswith("terminal-")}
    assert names == {"terminal-list": "assets.view", "terminal-detail": "assets.view",
                     "terminal-new": "terminals.manage", "terminal-edit": "terminals.manage",
                     "terminal-enable": "terminals.manage", "terminal-disable": "terminals.manage",
                     "terminal-rotate-key": "terminals.manage"}


def test_the_api_is_walked_too():
    names = {p.qualified_name for p in ROUTES}
    assert {"api:api-meters", "api:api-meter-readings", "api:api-site-readings", "api:openapi-json",
            "api:openapi-view", "api:api-sites", "api:api-customers", "api:api-alarms",
            "api:api-seals", "api:api-commands", "api:api-customer", "api:api-accounts", "api:api-account",
            "api:api-account-entries", "api:api-payments", "api:api-payment", "api:api-bills", "api:api-bill",
            "api:api-meter-days", "api:api-meter-months", "api:api-site-meter-days", "api:api-site-meter-months",
            "api:api-site-days", "api:api-site-months", "api:api-meter", "api:api-site", "api:api-alarm",
            "api:api-seal"} <= names


def test_every_route_is_guarded_by_a_capability():
    unguarded = [p.name for p in ROUTES if not hasattr(p.callback, "capability")]
    assert unguarded == []


@pytest.mark.parametrize("pattern", ROUTES, ids=lambda p: p.qualified_name)
def test_anonymous_visitors_are_sent_to_sign_in(client, db, pattern):
    response = client.get(sample_url(pattern))
    if is_api_operation(pattern):
        assert response.status_code == 401
        return
    assert response.status_code in (302, 405)
    if response.status_code == 302:
        assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("role", Role.values)
def test_each_role_gets_403_exactly_where_it_lacks_the_capability(client, make_operator, site, role):
    user = make_operator(role)
    client.force_login(user)
    allowed = CAPABILITIES[role]
    for pattern in ROUTES:
        url = sample_url(pattern)
        response = client.get(url)
        if response.status_code == 405:  # a POST-only action
            response = client.post(url, {})
        needed = pattern.callback.capability
        if needed in allowed:
            assert response.status_code not in (401, 403), f"{role} refused {pattern.qualified_name}"
        else:
            assert response.status_code == 403, f"{role} allowed {pattern.qualified_name} without {needed}"


def test_read_only_role_cannot_change_anything():
    changing = {c for c in CAPABILITIES[Role.READONLY] if not c.endswith(".view") and c != "console"}
    assert changing == set()


def test_navigation_hides_sections_a_role_cannot_open(client, make_operator):
    client.force_login(make_operator(Role.TECHNICIAN))
    page = client.get(reverse("dashboard")).content.decode()
    assert 'data-section="seals"' in page
    assert 'data-section="billing"' not in page


def test_self_service_terminals_are_managed_by_administrators_and_operators_only():
    managing = {role for role, capabilities in CAPABILITIES.items() if "terminals.manage" in capabilities}
    assert managing == {Role.ADMINISTRATOR, Role.OPERATOR}
