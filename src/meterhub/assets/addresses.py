"""What a valid meter address looks like, per protocol.

Addresses are stored as the nameplate shows them (most significant digit first);
the codecs turn them into wire byte order.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

DLT645 = re.compile(r"^[0-9]{12}$")
MBUS_SECONDARY = re.compile(r"^[0-9]{8}$")
GLOW_DEVICE = re.compile(r"^[0-9A-F]{12}$")


def normalise(protocol: str, address: str) -> str:
    """Canonical form of an address, or ValueError with a reason a person can act on."""
    from meterhub.assets.models import Protocol

    text = (address or "").strip().replace(" ", "")
    if not text:
        raise ValueError(_("address is missing"))
    if protocol in (Protocol.DLT645_2007, Protocol.DLT645_1997):
        if text.isdigit() and len(text) < 12:
            text = text.zfill(12)  # spreadsheets drop leading zeros
        if not DLT645.match(text):
            raise ValueError(
                _("bad BCD address %(a)s: DL/T 645 needs 12 decimal digits") % {"a": address}
            )
        return text
    if protocol == Protocol.MBUS:
        if text.isdigit() and len(text) <= 3:
            if not 1 <= int(text) <= 250:
                raise ValueError(_("M-Bus primary address %(a)s is outside 1-250") % {"a": address})
            return str(int(text))
        if not MBUS_SECONDARY.match(text):
            raise ValueError(
                _("bad M-Bus address %(a)s: use a primary address 1-250 or an 8-digit secondary address")
                % {"a": address}
            )
        return text
    if protocol == Protocol.GLOW_MQTT:
        text = text.upper().replace(":", "")
        if not GLOW_DEVICE.match(text):
            raise ValueError(_("bad Glow device id %(a)s: 12 hex digits (the ethmac)") % {"a": address})
        return text
    raise ValueError(_("unknown protocol %(p)s") % {"p": protocol})
