from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommsConfig(AppConfig):
    name = "meterhub.comms"
    label = "comms"
    verbose_name = _("Communication")
