"""`meterhub bench ...`: benchmarks that print their figures as one JSON object."""

from __future__ import annotations

import json

import click


@click.group()
def bench():
    """Run a benchmark and print its figures as JSON."""


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
