"""API tokens from the command line (administrators can do the same in Settings > API tokens)."""

from __future__ import annotations

import click

from meterhub.cli import setup_django


@click.group()
def token():
    """Create, list and revoke API tokens (docs/api.md)."""


@token.command("create")
@click.option("--owner", required=True, help="The operator the token acts as.")
@click.option("--name", required=True, help="What the token is for, e.g. 'billing sync'.")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="A capability, e.g. assets.view (repeat for more); within the owner's role.")
@click.option("--days", default=90, show_default=True, help="Days until it expires (1 to 366).")
def token_create(owner, name, scopes, days):
    """Create a token and print its secret (shown this once only)."""
    setup_django()
    from django.core.exceptions import ValidationError

    from meterhub.accounts import tokens
    from meterhub.accounts.models import User

    user = User.objects.filter(username=owner).first()
    if user is None:
        raise click.ClickException(f"no operator named {owner!r}")
    try:
        created, secret = tokens.create_token(user, name, scopes, days)
    except ValidationError as exc:
        raise click.ClickException("; ".join(exc.messages)) from exc
    click.echo(f"token {created.pk} for {owner}, expires {created.expires_at:%Y-%m-%d %H:%M} UTC", err=True)
    click.echo(secret)


@token.command("list")
def token_list():
    """Every token: id, prefix, owner, scopes, expiry, last use, state."""
    setup_django()
    from django.utils import timezone

    from meterhub.accounts.models import ApiToken

    now = timezone.now()
    for t in ApiToken.objects.select_related("owner").order_by("pk"):
        state = "revoked" if t.revoked_at else ("expired" if t.expires_at <= now else "live")
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        click.echo(f"{t.pk}\t{t.prefix}…\t{t.owner.username}\t{t.name}\t{','.join(t.scopes)}\t"
                   f"expires {t.expires_at:%Y-%m-%d}\tused {used}\t{state}")


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id):
    """Revoke a token by id: it is refused from the next request on."""
    setup_django()
    from meterhub.accounts import tokens
    from meterhub.accounts.models import ApiToken

    found = ApiToken.objects.filter(pk=token_id).first()
    if found is None:
        raise click.ClickException(f"no token {token_id}")
    tokens.revoke_token(found)
    click.echo(f"revoked token {token_id}")
