"""A process killed in the middle of ingest loses nothing it acknowledged and, when the
whole feed is delivered again, stores every reading exactly once."""

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
BATCHES, SIZE = 12, 4000


def _env(tmp_path) -> tuple[dict, str | None]:
    env = {**os.environ, "METERHUB_VAR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    if connection.vendor != "postgresql":
        return env, None
    server = os.environ.get("DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if not server:
        skip_or_fail("no PostgreSQL server URL")
    name = f"meterhub_kill_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_admin_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    env["DATABASE_URL"] = server.rsplit("/", 1)[0] + "/" + name
    return env, name


def _admin_url() -> str:
    server = os.environ.get("DATABASE_URL") or os.environ["TEST_DATABASE_URL"]
    return server.rsplit("/", 1)[0] + "/postgres"  # the maintenance database, which always exists


def _run(env, *args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "tests.readings.ingest_worker", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, text=True, **kwargs)


def _stored(env) -> tuple[int, int]:
    code = ("from meterhub.cli import setup_django; setup_django();"
            "from meterhub.readings.models import Reading;"
            "from django.db.models import Count; q = Reading.objects.values('quantity', 'ts');"
            "print(Reading.objects.count(), q.annotate(n=Count('meter')).filter(n__gt=1).count())")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    rows, duplicated = out.stdout.split()
    return int(rows), int(duplicated)


@pytest.mark.django_db
def test_sigkill_mid_ingest_keeps_every_acknowledged_batch_and_redelivery_stores_each_once(tmp_path):
    env, pg_name = _env(tmp_path)
    try:
        assert _run(env, "setup").wait(timeout=120) == 0
        worker = _run(env, "ingest", str(BATCHES), str(SIZE))
        acked = []
        for line in worker.stdout:
            acked.append(int(line.split()[1]))
            if len(acked) == 3:
                worker.send_signal(signal.SIGKILL)  # most likely in the middle of batch 3's write
                break
        worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        rows, duplicated = _stored(env)
        assert rows >= 3 * SIZE, "an acknowledged batch was lost"
        assert rows % SIZE == 0, "a batch was half written"
        assert duplicated == 0

        redelivery = _run(env, "ingest", str(BATCHES), str(SIZE))  # the sender re-sends everything
        out, _ = redelivery.communicate(timeout=300)
        assert redelivery.returncode == 0
        stored_again = sum(int(line.split()[3]) for line in out.splitlines())
        assert stored_again == BATCHES * SIZE - rows
        assert _stored(env) == (BATCHES * SIZE, 0)
    finally:
        if pg_name:
            with psycopg.connect(_admin_url(), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
