"""Maintenance subcommands: schema, operator accounts, raw Django management."""

from __future__ import annotations

import click

from meterhub.cli import setup_django


@click.command()
def migrate():
    """Create or upgrade the database schema (safe to run repeatedly)."""
    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1)


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def manage(args):
    """Run a Django management command, e.g. `meterhub manage showmigrations`."""
    setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["meterhub manage", *args])


@click.group()
def user():
    """Operator accounts (administrators can do the same in Settings > Operators)."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, help="administrator, operator, finance, technician, analyst or readonly")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Asked for when left out (typed twice, not shown).")
@click.option("--name", default="", help="Full name shown in the audit log.")
def user_add(username, role, password, name):
    """Add an operator account."""
    setup_django()
    from django.core.exceptions import ValidationError

    from meterhub.accounts import services

    try:
        services.create_operator(username=username, role=role, password=password, full_name=name, actor=None)
    except ValidationError as exc:
        raise click.ClickException("; ".join(exc.messages)) from exc
    click.echo(f"added {username} ({role})")


@user.command("disable")
@click.argument("username")
def user_disable(username):
    """Disable an operator account: it can no longer log in."""
    _set_active(username, False)


@user.command("enable")
@click.argument("username")
def user_enable(username):
    """Re-enable a disabled or locked-out operator account."""
    _set_active(username, True)


def _set_active(username: str, active: bool) -> None:
    setup_django()
    from meterhub.accounts import services
    from meterhub.accounts.models import User

    try:
        operator = User.objects.get(username=username)
    except User.DoesNotExist as exc:
        raise click.ClickException(f"no operator named {username!r}") from exc
    services.set_operator_active(operator, active, actor=None)
    click.echo(f"{username} {'enabled' if active else 'disabled'}")
