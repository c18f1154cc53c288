"""Template context for every console page: the navigation, filtered by what the user may do."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from meterhub.accounts import roles

# (url name, label, capability, section key)
NAVIGATION = [
    ("dashboard", _("Dashboard"), roles.CONSOLE, "dashboard"),
    ("collector-list", _("Collectors"), roles.ASSETS_VIEW, "collectors"),
    ("meter-list", _("Meters"), roles.ASSETS_VIEW, "meters"),
    ("customer-list", _("Customers"), roles.ASSETS_VIEW, "customers"),
    ("section-billing", _("Billing"), roles.BILLING_VIEW, "billing"),
    ("section-seals", _("Seals"), roles.SEALS_VIEW, "seals"),
    ("section-alarms", _("Alarms"), roles.ALARMS_VIEW, "alarms"),
    ("reports", _("Reports"), roles.REPORTS_VIEW, "reports"),
    ("vee-findings", _("Data quality"), roles.REPORTS_VIEW, "vee"),
    ("settings", _("Settings"), roles.CONSOLE, "settings"),
]


def console(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    current = match.url_name if match else ""
    section = getattr(request, "section", None)
    items = [
        {"url": reverse(name), "label": label, "key": key,
         "active": key == section or name == current}
        for name, label, capability, key in NAVIGATION
        if user.has_capability(capability)
    ]
    context = {"navigation": items, "caps": _Caps(user)}
    if user.has_capability(roles.ALARMS_VIEW):
        from meterhub.alarms.live import latest_id

        context["live_alarms_after"] = latest_id()  # the live view shows alarms after this one
    return context


class _Caps:
    """`{% if caps.assets_change %}` in templates."""

    def __init__(self, user):
        self._user = user

    def __getattr__(self, name):
        return self._user.has_capability(name.replace("_", ".", 1))
