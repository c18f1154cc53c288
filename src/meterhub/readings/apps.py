from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReadingsConfig(AppConfig):
    name = "meterhub.readings"
    label = "readings"
    verbose_name = _("Readings")

    def ready(self):
        from meterhub.assets.importing import IMPORTERS
        from meterhub.readings import arrivals, processing
        from meterhub.readings.importing import ReadingImporter

        IMPORTERS[ReadingImporter.kind] = ReadingImporter
        # Last: integrators hear of a day once everything derived from it is up to date.
        processing.register(90, "webhooks.reading-arrived", arrivals.announce)
