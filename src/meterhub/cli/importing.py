"""`meterhub import collectors|meters|customers|readings FILE` with a dry run and a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from meterhub.cli import setup_django

KINDS = ("collectors", "meters", "customers", "readings")


@click.command("import")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and list the problems; import nothing.")
@click.option("--max-errors", default=200, show_default=True, help="How many problems to print.")
def import_(kind, file, dry_run, max_errors):
    """Import KIND from FILE (.csv or .xlsx; first row = column names).

    Every row is checked first. If any row is bad, every problem is listed with its
    line number and nothing is imported; fix the file and run again. Exit status: 0
    imported (or clean on --dry-run), 1 problems found.

    \b
    Columns:
      collectors: code, site, transport, registration_id, host, port, serial_device, model, name
      meters:     serial, site, address, collector, protocol, kind, bus_port, baud_rate, phase,
                  ct_ratio, pt_ratio, model, payment_mode, switch, password, operator_code,
                  building, unit, installed_on
      customers:  account_no, name, customer_class, phone, email, id_number, language,
                  site, building, unit, move_in
      readings:   meter, quantity, time, value, quality  (time without an offset is the
                  site's local time; rows already stored are skipped, not doubled)
    """
    setup_django()
    from meterhub.assets.importing import import_file

    bar = None

    def start(rows: int):
        nonlocal bar
        bar = click.progressbar(length=rows, label=f"Checking {rows} {kind}", file=sys.stderr)
        bar.__enter__()

    try:
        report = import_file(kind, file.read_bytes(), file.name, dry_run=dry_run,
                             progress=lambda n: bar.update(n) if bar else None, on_rows=start)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if report.errors:
        for error in report.errors[:max_errors]:
            click.echo(str(error), err=True)
        more = len(report.errors) - max_errors
        if more > 0:
            click.echo(f"... and {more} more", err=True)
        raise click.ClickException(f"{len(report.errors)} problem(s) in {file.name}: nothing was imported")
    if dry_run:
        click.echo(f"{report.rows} rows checked: {file.name} is clean (dry run, nothing imported)")
    else:
        skipped = report.rows - report.created
        note = f" ({skipped} already stored)" if kind == "readings" and skipped else ""
        click.echo(f"imported {report.created} {kind} from {file.name}{note}")
