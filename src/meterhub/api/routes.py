"""Declaring a route and its capability in one place, so neither can be forgotten."""

from __future__ import annotations

from meterhub.api.auth import guards

CAPABILITY_BY_URL_NAME: dict[str, str] = {}


def get(router, path: str, capability: str, *, url_name: str, **options):
    """router.get with the capability's auth, shown in the schema as x-capability, and
    recorded for the URL table (the test that walks every route checks it)."""
    CAPABILITY_BY_URL_NAME[url_name] = capability
    return _route(router.get, path, capability, url_name, options)


def post(router, path: str, capability: str, *, url_name: str, **options):
    """router.post, declared like get(); a console session also needs its CSRF token. On a path that
    also answers GET, the URL (walked with GET) keeps the GET's capability; the schema table walks both."""
    CAPABILITY_BY_URL_NAME.setdefault(url_name, capability)
    return _route(router.post, path, capability, url_name, options)


def _route(method, path, capability, url_name, options):
    def decorate(view):
        view.capability = capability
        return method(path, auth=guards(capability), url_name=url_name,
                      openapi_extra={"x-capability": capability}, **options)(view)

    return decorate
