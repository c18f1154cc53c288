"""Settings > Self-service terminals, in the console (each view names its capability)."""

from django.urls import path

from meterhub.kiosk.views import console

urlpatterns = [
    path("", console.terminal_list, name="terminal-list"),
    path("new/", console.terminal_new, name="terminal-new"),
    path("<int:pk>/", console.terminal_detail, name="terminal-detail"),
    path("<int:pk>/edit/", console.terminal_edit, name="terminal-edit"),
    path("<int:pk>/disable/", console.terminal_set_enabled, {"enabled": False}, name="terminal-disable"),
    path("<int:pk>/enable/", console.terminal_set_enabled, {"enabled": True}, name="terminal-enable"),
    path("<int:pk>/rotate-key/", console.terminal_rotate_key, name="terminal-rotate-key"),
]
