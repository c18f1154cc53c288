from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SealsConfig(AppConfig):
    name = "meterhub.seals"
    label = "seals"
    verbose_name = _("Seals")
