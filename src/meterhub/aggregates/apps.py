from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AggregatesConfig(AppConfig):
    name = "meterhub.aggregates"
    label = "aggregates"
    verbose_name = _("Aggregates")

    def ready(self):
        from django.db.models.signals import post_save

        from meterhub.aggregates import maintain
        from meterhub.comms.models import BusLink, LinkEvent
        from meterhub.readings import processing

        processing.register(50, "aggregates", maintain.bring_up_to_date)
        # The head-end bulk-writes LinkEvents (no signal) and saves each BusLink it changes.
        post_save.connect(maintain.link_changed, sender=LinkEvent, dispatch_uid="aggregates-link-event")
        post_save.connect(maintain.link_changed, sender=BusLink, dispatch_uid="aggregates-bus-link")
