"""`meterhub decode FORMAT [DATA]`: decode frames and print them as JSON.

DATA is hex (spaces, colons and 0x prefixes allowed) or JSON (a hex string, a
list of hex strings, or {"hex": ...}; for glow, the JSON payload itself). With
no DATA it reads standard input. `--stream FILE` decodes a whole capture (raw
binary or a text file of hex); noise and bad frames come out as typed error
entries, never as a crash.
"""

from __future__ import annotations

import importlib
import json
import re
import sys

import click

FORMATS = {
    "dlt645": ("meterhub.protocols.dlt645", {"version": "2007"}),
    "dlt645-1997": ("meterhub.protocols.dlt645", {"version": "1997"}),
    "mbus": ("meterhub.protocols.mbus", {}),
    "glow": ("meterhub.protocols.glow", {}),
}

_HEX_TEXT = re.compile(rb"^(?:\s|0x|0X|[0-9A-Fa-f]|[,:;-])*$")
_NOT_HEX = re.compile(r"0[xX]|[\s,:;-]")


def hex_to_bytes(text: str) -> bytes:
    cleaned = _NOT_HEX.sub("", text)
    if len(cleaned) % 2:
        raise click.BadParameter("odd number of hex digits", param_hint="DATA")
    try:
        return bytes.fromhex(cleaned)
    except ValueError as exc:
        raise click.BadParameter(f"not hex: {exc}", param_hint="DATA") from None


def data_to_bytes(text: str, fmt: str) -> bytes:
    """Interpret DATA: JSON first (a glow payload stays JSON text), else hex."""
    stripped = text.strip()
    if stripped[:1] in ("{", "[", '"'):
        try:
            doc = json.loads(stripped)
        except ValueError as exc:
            raise click.BadParameter(f"not valid JSON: {exc}", param_hint="DATA") from None
        if fmt == "glow":
            return stripped.encode()
        if isinstance(doc, str):
            return hex_to_bytes(doc)
        if isinstance(doc, list) and all(isinstance(x, str) for x in doc):
            return b"".join(hex_to_bytes(x) for x in doc)
        if isinstance(doc, dict) and isinstance(doc.get("hex"), str):
            return hex_to_bytes(doc["hex"])
        raise click.BadParameter('JSON must be a hex string, a list of them or {"hex": ...}')
    if fmt == "glow":
        return stripped.encode()
    return hex_to_bytes(stripped)


def file_to_bytes(raw: bytes, fmt: str) -> bytes:
    """A capture file: raw bytes, unless it is plainly a text file of hex."""
    if fmt != "glow" and raw.strip() and _HEX_TEXT.match(raw):
        # comments are not hex; a text capture may carry '#' lines
        return hex_to_bytes(raw.decode("ascii"))
    if fmt != "glow" and raw.lstrip()[:1] == b"#":
        lines = [ln.split(b"#", 1)[0] for ln in raw.splitlines()]
        text = b" ".join(lines)
        if _HEX_TEXT.match(text):
            return hex_to_bytes(text.decode("ascii"))
    return raw


def describer(fmt: str):
    module_name, kwargs = FORMATS[fmt]
    try:
        module = importlib.import_module(module_name)
        fn = module.describe
    except (ImportError, AttributeError) as exc:
        raise click.ClickException(f"format {fmt!r} is not available yet: {exc}") from None
    return lambda data: fn(data, **kwargs)


@click.command()
@click.argument("fmt", metavar="FORMAT", type=click.Choice(sorted(FORMATS)))
@click.argument("data", required=False)
@click.option("--stream", "stream", type=click.File("rb"), help="Capture file (binary or hex text).")
@click.option("--compact", is_flag=True, help="One line of JSON instead of indented.")
def decode(fmt: str, data: str | None, stream, compact: bool):
    """Decode FORMAT frames (dlt645, dlt645-1997, mbus, glow) from DATA, stdin or --stream.

    \b
    meterhub decode dlt645 "68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 16"
    meterhub decode dlt645 --stream capture.bin
    """
    if stream is not None and data is not None:
        raise click.UsageError("give DATA or --stream, not both")
    if stream is not None:
        payload = file_to_bytes(stream.read(), fmt)
    else:
        if data is None:
            data = sys.stdin.read()
        payload = data_to_bytes(data, fmt)
    result = describer(fmt)(payload)
    click.echo(json.dumps(result, indent=None if compact else 2, ensure_ascii=False, default=str))
