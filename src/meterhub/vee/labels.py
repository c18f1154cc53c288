"""Names and sentences people read for the rules and their findings."""

from datetime import datetime

from django.utils.translation import gettext_lazy as _

RULES = {
    "missing_interval": _("Missing interval reads"),
    "spike": _("Spike against history"),
    "limits": _("Outside high/low limits"),
    "register_backwards": _("Register went backwards"),
    "negative_consumption": _("Negative consumption"),
    "zero_consumption": _("Zero consumption while occupied"),
    "tariff_sum": _("Tariff registers do not add up"),
    "duplicate_conflict": _("Delivered twice with different values"),
    "future_timestamp": _("Time stamp in the future"),
}


def rule_label(rule: str) -> str:
    return str(RULES.get(rule, rule))


def _time(text: str | None, zone) -> str:
    if not text:
        return ""
    return datetime.fromisoformat(text).astimezone(zone).strftime("%m-%d %H:%M")


def describe(rule: str, detail: dict, zone) -> str:
    """One sentence for people from a finding's detail (times in the site's zone)."""
    d = dict(detail)
    for key in ("first", "last", "at", "before_at", "since"):
        if key in d:
            d[key] = _time(d[key], zone)
    texts = {
        "missing_interval": _("%(missing)s of %(expected)s reads missing, %(first)s to %(last)s"),
        "spike": _("used %(used)s, limit %(limit)s (median %(median)s); biggest step at %(at)s"),
        "limits": _("%(count)s values outside %(low)s to %(high)s; worst %(worst)s at %(at)s"),
        "register_backwards": _("%(before)s at %(before_at)s, then %(after)s"),
        "negative_consumption": _("used %(used)s over the day"),
        "zero_consumption": _("register at %(register)s since %(since)s (%(days)s days)"),
        "tariff_sum": _("%(count)s reads off; worst difference %(worst_difference)s at %(at)s"
                        " (tolerance %(tolerance)s)"),
        "duplicate_conflict": _("stored %(stored)s, also delivered %(other)s"),
        "future_timestamp": _("%(ahead_s)s s ahead of the clock"),
    }
    try:
        return str(texts[rule]) % d
    except (KeyError, TypeError, ValueError):
        return ", ".join(f"{k}: {v}" for k, v in detail.items() if k != "suspect")
