"""Every console and API route names a capability, and every role gets exactly what its capabilities allow."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from meterhub.accounts.roles import CAPABILITIES, Role
from meterhub.api.routes import CAPABILITY_BY_URL_NAME

PUBLIC = {"login", "logout", "set_language",
          "billing-webhook"}  # authenticated by the provider's signature (tests/billing/test_payments.py)


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


ROUTES = [p for p in all_routes() if p.name not in PUBLIC]


def test_the_api_is_walked_too():
    names = {p.qualified_name for p in ROUTES}
    assert {"api:api-meters", "api:api-meter-readings", "api:api-site-readings", "api:openapi-json",
            "api:openapi-view", "api:api-sites", "api:api-customers", "api:api-alarms",
            "api:api-seals", "api:api-commands"} <= names


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
