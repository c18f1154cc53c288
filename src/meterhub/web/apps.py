from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "meterhub.web"
    label = "web"
