"""Base45 (RFC 9285): bytes as text from the 45 characters of a QR code's alphanumeric mode.

Alphanumeric QR holds 5.5 bits per character against 8 in byte mode, so a Base45 code
makes a smaller QR than the same bytes in Base64 (the EU digital certificate design).
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}


class Base45Error(ValueError):
    pass


def encode(data: bytes) -> str:
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        c, n = n % 45, n // 45
        d, e = n % 45, n // 45
        out += (ALPHABET[c], ALPHABET[d], ALPHABET[e])
    if len(data) % 2:
        n = data[-1]
        out += (ALPHABET[n % 45], ALPHABET[n // 45])
    return "".join(out)


def decode(text: str) -> bytes:
    try:
        values = [_INDEX[c] for c in text]
    except KeyError as exc:
        raise Base45Error(f"not a Base45 character: {exc.args[0]!r}") from None
    if len(values) % 3 == 1:
        raise Base45Error("Base45 text cannot have a length of 3n+1")
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i:i + 3]
        n = sum(v * 45 ** k for k, v in enumerate(chunk))
        if len(chunk) == 3:
            if n > 0xFFFF:
                raise Base45Error("Base45 triple out of range")
            out += n.to_bytes(2, "big")
        else:
            if n > 0xFF:
                raise Base45Error("Base45 pair out of range")
            out.append(n)
    return bytes(out)
