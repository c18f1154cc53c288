"""Names people read for the rules."""

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
