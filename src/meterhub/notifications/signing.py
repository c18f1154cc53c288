"""Signatures: on our webhooks (what integrators check before trusting a delivery), and on
gateways' delivery reports (what we check before trusting one).

Headers on every webhook POST:
    X-Meterhub-Event-Id:   the event's UUID (the same for every endpoint; deduplicate on it)
    X-Meterhub-Timestamp:  Unix seconds when this attempt was signed
    X-Meterhub-Signature:  v1=<hex HMAC-SHA256(secret, "<timestamp>.<event id>.<raw body>")>
A receiver recomputes the HMAC over the raw body and rejects timestamps older than a few
minutes (replays). Gateways sign their delivery reports the same way with their own shared
secret: X-Gateway-Timestamp and X-Gateway-Signature: v1=<HMAC(secret, "<timestamp>.<raw body>")>.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TOLERANCE_S = 300


def _mac(secret: str, message: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature(secret: str, timestamp: int, event_id: str, body: bytes) -> str:
    return _mac(secret, f"{timestamp}.{event_id}.".encode() + body)


def report_signature(secret: str, timestamp: int, body: bytes) -> str:
    """What a gateway signs its delivery reports with (receipts.py): HMAC over "<timestamp>.<raw body>"."""
    return _mac(secret, f"{timestamp}.".encode() + body)


def headers(secret: str, event_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"X-Meterhub-Event-Id": event_id, "X-Meterhub-Timestamp": str(timestamp),
            "X-Meterhub-Signature": signature(secret, timestamp, event_id, body)}


def _fresh_and_equal(timestamp: int, given: str, expected: str, now: float | None) -> bool:
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_S:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())  # bytes: str with non-ASCII would raise


def verify(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> bool:
    """What a receiver does (and what the tests do as one)."""
    try:
        timestamp = int(headers["X-Meterhub-Timestamp"])
        event_id, given = headers["X-Meterhub-Event-Id"], headers["X-Meterhub-Signature"]
    except (KeyError, ValueError):
        return False
    return _fresh_and_equal(timestamp, given, signature(secret, timestamp, event_id, body), now)


def verify_report(secret: str, headers, body: bytes, now: float | None = None) -> bool:
    """A gateway's delivery report: X-Gateway-Timestamp and X-Gateway-Signature."""
    try:
        timestamp, given = int(headers["X-Gateway-Timestamp"]), headers["X-Gateway-Signature"]
    except (KeyError, ValueError, TypeError):
        return False
    return _fresh_and_equal(timestamp, given, report_signature(secret, timestamp, body), now)
