"""Signing keys and the published key list.

Seal keys sign seal codes; one list key signs the key list the phones and the CLI
check codes against. Private keys are kept encrypted at rest (EncryptedTextField).
Rotating starts a new seal key and ends the old one's signing window the same day;
codes it signed stay verifiable, because the list keeps it with its window.

The published list is an envelope {"body": "<JSON text>", "kid": n, "sig": "..."}: the
signature covers the body's exact UTF-8 bytes, so a verifier needs no canonical JSON.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from meterhub.seals import seal_code
from meterhub.seals.keylist import FORMAT, KeyListError, b64, open_envelope, parse_list, unb64  # noqa: F401
from meterhub.seals.models import Seal, SealState, SigningKey

LIST_LIFETIME = timedelta(days=30)  # a phone whose list is older answers "key list too old"
WITHDRAWN_STATES = (SealState.REMOVED, SealState.RETURNED, SealState.DESTROYED, SealState.LOST, SealState.VOID)


def public_pem(raw: bytes) -> str:
    return Ed25519PublicKey.from_public_bytes(raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def private_key(key: SigningKey) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(unb64(key.private_key))


def _new_key(purpose: str, now: datetime) -> SigningKey:
    secret = Ed25519PrivateKey.generate()
    raw_private = secret.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                       serialization.NoEncryption())
    raw_public = secret.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = (SigningKey.objects.aggregate(m=Max("kid"))["m"] or 0) + 1
    return SigningKey.objects.create(kid=kid, purpose=purpose, public_key=b64(raw_public),
                                     private_key=b64(raw_private), created_at=now, not_before=now)


def current_key(purpose: str = SigningKey.Purpose.SEAL) -> SigningKey:
    """The key that signs now; the first one is made on first use."""
    signing = SigningKey.objects.filter(purpose=purpose, retired_at__isnull=True).order_by("-kid").first()
    if signing is not None:  # the common case: a read, no transaction (pages call this)
        return signing
    with transaction.atomic():
        key = (SigningKey.objects.select_for_update().filter(purpose=purpose, retired_at__isnull=True)
               .order_by("-kid").first())
        return key or _new_key(purpose, timezone.now())


def rotate(purpose: str = SigningKey.Purpose.SEAL, now: datetime | None = None) -> SigningKey:
    """Retire the signing key (its codes stay verifiable) and start a new one."""
    now = now or timezone.now()
    with transaction.atomic():
        SigningKey.objects.select_for_update().filter(purpose=purpose, retired_at__isnull=True).update(
            retired_at=now)
        return _new_key(purpose, now)


def revoke(kid: int, now: datetime | None = None) -> SigningKey:
    """A leaked key: no code it signed verifies any more (reseal those meters)."""
    key = SigningKey.objects.get(kid=kid)
    key.verify_until = now or timezone.now()
    key.retired_at = key.retired_at or key.verify_until
    key.save(update_fields=["verify_until", "retired_at"])
    return key


def _day(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).date().isoformat()


def build_list(now: datetime | None = None) -> dict:
    """The key list body: every seal key with its window, and withdrawn seals."""
    now = now or timezone.now()
    current_key()  # there is always one key to list
    keys = [{"kid": k.kid, "alg": "Ed25519", "x": k.public_key, "pem": public_pem(unb64(k.public_key)),
             "not_before": _day(k.not_before), "not_after": _day(k.retired_at),
             "revoked": k.verify_until is not None}
            for k in SigningKey.objects.filter(purpose=SigningKey.Purpose.SEAL)]
    withdrawn = dict(Seal.objects.filter(state__in=WITHDRAWN_STATES).exclude(code="")
                     .values_list("serial", "state"))
    return {"format": FORMAT, "issued_at": now.astimezone(UTC).isoformat(timespec="seconds"),
            "stale_after": (now + LIST_LIFETIME).astimezone(UTC).isoformat(timespec="seconds"),
            "keys": keys, "withdrawn": withdrawn}


def publish(now: datetime | None = None) -> dict:
    """The signed envelope served to phones and written by `meterhub seal keys`."""
    body = json.dumps(build_list(now), separators=(",", ":"), sort_keys=True)
    signer = current_key(SigningKey.Purpose.LIST)
    return {"body": body, "kid": signer.kid, "sig": b64(private_key(signer).sign(body.encode()))}


def list_public_key() -> str:
    """The list key's public key (base64url): pinned in the phone page and given to the CLI."""
    return current_key(SigningKey.Purpose.LIST).public_key


def current_list(now: datetime | None = None) -> seal_code.KeyList:
    return parse_list(build_list(now))


def sign_code(seal: str, meter: str, position: str, issued: date | None = None) -> str:
    key = current_key()
    issued = issued or timezone.now().astimezone(UTC).date()
    code = seal_code.SealCode(kid=key.kid, issued=issued, position=position, seal=seal, meter=meter)
    return seal_code.sign(code, private_key(key))
