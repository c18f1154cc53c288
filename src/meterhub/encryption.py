"""Encryption at rest for protocol passwords, operator codes and personal data.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under a key list so keys can
rotate: the first key encrypts, every key decrypts. Keys come from
METERHUB_FIELD_KEYS, else var/field.key is created on first use. Losing the key
loses the secrets: docs/operations.md says how to back it up.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

from meterhub import config

PREFIX = "fernet:"  # marks a stored value as ciphertext


@lru_cache(maxsize=1)
def _keyring() -> MultiFernet:
    keys = list(settings.FIELD_ENCRYPTION_KEYS) or [
        config.read_or_create_secret("field.key", lambda: Fernet.generate_key().decode())
    ]
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def reset_keyring() -> None:
    _keyring.cache_clear()


def encrypt(plaintext: str) -> str:
    return PREFIX + _keyring().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise ValueError("value is not encrypted")
    try:
        return _keyring().decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken as exc:
        raise ValueError("cannot decrypt: the field key is not in METERHUB_FIELD_KEYS") from exc


class EncryptedTextField(models.TextField):
    """A text column whose database value is ciphertext; Python sees plaintext.

    Not searchable or sortable in SQL, by design. Empty stays empty so "not set"
    is visible without a key.
    """

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value)
