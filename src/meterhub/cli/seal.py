"""`meterhub seal`: check seal codes, manage the signing keys, receive stock, print labels."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from meterhub.cli import setup_django


@click.group()
def seal():
    """Seal codes, signing keys, stock and labels (docs/seals.md)."""


@seal.command("verify")
@click.argument("code")
@click.option("--meter", default="", help="The meter number read off the meter; compared with the code's.")
@click.option("--keys", "keys_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A key list saved with `meterhub seal keys publish` (works with no database).")
@click.option("--trust", multiple=True,
              help="The list key to trust (base64url, from `meterhub seal keys trust`); needed with --keys.")
def verify(code, meter, keys_file, trust):
    """Check a seal code: valid, other_meter, not_genuine, withdrawn or stale_list.

    Prints the verdict as JSON; exits 0 only for a valid code. Without --keys the
    current key list comes from the database.
    """
    from meterhub.seals import keylist, seal_code

    if keys_file is not None:
        if not trust:
            raise click.UsageError("--keys needs --trust: the list key you got from your office")
        try:
            listed = keylist.open_envelope(json.loads(keys_file.read_text()), list(trust))
        except (ValueError, keylist.KeyListError) as exc:
            raise click.ClickException(f"{keys_file}: {exc}") from exc
    else:
        setup_django()
        from meterhub.seals import keys

        listed = keys.current_list()
    verdict = seal_code.verify(code, listed, meter)
    click.echo(json.dumps(verdict.to_dict(), ensure_ascii=False))
    sys.exit(0 if verdict.verdict == seal_code.VALID else 1)


@seal.group("keys")
def keys_group():
    """The Ed25519 keys that sign seal codes and the key list."""


@keys_group.command("publish")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout).")
def keys_publish(output):
    """Write the signed key list (what phones download from /seals/keys.json)."""
    setup_django()
    from meterhub.seals import keys

    text = json.dumps(keys.publish())
    if output:
        output.write_text(text)
        click.echo(f"key list written to {output}", err=True)
    else:
        click.echo(text)


@keys_group.command("trust")
def keys_trust():
    """Print the list key's public key: give it to whoever checks codes with --keys."""
    setup_django()
    from meterhub.seals import keys

    click.echo(keys.list_public_key())


@keys_group.command("rotate")
@click.option("--list-key", is_flag=True, help="Rotate the key-list key instead (every checker must trust the new one).")
def keys_rotate(list_key):
    """Start a new signing key; codes signed by the old one stay verifiable."""
    setup_django()
    from meterhub.seals import keys
    from meterhub.seals.models import SigningKey

    purpose = SigningKey.Purpose.LIST if list_key else SigningKey.Purpose.SEAL
    key = keys.rotate(purpose)
    click.echo(f"new {purpose} key {key.kid}, signing from {key.not_before:%Y-%m-%d %H:%M} UTC")


@keys_group.command("revoke")
@click.argument("kid", type=int)
@click.confirmation_option(prompt="No code signed by this key will verify any more. Revoke it?")
def keys_revoke(kid):
    """Revoke a leaked seal key: its codes stop verifying (reseal those meters)."""
    setup_django()
    from meterhub.seals import keys
    from meterhub.seals.models import SigningKey

    try:
        keys.revoke(kid)
    except SigningKey.DoesNotExist as exc:
        raise click.ClickException(f"no key {kid}") from exc
    click.echo(f"key {kid} revoked")


@seal.command("receive")
@click.option("--batch", "reference", required=True, help="The delivery's reference.")
@click.option("--type", "seal_type", required=True, type=click.Choice(["plastic", "wire", "label", "smart"]),
              help="What kind of seal the delivery holds.")
@click.option("--first", type=int, required=True, help="Number of the delivery's first seal.")
@click.option("--last", type=int, required=True, help="Number of its last seal.")
@click.option("--prefix", default="", help="Letters before the number, e.g. S.")
@click.option("--digits", default=6, show_default=True, help="Zero-padded width of the number.")
@click.option("--supplier", default="", help="Who delivered the seals.")
def receive(reference, seal_type, first, last, prefix, digits, supplier):
    """Register a delivery of seals numbered PREFIX+FIRST .. PREFIX+LAST, in stock."""
    setup_django()
    from django.core.exceptions import ValidationError

    from meterhub.seals import custody

    try:
        batch = custody.receive_batch(reference, seal_type, first, last, custody.Where(None), prefix=prefix,
                                      digits=digits, supplier=supplier)
    except ValidationError as exc:
        raise click.ClickException("; ".join(exc.messages)) from exc
    click.echo(f"batch {batch.reference}: {batch.serial(first)} .. {batch.serial(last)} in stock")


@seal.command("labels")
@click.option("--meter", default="", help="Labels of the seals installed on this meter.")
@click.option("--serial", "serials", multiple=True, help="A seal number (repeatable).")
@click.option("--layout", type=click.Choice(["sheet", "roll"]), default="sheet", show_default=True,
              help="sheet: A4 3x8; roll: one 50x30 mm label per page for a label printer.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="PDF file to write.")
def labels(meter, serials, layout, output):
    """Print labels of installed seals (QR code plus the seal number) as PDF."""
    setup_django()
    from meterhub.seals import labels as labels_mod
    from meterhub.seals.models import Seal, SealState

    seals = Seal.objects.filter(state=SealState.INSTALLED).exclude(code="").order_by("serial")
    if meter:
        seals = seals.filter(meter__serial=meter)
    if serials:
        seals = seals.filter(serial__in=serials)
    items = labels_mod.labels_for(seals)
    if not items:
        raise click.ClickException("no installed seal matches (labels are printed once a seal has its code)")
    with click.progressbar(length=1, label=f"{len(items)} labels") as bar:
        output.write_bytes(labels_mod.render(items, layout))
        bar.update(1)
    click.echo(f"wrote {output}")
