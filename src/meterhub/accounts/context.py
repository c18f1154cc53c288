"""Who is acting and from where, for the audit log, without threading a request everywhere.

The middleware sets it per request; CLI commands and background jobs leave it empty
and name themselves as the actor.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class Acting:
    user: object | None = None
    ip: str | None = None
    user_agent: str = ""


current: contextvars.ContextVar[Acting] = contextvars.ContextVar("meterhub_acting", default=Acting())  # noqa: B039 (frozen)


def client_ip(request) -> str | None:
    # Behind a reverse proxy, configure it to set X-Real-IP; we do not trust X-Forwarded-For chains.
    return request.META.get("HTTP_X_REAL_IP") or request.META.get("REMOTE_ADDR") or None


def user_agent(request) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:300]
