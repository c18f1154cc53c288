"""Signed seal codes: what a seal's label QR carries, and checking one.

A code binds the seal number, the meter (or collector) it closes, the position and
the issue date, signed with Ed25519 under a key id. Layout (all before the signature
is signed):

    byte 0        format version (1)
    bytes 1-2     key id, big-endian
    bytes 3-4     issue date, days since 2020-01-01, big-endian
    byte 5        position (0 meter cover, 1 terminal cover, 2 optical port, 3 collector)
    1 + n bytes   seal number: length, then ASCII
    1 + m bytes   meter number (or collector code): length, then ASCII
    64 bytes      Ed25519 signature

The text is "MS1:" + Base45 of those bytes: only characters of a QR code's
alphanumeric mode, so a ~100-byte code fits a version-6 QR on a small label.
`verify` is pure: it takes the code, the published key list and what the technician
typed, and answers one verdict. static/seals/verify.js does the same in the browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from meterhub.seals import base45

PREFIX = "MS1:"
VERSION = 1
EPOCH = date(2020, 1, 1)
SIGNATURE_BYTES = 64
POSITIONS = ("meter_cover", "terminal_cover", "optical_port", "collector")


class CodeError(ValueError):
    """The text is not a seal code at all (wrong prefix, bad Base45, bad layout)."""


@dataclass(frozen=True)
class SealCode:
    kid: int
    issued: date
    position: str
    seal: str
    meter: str

    def payload(self) -> bytes:
        days = (self.issued - EPOCH).days
        if not 0 <= days <= 0xFFFF:
            raise ValueError(f"issue date {self.issued} is outside the code's range")
        if not 0 <= self.kid <= 0xFFFF:
            raise ValueError("key id must fit two bytes")
        out = bytearray((VERSION,))
        out += self.kid.to_bytes(2, "big") + days.to_bytes(2, "big")
        out.append(POSITIONS.index(self.position))
        for text in (self.seal, self.meter):
            raw = text.encode("ascii")
            if not 1 <= len(raw) <= 40:
                raise ValueError(f"{text!r}: 1 to 40 ASCII characters")
            out.append(len(raw))
            out += raw
        return bytes(out)


def sign(code: SealCode, private_key: Ed25519PrivateKey) -> str:
    payload = code.payload()
    return PREFIX + base45.encode(payload + private_key.sign(payload))


def parse(text: str) -> tuple[SealCode, bytes, bytes]:
    """(code, signed bytes, signature); CodeError if the text is not laid out as a code."""
    text = text.strip()
    if not text.startswith(PREFIX):
        raise CodeError("not a meterhub seal code (it should start with MS1:)")
    try:
        raw = base45.decode(text[len(PREFIX):])
    except base45.Base45Error as exc:
        raise CodeError(str(exc)) from None
    if len(raw) < 6 + 2 + SIGNATURE_BYTES or raw[0] != VERSION:
        raise CodeError("unknown code version or too short")
    body, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
    if body[5] >= len(POSITIONS):
        raise CodeError("unknown seal position")
    texts, i = [], 6
    for _ in range(2):
        if i >= len(body):
            raise CodeError("code is cut short")
        n = body[i]
        chunk = body[i + 1:i + 1 + n]
        if len(chunk) != n or n == 0:
            raise CodeError("code is cut short")
        try:
            texts.append(chunk.decode("ascii"))
        except UnicodeDecodeError:
            raise CodeError("code holds non-ASCII text") from None
        i += 1 + n
    if i != len(body):
        raise CodeError("code has trailing bytes")
    code = SealCode(kid=int.from_bytes(body[1:3], "big"),
                    issued=EPOCH + timedelta(days=int.from_bytes(body[3:5], "big")),
                    position=POSITIONS[body[5]], seal=texts[0], meter=texts[1])
    return code, body, signature


# --- verification against a key list ------------------------------------------------------

VALID = "valid"
OTHER_METER = "other_meter"
NOT_GENUINE = "not_genuine"
WITHDRAWN = "withdrawn"
STALE_LIST = "stale_list"
VERDICTS = (VALID, OTHER_METER, NOT_GENUINE, WITHDRAWN, STALE_LIST)


@dataclass(frozen=True)
class ListedKey:
    kid: int
    public_key: bytes  # raw 32 bytes
    not_before: date
    not_after: date | None  # last day it signed; None: still signing
    revoked: bool = False


@dataclass(frozen=True)
class KeyList:
    keys: dict[int, ListedKey]
    withdrawn: dict[str, str]  # seal number -> state (removed, lost, destroyed, void)
    issued_at: datetime
    stale_after: datetime


@dataclass(frozen=True)
class Verdict:
    verdict: str
    code: SealCode | None = None
    why: str = ""
    state: str = ""  # the withdrawn seal's state

    def to_dict(self) -> dict:
        c = self.code
        return {"verdict": self.verdict, "why": self.why, "state": self.state,
                "code": None if c is None else {"kid": c.kid, "issued": c.issued.isoformat(),
                                                "position": c.position, "seal": c.seal, "meter": c.meter}}


def verify(text: str, keys: KeyList, meter_entered: str = "", now: datetime | None = None) -> Verdict:
    now = now or datetime.now(UTC)
    try:
        code, body, signature = parse(text)
    except CodeError as exc:
        return Verdict(NOT_GENUINE, why=str(exc))
    key = keys.keys.get(code.kid)
    if key is None:
        if now > keys.stale_after:  # a newer key may exist that this list does not know
            return Verdict(STALE_LIST, code, "unknown key id and the key list is out of date")
        return Verdict(NOT_GENUINE, code, f"no key {code.kid} in the key list")
    try:
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(signature, body)
    except InvalidSignature:
        return Verdict(NOT_GENUINE, code, "the signature does not match")
    if key.revoked:
        return Verdict(NOT_GENUINE, code, f"key {code.kid} is revoked")
    if code.issued < key.not_before or (key.not_after is not None and code.issued > key.not_after):
        return Verdict(NOT_GENUINE, code, f"key {code.kid} did not sign codes on {code.issued}")
    if now > keys.stale_after:
        return Verdict(STALE_LIST, code, "the key list is out of date: the seal may have been withdrawn since")
    state = keys.withdrawn.get(code.seal)
    if state:
        return Verdict(WITHDRAWN, code, f"seal {code.seal} is recorded as {state}", state)
    if meter_entered and normalise(meter_entered) != normalise(code.meter):
        return Verdict(OTHER_METER, code, f"this seal belongs to {code.meter}")
    return Verdict(VALID, code)


def normalise(number: str) -> str:
    return "".join(number.split()).upper()
