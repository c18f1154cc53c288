from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VeeConfig(AppConfig):
    name = "meterhub.vee"
    label = "vee"
    verbose_name = _("Validation, estimation and editing")

    def ready(self):
        from meterhub.readings import processing
        from meterhub.vee import estimation, validation

        processing.register(10, "vee.validation", validation.validate_days)
        processing.register(20, "vee.estimation", estimation.estimate_days)
