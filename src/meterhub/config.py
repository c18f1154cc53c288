"""Runtime configuration from the environment, with the embedded defaults.

Kept free of Django so the CLI can resolve paths before Django is set up.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlparse


def var_dir() -> Path:
    """Where the embedded default keeps its state (SQLite, keys, uploads)."""
    path = Path(os.environ.get("METERHUB_VAR", "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_or_create_secret(name: str, factory) -> str:
    """A secret kept in var/<name> (mode 0600), created on first use."""
    path = var_dir() / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        value = factory()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value + "\n")
        return value
    except FileExistsError:  # pragma: no cover - lost a race with another process
        return path.read_text().strip()


def secret_key() -> str:
    return os.environ.get("METERHUB_SECRET_KEY") or read_or_create_secret(
        "secret.key", lambda: secrets.token_urlsafe(50)
    )


def database_from_url(url: str | None) -> dict:
    """Django DATABASES['default'] from a DATABASE_URL.

    sqlite:///relative/path.db, sqlite:////abs/path.db, postgresql://user:pw@host:port/db.
    No URL means the embedded default: SQLite in WAL mode under var/.
    """
    if not url:
        url = f"sqlite:///{var_dir() / 'meterhub.sqlite3'}"
    parsed = urlparse(url)
    scheme = parsed.scheme.split("+")[0]
    if scheme == "sqlite":
        name = unquote(parsed.path[1:] if parsed.path.startswith("//") else parsed.path.lstrip("/"))
        if parsed.path.startswith("//"):
            name = "/" + name.lstrip("/")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name or ":memory:",
            "OPTIONS": {
                # WAL lets the head-end write while the console reads; IMMEDIATE
                # takes the write lock at BEGIN so writers queue instead of failing.
                # Checkpoints every 30,000 pages (~120 MB of WAL), not SQLite's 1,000: each
                # batch of readings rewrites the same key pages (one per meter and
                # quantity), and a checkpoint copies a page once however often it was
                # rewritten since the last one; a 64 MiB page cache keeps those pages at
                # hand between batches. Temporary storage in memory: a savepoint keeps a
                # copy of every page it changes in a sub-journal, a temporary file by
                # default, and each batch of readings is written inside one
                # (docs/benchmarks.md, readings ingest).
                "init_command": (
                    "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
                    "PRAGMA wal_autocheckpoint=30000;PRAGMA cache_size=-65536;PRAGMA temp_store=MEMORY;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
            "TEST": {"NAME": None},
        }
    if scheme in ("postgres", "postgresql", "pgsql"):
        options = dict(parse_qsl(parsed.query))
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "OPTIONS": options,
            "CONN_MAX_AGE": 60,
        }
    raise ValueError(f"DATABASE_URL scheme {parsed.scheme!r} is not supported (use sqlite or postgresql)")
