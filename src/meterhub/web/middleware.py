import time
import zoneinfo

from django.db.models.signals import post_delete, post_save
from django.http import HttpResponseBadRequest, HttpResponseNotFound, JsonResponse
from django.utils import timezone

from meterhub.assets.models import Site

SITE_ZONE_TTL_S = 60.0
_site_zone: tuple[float, str] = (float("-inf"), "")


def default_site_zone() -> str:
    """The first site's zone, looked up at most once a minute rather than on every request."""
    global _site_zone
    checked, name = _site_zone
    if time.monotonic() - checked > SITE_ZONE_TTL_S:
        name = Site.objects.order_by("pk").values_list("time_zone", flat=True).first() or ""
        _site_zone = (time.monotonic(), name)
    return name


def forget_site_zone(**kwargs) -> None:
    """A site was saved or deleted: look its zone up again on the next request."""
    global _site_zone
    _site_zone = (float("-inf"), "")


post_save.connect(forget_site_zone, sender=Site)
post_delete.connect(forget_site_zone, sender=Site)


def display_zone(user) -> zoneinfo.ZoneInfo | None:
    """The operator's own zone, else the first site's: meters and people there speak local time."""
    name = getattr(user, "time_zone", "") or default_site_zone()
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class DisplayTimeZoneMiddleware:
    """Pages show, and forms read, times in the operator's zone; the database keeps UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user if request.user.is_authenticated else None
        zone = display_zone(user)
        if zone is not None:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


_NUL_TEXT = "\x00"
_NUL_IN_JSON = (b"\x00", b"\\u0000")


def _nul_in_query_or_api_body(request) -> bool:
    if any(_NUL_TEXT in key or any(_NUL_TEXT in v for v in values) for key, values in request.GET.lists()):
        return True
    # the API's JSON bodies; signed webhooks check their signature over the bytes first, then their fields
    return (request.path.startswith("/api/") and request.method in ("POST", "PUT", "PATCH")
            and request.content_type == "application/json" and any(nul in request.body for nul in _NUL_IN_JSON))


class RefuseNulCharacters:
    """A NUL character is refused before any view runs: PostgreSQL cannot store or compare text
    holding one, so it would otherwise reach a query and fail as a server error, and no meter
    number, code or note has one. A path holding one names nothing (404); a query parameter or an
    API JSON body holding one is a bad request (400, with the reason). Form fields refuse it
    already, with Django's own validator."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        api = request.path.startswith("/api/")
        if _NUL_TEXT in request.path:
            return JsonResponse({"detail": "Not Found"}, status=404) if api else HttpResponseNotFound()
        if _nul_in_query_or_api_body(request):
            message = "NUL characters are not allowed in a query parameter or JSON body"
            return JsonResponse({"detail": message}, status=400) if api else HttpResponseBadRequest(message)
        return self.get_response(request)
