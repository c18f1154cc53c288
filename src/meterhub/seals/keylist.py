"""The published key list, read and checked: pure, no database, so `meterhub seal verify
--keys FILE` works on a laptop in the field with a copied list.

The list is an envelope {"body": "<JSON text>", "kid": n, "sig": "..."}: the signature
covers the body's exact UTF-8 bytes, so a verifier needs no canonical JSON.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from meterhub.seals import seal_code

FORMAT = "meterhub-seal-keys/1"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class KeyListError(ValueError):
    pass


def open_envelope(envelope: dict, trusted: list[str]) -> seal_code.KeyList:
    """Check the envelope's signature against a trusted list public key and read it."""
    try:
        body, sig = envelope["body"], unb64(envelope["sig"])
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyListError(f"not a key list envelope: {exc}") from None
    for pub in trusted:
        try:
            Ed25519PublicKey.from_public_bytes(unb64(pub)).verify(sig, body.encode())
            break
        except (InvalidSignature, ValueError):
            continue
    else:
        raise KeyListError("the key list's signature does not match a trusted list key")
    return parse_list(json.loads(body))


def parse_list(doc: dict) -> seal_code.KeyList:
    if doc.get("format") != FORMAT:
        raise KeyListError(f"unknown key list format {doc.get('format')!r}")
    keys = {}
    for k in doc["keys"]:
        keys[k["kid"]] = seal_code.ListedKey(
            kid=k["kid"], public_key=unb64(k["x"]), not_before=date.fromisoformat(k["not_before"]),
            not_after=date.fromisoformat(k["not_after"]) if k.get("not_after") else None,
            revoked=bool(k.get("revoked")))
    return seal_code.KeyList(keys=keys, withdrawn=dict(doc.get("withdrawn", {})),
                             issued_at=datetime.fromisoformat(doc["issued_at"]),
                             stale_after=datetime.fromisoformat(doc["stale_after"]))
