"""Terminal keys: typed once on the device's touch screen, so short, grouped and forgiving.

A key is 20 symbols of Crockford's base32 (100 random bits) in groups of four,
`7KQ2-M9XD-...`. Typing is forgiving as Crockford intends: case, spaces and dashes do not
matter, and O, I and L are read as 0, 1 and 1. Only the SHA-256 of the normalised key is
stored; a random 100-bit key needs no slow hash (nothing to guess from the hash, and
pairing is rate-limited besides). The fingerprint is a prefix of that hash: the pairing
cookie carries it, so a new key unpairs every device that paired with the old one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
SYMBOLS = 20
GROUP = 4
FINGERPRINT = 16  # hex characters of the hash carried in the pairing cookie
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_key() -> str:
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(SYMBOLS))
    return "-".join(symbols[i:i + GROUP] for i in range(0, SYMBOLS, GROUP))


def normalise(typed: str) -> str:
    """The key as stored (hashed): upper case, no spaces or dashes, O/I/L read as 0/1/1."""
    return "".join(ch for ch in (typed or "").upper() if ch not in " -\t").translate(_READ_AS)


def digest(typed: str) -> str:
    return hashlib.sha256(normalise(typed).encode()).hexdigest()


def matches(typed: str, key_hash: str) -> bool:
    key = normalise(typed)
    return len(key) == SYMBOLS and all(ch in ALPHABET for ch in key) and hmac.compare_digest(digest(key), key_hash)


def fingerprint(key_hash: str) -> str:
    return key_hash[:FINGERPRINT]
