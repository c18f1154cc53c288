"""Webhook signatures: what integrators check before trusting a delivery.

Headers on every webhook POST:
    X-Meterhub-Event-Id:   the event's UUID (the same for every endpoint; deduplicate on it)
    X-Meterhub-Timestamp:  Unix seconds when this attempt was signed
    X-Meterhub-Signature:  v1=<hex HMAC-SHA256(secret, "<timestamp>.<event id>.<raw body>")>
A receiver recomputes the HMAC over the raw body and rejects timestamps older than a few
minutes (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import time

TOLERANCE_S = 300


def signature(secret: str, timestamp: int, event_id: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.{event_id}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def headers(secret: str, event_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"X-Meterhub-Event-Id": event_id, "X-Meterhub-Timestamp": str(timestamp),
            "X-Meterhub-Signature": signature(secret, timestamp, event_id, body)}


def verify(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> bool:
    """What a receiver does (and what the tests do as one)."""
    try:
        timestamp = int(headers["X-Meterhub-Timestamp"])
        event_id, given = headers["X-Meterhub-Event-Id"], headers["X-Meterhub-Signature"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_S:
        return False
    return hmac.compare_digest(given, signature(secret, timestamp, event_id, body))
