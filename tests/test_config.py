import pytest

from meterhub.config import database_from_url


def test_no_url_means_sqlite_in_wal_mode_under_var(tmp_path, monkeypatch):
    monkeypatch.setenv("METERHUB_VAR", str(tmp_path))
    db = database_from_url(None)
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == str(tmp_path / "meterhub.sqlite3")
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]


def test_the_sqlite_settings_take_effect_on_a_connection(tmp_path):
    import sqlite3

    db = database_from_url(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    conn = sqlite3.connect(db["NAME"])
    conn.executescript(db["OPTIONS"]["init_command"])
    pragma = {name: conn.execute(f"PRAGMA {name}").fetchone()[0]
              for name in ("journal_mode", "synchronous", "foreign_keys", "wal_autocheckpoint", "cache_size",
                           "temp_store")}
    conn.close()
    # synchronous NORMAL is 1; checkpoints every 30,000 pages; a 64 MiB page cache;
    # temp_store MEMORY is 2
    assert pragma == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "wal_autocheckpoint": 30000,
                      "cache_size": -65536, "temp_store": 2}


def test_absolute_and_relative_sqlite_paths():
    assert database_from_url("sqlite:////srv/mh/db.sqlite3")["NAME"] == "/srv/mh/db.sqlite3"
    assert database_from_url("sqlite:///var/db.sqlite3")["NAME"] == "var/db.sqlite3"


def test_postgresql_url_with_escaped_password_and_options():
    db = database_from_url("postgresql://mh:p%40ss@db.example:6432/meterhub?sslmode=require")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "mh", "p@ss", "db.example", "6432", "meterhub")
    assert db["OPTIONS"] == {"sslmode": "require"}


def test_unknown_scheme_is_refused_clearly():
    with pytest.raises(ValueError, match="mysql"):
        database_from_url("mysql://x/y")

