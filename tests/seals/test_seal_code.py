"""Seal codes: layout, signatures, key rotation, verdicts; OpenSSL as an independent check."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from meterhub.seals import base45, keys, seal_code
from meterhub.seals.seal_code import KeyList, ListedKey, SealCode

SECRET = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC = SECRET.public_key().public_bytes_raw()
NOW = datetime(2026, 6, 1, tzinfo=UTC)
LIST = KeyList({7: ListedKey(7, PUBLIC, date(2026, 1, 1), None)}, {"S000009": "removed"},
               NOW - timedelta(days=1), NOW + timedelta(days=29))
CODE = SealCode(kid=7, issued=date(2026, 5, 20), position="terminal_cover", seal="S000001", meter="E240101000001")
TEXT = seal_code.sign(CODE, SECRET)


@given(st.binary(max_size=200))
def test_base45_round_trip(data):
    text = base45.encode(data)
    assert set(text) <= set(base45.ALPHABET)
    assert base45.decode(text) == data


def test_base45_matches_the_rfc_examples():
    assert base45.encode(b"AB") == "BB8"
    assert base45.encode(b"Hello!!") == "%69 VD92EX0"
    assert base45.encode(b"ietf!") == "QED8WEX0"
    assert base45.decode("QED8WEX0") == b"ietf!"
    with pytest.raises(base45.Base45Error):
        base45.decode("GGW")  # 65535 < value: out of range
    with pytest.raises(base45.Base45Error):
        base45.decode("a")


def test_a_code_is_alphanumeric_qr_text_and_compact():
    assert TEXT.startswith("MS1:")
    assert set(TEXT) <= set(base45.ALPHABET)
    assert len(TEXT) < 160
    parsed, _, _ = seal_code.parse(TEXT)
    assert parsed == CODE


def test_valid_code_for_the_right_meter():
    verdict = seal_code.verify(TEXT, LIST, "e2401 0100 0001", now=NOW)
    assert verdict.verdict == "valid" and verdict.code == CODE


def test_code_for_another_meter():
    verdict = seal_code.verify(TEXT, LIST, "E240101000002", now=NOW)
    assert verdict.verdict == "other_meter" and "E240101000001" in verdict.why


def test_withdrawn_seal():
    text = seal_code.sign(SealCode(7, date(2026, 5, 1), "meter_cover", "S000009", "E1"), SECRET)
    assert seal_code.verify(text, LIST, "E1", now=NOW).verdict == "withdrawn"


def test_stale_list_is_not_sure():
    assert seal_code.verify(TEXT, LIST, now=NOW + timedelta(days=60)).verdict == "stale_list"


def test_foreign_key_is_not_genuine():
    forged = seal_code.sign(CODE, Ed25519PrivateKey.generate())
    assert seal_code.verify(forged, LIST, now=NOW).verdict == "not_genuine"


def test_unknown_key_id():
    other = seal_code.sign(SealCode(8, date(2026, 5, 1), "meter_cover", "S1", "E1"), SECRET)
    assert seal_code.verify(other, LIST, now=NOW).verdict == "not_genuine"
    assert seal_code.verify(other, LIST, now=NOW + timedelta(days=60)).verdict == "stale_list"


def test_code_dated_outside_its_key_window_is_not_genuine():
    windowed = KeyList({7: ListedKey(7, PUBLIC, date(2026, 1, 1), date(2026, 3, 31))}, {}, NOW, NOW + timedelta(1))
    late = seal_code.sign(SealCode(7, date(2026, 4, 1), "meter_cover", "S1", "E1"), SECRET)
    early = seal_code.sign(SealCode(7, date(2026, 3, 31), "meter_cover", "S1", "E1"), SECRET)
    assert seal_code.verify(late, windowed, now=NOW).verdict == "not_genuine"
    assert seal_code.verify(early, windowed, now=NOW).verdict == "valid"


@pytest.mark.parametrize("text", ["", "hello", "MS1:", "MS1:AAAA", "MS1:" + "A" * 150, TEXT[:-3], TEXT.lower()])
def test_garbage_is_not_genuine(text):
    assert seal_code.verify(text, LIST, now=NOW).verdict == "not_genuine"


@settings(max_examples=400, deadline=None)  # a loaded CI machine must not make it flaky
@given(st.data())
def test_any_change_to_any_byte_fails(data):
    raw = bytearray(base45.decode(TEXT[4:]))
    i = data.draw(st.integers(0, len(raw) - 1), label="byte")
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[i]), label="value")
    raw[i] = new
    verdict = seal_code.verify("MS1:" + base45.encode(bytes(raw)), LIST, "E240101000001", now=NOW)
    assert verdict.verdict == "not_genuine"


@settings(max_examples=400, deadline=None)  # a loaded CI machine must not make it flaky
@given(st.data())
def test_any_change_to_any_character_fails(data):
    i = data.draw(st.integers(0, len(TEXT) - 1), label="position")
    ch = data.draw(st.sampled_from(base45.ALPHABET + "abcxyz").filter(lambda c: c != TEXT[i]), label="char")
    changed = TEXT[:i] + ch + TEXT[i + 1:]
    assert seal_code.verify(changed, LIST, "E240101000001", now=NOW).verdict == "not_genuine"


# --- keys in the database ---------------------------------------------------------------

def test_private_keys_are_encrypted_at_rest(db):
    from django.db import connection

    key = keys.current_key()
    with connection.cursor() as cursor:
        cursor.execute("SELECT private_key FROM seals_signingkey WHERE kid = %s", [key.kid])
        stored = cursor.fetchone()[0]
    assert stored.startswith("fernet:") and key.private_key not in stored
    assert len(keys.unb64(key.private_key)) == 32


def test_rotation_keeps_old_codes_verifiable_in_their_window(db):
    first = keys.current_key()
    old = keys.sign_code("S1", "E1", "meter_cover")
    second = keys.rotate()
    new = keys.sign_code("S2", "E2", "meter_cover")
    assert second.kid != first.kid
    listed = keys.current_list()
    assert seal_code.parse(old)[0].kid == first.kid and seal_code.parse(new)[0].kid == second.kid
    assert seal_code.verify(old, listed, "E1").verdict == "valid"
    assert seal_code.verify(new, listed, "E2").verdict == "valid"
    # a code claiming the retired key on a later day is refused
    late = seal_code.sign(SealCode(first.kid, date.today() + timedelta(days=1), "meter_cover", "S3", "E3"),
                          keys.private_key(first))
    assert seal_code.verify(late, listed, "E3").verdict == "not_genuine"


def test_revoked_key_verifies_nothing(db):
    code = keys.sign_code("S1", "E1", "meter_cover")
    keys.revoke(seal_code.parse(code)[0].kid)
    assert seal_code.verify(code, keys.current_list(), "E1").verdict == "not_genuine"


def test_published_list_is_signed_and_tamper_evident(db):
    envelope = keys.publish()
    trusted = [keys.list_public_key()]
    assert keys.open_envelope(envelope, trusted).keys
    body = json.loads(envelope["body"])
    body["keys"][0]["x"] = keys.b64(bytes(32))
    with pytest.raises(keys.KeyListError, match="signature"):
        keys.open_envelope({**envelope, "body": json.dumps(body)}, trusted)
    with pytest.raises(keys.KeyListError):
        keys.open_envelope(envelope, [keys.b64(Ed25519PrivateKey.generate().public_key().public_bytes_raw())])


def test_openssl_verifies_a_code_against_the_published_public_key(db, tmp_path):
    openssl = shutil.which("openssl")
    if openssl is None:
        from tests.conftest import skip_or_fail

        skip_or_fail("no openssl command line")
    code = keys.sign_code("S000042", "E240101000001", "meter_cover")
    parsed, body, signature = seal_code.parse(code)
    published = json.loads(keys.publish()["body"])
    pem = next(k["pem"] for k in published["keys"] if k["kid"] == parsed.kid)
    (tmp_path / "pub.pem").write_text(pem)
    (tmp_path / "msg").write_bytes(body)
    (tmp_path / "sig").write_bytes(signature)

    def openssl_verify(message):
        (tmp_path / "m").write_bytes(message)
        return subprocess.run([openssl, "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "pub.pem"),
                               "-rawin", "-in", str(tmp_path / "m"), "-sigfile", str(tmp_path / "sig")],
                              capture_output=True, text=True)

    ok = openssl_verify(body)
    assert ok.returncode == 0 and "Signature Verified Successfully" in ok.stdout
    bad = openssl_verify(body[:-1] + bytes([body[-1] ^ 1]))
    assert bad.returncode != 0
