from cryptography.fernet import Fernet
from django.db import connection

from meterhub import encryption
from meterhub.assets.models import Meter


def test_protocol_secrets_are_ciphertext_in_the_database(collector):
    meter = Meter.objects.create(serial="E1", site=collector.site, address="000000000001", collector=collector,
                                 password="00123456", operator_code="00000001")
    with connection.cursor() as cur:
        cur.execute("SELECT password, operator_code FROM assets_meter WHERE id = %s", [meter.pk])
        stored_password, stored_code = cur.fetchone()
    assert stored_password.startswith(encryption.PREFIX) and "00123456" not in stored_password
    assert stored_code.startswith(encryption.PREFIX) and "00000001" not in stored_code
    again = Meter.objects.get(pk=meter.pk)
    assert (again.password, again.operator_code) == ("00123456", "00000001")


def test_blank_secret_stays_blank(collector):
    meter = Meter.objects.create(serial="E2", site=collector.site, address="000000000002", collector=collector)
    with connection.cursor() as cur:
        cur.execute("SELECT password FROM assets_meter WHERE id = %s", [meter.pk])
        assert cur.fetchone()[0] == ""


def test_rotated_keys_still_decrypt_old_values(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    encryption.reset_keyring()
    token = encryption.encrypt("secret")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    encryption.reset_keyring()
    try:
        assert encryption.decrypt(token) == "secret"
        settings.FIELD_ENCRYPTION_KEYS = [new]
        encryption.reset_keyring()
        try:
            encryption.decrypt(token)
        except ValueError as exc:
            assert "METERHUB_FIELD_KEYS" in str(exc)
        else:
            raise AssertionError("a value under a dropped key must not decrypt")
    finally:
        settings.FIELD_ENCRYPTION_KEYS = []
        encryption.reset_keyring()
