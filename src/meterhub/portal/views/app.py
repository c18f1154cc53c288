"""The installable web app: manifest, service worker (the shell only, never account data),
and the page shown when the phone is offline."""

from __future__ import annotations

import json

from django.http import JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _

from meterhub.portal.access import PUBLIC, portal_view

THEME = "#0b6e4f"
BACKGROUND = "#f3f6f5"
# What the service worker keeps: the look of the app, never a page with someone's balance.
SHELL = ("portal/portal.css", "portal/portal.js", "portal/icon-192.png", "portal/icon-512.png")
SHELL_VERSION = "1"  # bump when the shell files change: old caches are dropped


@portal_view(PUBLIC)
def manifest(request):
    return JsonResponse({
        "name": _("meterhub customer portal"), "short_name": _("My meter"), "start_url": reverse("portal:home"),
        "scope": reverse("portal:home"), "display": "standalone", "orientation": "portrait",
        "background_color": BACKGROUND, "theme_color": THEME, "lang": request.LANGUAGE_CODE,
        "icons": [{"src": static(f"portal/icon-{size}.png"), "sizes": f"{size}x{size}", "type": "image/png",
                   "purpose": "any maskable"} for size in (192, 512)],
    }, content_type="application/manifest+json")


@portal_view(PUBLIC)
def service_worker(request):
    shell = [static(path) for path in SHELL] + [reverse("portal:offline")]
    response = render(request, "portal/sw.js", {"version": SHELL_VERSION, "shell": json.dumps(shell),
                                                "offline": json.dumps(reverse("portal:offline"))},
                      content_type="text/javascript")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = reverse("portal:home")
    return response


@portal_view(PUBLIC)
def offline(request):
    return render(request, "portal/offline.html")
