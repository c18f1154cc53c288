"""The demo's self-service terminal: KIOSK-1 in the demo site's service hall, with a fixed key
printed by `meterhub demo` (docs/kiosk.md), so the demo can be paired without the console.
A real terminal's key is random and shown once. Loading twice changes nothing (a key
changed in the console stays changed)."""

from __future__ import annotations

from django.db import transaction

from meterhub.assets.models import Site
from meterhub.kiosk import keys
from meterhub.kiosk.models import Terminal

CODE = "KIOSK-1"
DEMO_KEY = "MH00-DEMA-KEY0-0000-0001"


@transaction.atomic
def load_demo_terminal(site_code: str) -> Terminal | None:
    site = Site.objects.filter(code=site_code).first()
    if site is None:
        return None
    terminal, _created = Terminal.objects.get_or_create(code=CODE, defaults={
        "name": "Service hall kiosk", "site": site, "location": "Service hall", "language": "en",
        "key_hash": keys.digest(DEMO_KEY)})
    return terminal
