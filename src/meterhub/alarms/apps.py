from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlarmsConfig(AppConfig):
    name = "meterhub.alarms"
    label = "alarms"
    verbose_name = _("Alarms")

    def ready(self):
        from meterhub.alarms import consumption_rules, reading_rules
        from meterhub.readings import processing

        processing.register(70, "alarms.readings", reading_rules.evaluate_days)
        # after aggregation (50): it compares the aggregates' days
        processing.register(75, "alarms.consumption", consumption_rules.evaluate_days)
