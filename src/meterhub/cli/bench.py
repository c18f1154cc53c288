"""`meterhub bench ...`: benchmarks that print their figures as one JSON object."""

from __future__ import annotations

import json

import click


@click.group()
def bench():
    """Run a benchmark and print its figures as JSON."""


def _migrated_bench_database() -> None:
    """Django on a fresh SQLite file (or on DATABASE_URL when set: never the operator's own
    database by default), migrated."""
    import os
    import tempfile

    if not os.environ.get("DATABASE_URL"):
        os.environ["METERHUB_VAR"] = tempfile.mkdtemp(prefix="meterhub-bench-")
    from meterhub.cli import setup_django

    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


@bench.command()
@click.option("--seconds", default=3.0, show_default=True, type=float,
              help="Duration of each measurement.")
def codec(seconds: float):
    """Codec throughput: DL/T 645 (against the PyPI peer) and M-Bus."""
    from meterhub.bench import codec_dlt645

    result: dict = {}
    click.echo(f"dlt645: measuring ours and the PyPI peer, {seconds:g} s each ...", err=True)
    result.update(codec_dlt645.measure(seconds))
    try:
        from meterhub.bench import codec_mbus
    except ImportError as exc:
        click.echo(f"note: M-Bus codec benchmark not available yet ({exc}); omitted", err=True)
    else:
        click.echo(f"mbus: measuring, {seconds:g} s ...", err=True)
        result.update(codec_mbus.measure(seconds))
    click.echo("done", err=True)
    click.echo(json.dumps(result, indent=2))


@bench.command()
@click.option("--collectors", default=2000, show_default=True, type=int, help="Simulated collectors, each on its own connection.")
@click.option("--meters", default=8, show_default=True, type=int, help="Meters per collector (one bus each).")
@click.option("--baud", default=2400, show_default=True, type=int, help="RS-485 bus speed the simulated meters answer at.")
@click.option("--no-baseline", is_flag=True, help="Skip the thread-per-collector baseline.")
def polling(collectors: int, meters: int, baud: int, no_baseline: bool):
    """Read every meter of a simulated fleet once: cycle time against the bus physics bound
    and a blocking thread-per-collector baseline, memory and CPU per collector."""
    from meterhub.bench import polling as polling_bench

    result = polling_bench.measure(collectors, meters, baud, baseline=not no_baseline)
    click.echo(json.dumps(result, indent=2))


@bench.command("import")
@click.option("--rows", default=10_000, show_default=True, type=int, help="Meters imported in bulk.")
@click.option("--baseline-rows", default=1_000, show_default=True, type=int,
              help="Meters saved one at a time with the ORM, the baseline.")
def import_(rows: int, baseline_rows: int):
    """Bulk import of meters against a row-by-row ORM baseline (in a rolled-back transaction)."""
    _migrated_bench_database()
    from meterhub.bench import importing

    click.echo(json.dumps(importing.measure(rows, baseline_rows), indent=2))


@bench.command()
@click.option("--rows", default=500_000, show_default=True, type=int,
              help="Readings stored through the ingest path in each shape (interval, then profile).")
@click.option("--baseline-rows", default=5_000, show_default=True, type=int,
              help="Readings saved one at a time with the ORM, the baseline.")
@click.option("--meters", default=2_000, show_default=True, type=int,
              help="Meters in the fleet, four register quantities each.")
@click.option("--batch-size", default=10_000, show_default=True, type=int,
              help="Readings per store call. The head-end's sink hands over what waits each second, "
              "or sooner once 5,000 wait; 10,000 is a busy second.")
@click.option("--postgres", "postgres_url", default="postgresql://postgres@127.0.0.1:5432/postgres",
              show_default=True, help="Server for the PostgreSQL run (a meterhub_bench database is made and "
              "dropped there); 'none' to skip.")
def ingest(rows: int, baseline_rows: int, meters: int, batch_size: int, postgres_url: str):
    """Readings per second into SQLite and PostgreSQL through the ingest path, against
    per-row ORM save() in the same run. Uses fresh databases, never the operator's."""
    import os
    import tempfile

    os.environ.pop("DATABASE_URL", None)
    os.environ["METERHUB_VAR"] = tempfile.mkdtemp(prefix="meterhub-bench-")
    from meterhub.cli import setup_django

    setup_django()
    from django.conf import settings
    from django.core.management import call_command

    from meterhub import config
    from meterhub.bench import ingest as ingest_bench

    pg_alias = None
    if postgres_url != "none":
        admin = config.database_from_url(postgres_url)
        from django.db import connections

        bench_db = {**admin, "NAME": ingest_bench.PG_BENCH_DB, "CONN_MAX_AGE": None}
        settings.DATABASES["bench_pg"] = bench_db
        connections.settings["bench_pg"] = connections.configure_settings(
            {"default": bench_db, "bench_pg": bench_db})["bench_pg"]
        _recreate_pg_database(postgres_url, ingest_bench.PG_BENCH_DB)
        pg_alias = "bench_pg"
    for alias in ["default"] + ([pg_alias] if pg_alias else []):
        call_command("migrate", database=alias, interactive=False, verbosity=0)
    try:
        result = ingest_bench.measure("default", pg_alias, rows, baseline_rows, meters, batch_size)
    finally:
        if pg_alias:
            from django.db import connections

            connections[pg_alias].close()
            _drop_pg_database(postgres_url, ingest_bench.PG_BENCH_DB)
    click.echo(json.dumps(result, indent=2))


@bench.command()
@click.option("--meters", default=50, show_default=True, type=int,
              help="Meters in the fleet (one meter's year is charted; the others interleave with it on disk).")
@click.option("--days", default=365, show_default=True, type=int, help="Days of 15-minute data charted.")
@click.option("--postgres", "postgres_url", default="postgresql://postgres@127.0.0.1:5432/postgres",
              show_default=True, help="Server for the run (a meterhub_bench_chart database is made and dropped).")
def chart(meters: int, days: int, postgres_url: str):
    """The meter page's year chart on PostgreSQL (35,040 points per quantity), against
    fetching every reading and bucketing in Python, in the same run."""
    import os

    name = "meterhub_bench_chart"
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    _recreate_pg_database(postgres_url, name)
    os.environ["DATABASE_URL"] = url
    from meterhub.cli import setup_django

    setup_django()
    from django.core.management import call_command
    from django.db import connections

    from meterhub.bench import chart as chart_bench

    call_command("migrate", interactive=False, verbosity=0)
    try:
        result = chart_bench.measure(meters, days)
    finally:
        connections.close_all()
        _drop_pg_database(postgres_url, name)
    click.echo(json.dumps(result, indent=2))


def _admin_connection(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _recreate_pg_database(url: str, name: str) -> None:
    _drop_pg_database(url, name)
    with _admin_connection(url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def _drop_pg_database(url: str, name: str) -> None:
    with _admin_connection(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@bench.command()
@click.option("--meters", default=2_000, show_default=True, type=int, help="Meters in the dataset (one site).")
@click.option("--days", default=365, show_default=True, type=int, help="Days of 15-minute data per meter.")
@click.option("--repeat", default=9, show_default=True, type=int, help="Timed runs per query (median).")
@click.option("--rebuild", is_flag=True, help="Generate the dataset again even if it is present.")
@click.option("--postgres", "postgres_url", default="postgresql://postgres@127.0.0.1:5432/postgres",
              show_default=True, help="Server to use; the dataset lives in its meterhub_bench_query database "
              "and is kept between runs (drop it by hand to free the disk).")
def query(meters: int, days: int, repeat: int, rebuild: bool, postgres_url: str):
    """A meter page's year chart and a site's monthly report on a year of 15-minute data
    (2,000 meters: 70 M rows), against straightforward queries in the same run."""
    import os

    import psycopg

    from meterhub.bench import query as query_bench

    with _admin_connection(postgres_url) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [query_bench.BENCH_DB]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{query_bench.BENCH_DB}"')
    info = psycopg.conninfo.conninfo_to_dict(postgres_url)
    info["dbname"] = query_bench.BENCH_DB
    user = f"{info['user']}@" if info.get("user") else ""
    os.environ["DATABASE_URL"] = f"postgresql://{user}{info.get('host', '127.0.0.1')}:{info.get('port', 5432)}/" \
                                 f"{query_bench.BENCH_DB}"
    from meterhub.cli import setup_django

    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    click.echo(json.dumps(query_bench.measure(meters, days, rebuild, repeat), indent=2))


@bench.command()
@click.option("--meters", default=200, show_default=True, type=int, help="Meters in the fleet.")
@click.option("--days", default=7, show_default=True, type=int, help="Days of 15-minute data before the new batch.")
def aggregates(meters: int, days: int):
    """Aggregates upkeep after one new 15-minute batch, against recomputing from scratch
    (in a rolled-back transaction; a fresh SQLite file unless DATABASE_URL is set)."""
    _migrated_bench_database()
    from meterhub.bench import aggregates as aggregates_bench

    click.echo(json.dumps(aggregates_bench.measure(meters, days), indent=2))


@bench.command()
@click.option("--accounts", default=100_000, show_default=True, type=int, help="Accounts billed in the run.")
@click.option("--baseline-accounts", default=500, show_default=True, type=int,
              help="Sample billed by the per-account ORM baseline (scaled to --accounts).")
@click.option("--batch-size", default=2000, show_default=True, type=int, help="Accounts per transaction.")
@click.option("--postgres", "postgres_url", default="postgresql://postgres@127.0.0.1:5432/postgres",
              show_default=True, help="Server for the run (a meterhub_bench_billing database is made and dropped).")
def billing(accounts: int, baseline_accounts: int, batch_size: int, postgres_url: str):
    """Monthly settlement of ACCOUNTS on a tiered + time-of-use tariff on PostgreSQL: the
    set-based bill run against a per-account ORM baseline on a sample, in the same run."""
    import os

    name = "meterhub_bench_billing"
    _recreate_pg_database(postgres_url, name)
    os.environ["DATABASE_URL"] = postgres_url.rsplit("/", 1)[0] + "/" + name
    try:
        from meterhub.cli import setup_django

        setup_django()
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", interactive=False, verbosity=0)
        from meterhub.bench import billing as billing_bench

        result = billing_bench.measure(accounts, baseline_accounts, batch_size)
        connections.close_all()
    finally:
        _drop_pg_database(postgres_url, name)
    click.echo(json.dumps(result, indent=2))
