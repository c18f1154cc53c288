import zoneinfo

from django.utils import timezone

from meterhub.assets.models import Site


def display_zone(user) -> zoneinfo.ZoneInfo | None:
    """The operator's own zone, else the first site's: meters and people there speak local time."""
    name = getattr(user, "time_zone", "") or ""
    if not name:
        name = Site.objects.order_by("pk").values_list("time_zone", flat=True).first() or ""
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
