"""/api/v1/: the routers, the schema (/api/v1/openapi.json) and its docs page (/api/v1/docs).

Each URL pattern carries its route's capability, like console views do, so the test that
walks every URL for every role covers the API too.
"""

from __future__ import annotations

from django.urls import path
from ninja import NinjaAPI
from ninja.errors import ValidationError

from meterhub.accounts import roles
from meterhub.api import (
    accounts,
    aggregates,
    alarms,
    bills,
    commands,
    meters,
    payments,
    ratelimit,
    readings,
    registry,
    seals,
)
from meterhub.api.routes import CAPABILITY_BY_URL_NAME
from meterhub.web.access import requires

DOCS_CAPABILITY = roles.CONSOLE

api = NinjaAPI(title="meterhub API", version="1", urls_namespace="api",
               description="Sites, customers, meters, readings, daily and monthly consumption, alarms, seals, commands, billing accounts, payments and bills. Every route names the capability it needs (x-capability). "
                           "See docs/api.md.",
               docs_decorator=requires(DOCS_CAPABILITY))


@api.exception_handler(ValidationError)
def invalid_input(request, exc: ValidationError):
    """A path naming nothing (an id that is no number, or beyond any id) is 404 like an unknown id;
    a bad query parameter or body stays 422 with its reasons."""
    if exc.errors and all(error.get("loc", ("",))[0] == "path" for error in exc.errors):
        return api.create_response(request, {"detail": "Not Found"}, status=404)
    return api.create_response(request, {"detail": exc.errors}, status=422)


@api.exception_handler(ratelimit.RateLimited)
def too_many_requests(request, exc: ratelimit.RateLimited):
    response = api.create_response(request, {"detail": str(exc)}, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


api.add_router("/", meters.router)
api.add_router("/", readings.router)
api.add_router("/", registry.router)
api.add_router("/", alarms.router)
api.add_router("/", seals.router)
api.add_router("/", commands.router)
api.add_router("/", aggregates.router)
api.add_router("/", accounts.router)
api.add_router("/", payments.router)
api.add_router("/", bills.router)


def _patterns():
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        # openapi-json and openapi-view are wrapped by docs_decorator (requires) already
        if pattern.name == "api-root":  # /api/v1/ itself: leads to the docs page
            pattern.callback = requires(DOCS_CAPABILITY)(pattern.callback)
        elif not hasattr(pattern.callback, "capability"):
            pattern.callback.capability = CAPABILITY_BY_URL_NAME[pattern.name]
    return patterns, app_name, namespace


urlpatterns = [path("api/v1/", _patterns())]
