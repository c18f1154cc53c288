from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "meterhub.accounts"
    label = "accounts"
    verbose_name = _("Operators and audit")

    def ready(self):
        from meterhub.accounts import signals  # noqa: F401  (login audit receivers)
