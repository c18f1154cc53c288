from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KioskConfig(AppConfig):
    name = "meterhub.kiosk"
    label = "kiosk"
    verbose_name = _("Self-service terminals")
