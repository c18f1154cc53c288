"""Personal data shown in part: enough for its owner to recognise, not enough to use."""

from __future__ import annotations

import re

PHONE = re.compile(r"\+?\d{6,15}")


def normalise_phone(text: str) -> str:
    """Digits with an optional leading +; spaces, dashes, dots and brackets dropped. '' if not a phone."""
    compact = re.sub(r"[\s\-.()]", "", text or "")
    return compact if PHONE.fullmatch(compact) else ""


def mask_phone(phone: str) -> str:
    """13800000001 -> 138****0001."""
    digits = phone or ""
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_id(id_number: str) -> str:
    """An ID number as ****1234 (the last four only)."""
    value = (id_number or "").strip()
    return f"****{value[-4:]}" if len(value) > 4 else "****" if value else ""


def mask_name(name: str) -> str:
    """王小明 -> 王**, Li Wei -> L** W**: a name recognisable to its owner only."""
    words = (name or "").split()
    if len(words) > 1:
        return " ".join(w[0] + "**" for w in words)
    return (name[:1] + "**") if name else ""


def mask_email(email: str) -> str:
    """li.wei@example.com -> l***@example.com."""
    local, at, domain = (email or "").partition("@")
    return f"{local[:1]}***@{domain}" if at else ""
