"""How every kiosk screen is rendered: the terminal, its heartbeat, and the screen's idle timer.

`idle` is how long a screen may be left alone before it returns to the start (seconds; the
start screen's timer runs only once someone has touched it). The page also reports in
every KIOSK_HEARTBEAT_S seconds and goes out of service, or back, as the console says.
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render

import meterhub

APP_VERSION = meterhub.__version__
IDLE_S = {"start": 60, "account": 90, "order": 300, "receipt": 90}


def screen(request, template: str, context: dict | None = None, *, idle: int = 0, status: int = 200):
    return render(request, template, {
        "terminal": request.terminal, "idle_s": idle, "heartbeat_s": settings.KIOSK_HEARTBEAT_S,
        "app_version": APP_VERSION, **(context or {})}, status=status)
