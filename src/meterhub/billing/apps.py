from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "meterhub.billing"
    label = "billing"
    verbose_name = _("Billing")

    def ready(self):
        from meterhub.billing import prepaid
        from meterhub.readings import processing

        processing.register(60, "prepaid-charging", prepaid.charge_meter_days)
