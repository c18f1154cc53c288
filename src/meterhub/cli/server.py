"""`meterhub web` and `meterhub demo`: serve the console (and, in demo, a demo site)."""

from __future__ import annotations

import os

import click

from meterhub.cli import setup_django

DEMO_USER, DEMO_PASSWORD = "demo", "meterhub-demo"


def _serve(host: str, port: int) -> None:
    import uvicorn

    uvicorn.run("meterhub.asgi:application", host=host, port=port, log_level="info", lifespan="off")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for the LAN).")
@click.option("--port", default=8000, show_default=True, type=int)
def web(host, port):
    """Serve the operator console. Run `meterhub migrate` first after an upgrade."""
    setup_django()
    _serve(host, port)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Prepare the database and demo site, then exit.")
def demo(host, port, no_serve):
    """Everything on the embedded default: schema, a demo site with 100+ meters, a demo login."""
    os.environ.setdefault("METERHUB_DEBUG", "0")
    setup_django()
    from django.core.management import call_command

    from meterhub.accounts.models import User
    from meterhub.accounts.roles import Role
    from meterhub.accounts.services import create_operator
    from meterhub.assets.demo import load_demo_site
    from meterhub.assets.models import Meter

    call_command("migrate", interactive=False, verbosity=0)
    with click.progressbar(length=1, label="Loading the demo site") as bar:
        created = load_demo_site()
        bar.update(1)
    if not User.objects.filter(username=DEMO_USER).exists():
        create_operator(username=DEMO_USER, role=Role.ADMINISTRATOR, password=DEMO_PASSWORD,
                        full_name="Demo administrator")
    from django.conf import settings

    click.echo("")
    click.echo(f"  meterhub demo {'created' if created else 'ready'}: {Meter.objects.count()} meters")
    click.echo(f"  database: {settings.DATABASES['default']['NAME']}")
    click.echo(f"  open:     http://{host}:{port}/")
    click.echo(f"  sign in:  {DEMO_USER} / {DEMO_PASSWORD}")
    click.echo("")
    if not no_serve:
        _serve(host, port)
