"""Binding with real-name verification: account number, holder's name and ID number, and a
code sent to the phone on the customer record; failures limited and audited; unbinding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from meterhub.accounts.models import AuditEntry
from meterhub.notifications.models import Message
from meterhub.portal import binding, masking
from meterhub.portal.models import BindAttempt, Binding
from tests.portal.conftest import HOLDER_ID, HOLDER_NAME, HOLDER_PHONE, code_sent_to

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
MISMATCH = "These details do not match our records"


def test_the_code_goes_to_the_registered_phone_and_binds(estate, portal_user):
    pending = binding.start(portal_user, "C-100-E1", HOLDER_NAME, HOLDER_ID, ip="203.0.113.1", now=T0)
    assert (pending.account, pending.phone_masked) == (estate["prepaid"], "138****0001")
    sms = Message.objects.get()
    assert sms.recipient == HOLDER_PHONE != portal_user.phone and "C-100-E1" in sms.body
    bound = binding.confirm(portal_user, estate["prepaid"], code_sent_to(HOLDER_PHONE), now=T0)
    assert list(binding.bound_accounts(portal_user)) == [estate["prepaid"]] and bound.user == portal_user
    entry = AuditEntry.objects.get(action="portal.bind")
    assert (entry.actor_name, entry.object_id) == ("customer:137****0002", str(estate["prepaid"].pk))


@pytest.mark.parametrize("name, id_number", [
    ("li wei", "11010119900307123x"),  # letter case
    (" Li  Wei ", "110101 19900307 123X"),  # spaces
    ("Ｌｉ Ｗｅｉ", "１１０１０１１９９００３０７１２３Ｘ"),  # full-width, as a Chinese keyboard may type
])
def test_details_are_compared_as_people_type_them(estate, portal_user, name, id_number):
    assert binding.start(portal_user, "C-100-E1", name, id_number, now=T0).account == estate["prepaid"]


@pytest.mark.parametrize("number, name, id_number", [
    ("C-100-E1", "Li Wei", "110101199003071234"),  # wrong ID
    ("C-100-E1", "Li Wie", HOLDER_ID),  # wrong name
    ("C-999-E1", HOLDER_NAME, HOLDER_ID),  # no such account
    ("C-200-E1", HOLDER_NAME, HOLDER_ID),  # someone else's account
])
def test_any_mismatch_says_the_same_and_sends_nothing(estate, portal_user, number, name, id_number):
    with pytest.raises(binding.BindError, match=MISMATCH):
        binding.start(portal_user, number, name, id_number, now=T0)
    assert not Message.objects.exists()
    assert BindAttempt.objects.get().outcome == "mismatch"
    assert AuditEntry.objects.get(action="portal.bind_refused").actor_name == "customer:137****0002"


def test_no_such_account_takes_the_same_steps_as_a_wrong_name(estate, portal_user, monkeypatch):
    """Without a timing hint either: an unknown number decrypts, normalises and compares a
    stand-in holder's details as a known one does the holder's, in the same order (counted,
    not timed: the suite asserts no durations)."""
    from meterhub import encryption

    steps = []

    def spy(module, name):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, **k: steps.append(name) or real(*a, **k))

    spy(encryption, "decrypt")  # the customer's ID number is decrypted as its row is read
    for name in ("normalise_name", "normalise_id", "_same"):
        spy(binding, name)

    def refused(number, name):
        steps.clear()
        with pytest.raises(binding.BindError, match=MISMATCH):
            binding.start(portal_user, number, name, HOLDER_ID, now=T0)
        return list(steps)

    wrong_name, unknown = refused("C-100-E1", "Li Wie"), refused("C-999-E1", HOLDER_NAME)
    assert wrong_name == unknown == ["decrypt", "normalise_name", "normalise_name", "_same",
                                     "normalise_id", "normalise_id", "_same"]
    assert refused("C-999-E1", binding.DECOY_NAME)[0] == "decrypt"  # the decoy's own details match nothing
    with pytest.raises(binding.BindError, match=MISMATCH):
        binding.start(portal_user, "C-999-E1", binding.DECOY_NAME, binding.DECOY_ID, now=T0)


def test_the_decoy_outlives_a_change_of_field_keys(settings):
    from cryptography.fernet import Fernet

    from meterhub import encryption

    binding._decoy_holder()  # made under the keys of the day
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    encryption.reset_keyring()
    try:
        assert binding._decoy_holder().id_number == binding.DECOY_ID
    finally:  # the settings fixture puts the keys back; nothing may keep the test key meanwhile
        encryption.reset_keyring()
        binding._decoy_ciphertext.cache_clear()


def test_missing_details_are_asked_for(estate, portal_user):
    with pytest.raises(binding.BindError, match="Enter the account number"):
        binding.start(portal_user, "C-100-E1", "", HOLDER_ID)


def test_a_holder_without_an_id_number_on_record_cannot_be_matched(estate, portal_user):
    estate["holder"].id_number = ""
    estate["holder"].save()
    with pytest.raises(binding.BindError, match=MISMATCH):
        binding.start(portal_user, "C-100-E1", HOLDER_NAME, "-")  # normalised to nothing: never matches nothing
    with pytest.raises(binding.BindError, match=MISMATCH):
        binding.start(portal_user, "C-100-E1", HOLDER_NAME, "x")


def test_five_failures_lock_the_account_number_for_a_day_whoever_tries(estate, portal_user):
    from meterhub.portal.models import PortalUser

    for minute in range(binding.ACCOUNT_FAILURES):
        with pytest.raises(binding.BindError, match=MISMATCH):
            binding.start(portal_user, "C-100-E1", HOLDER_NAME, "wrong", now=T0 + timedelta(minutes=minute))
    assert AuditEntry.objects.filter(action="portal.bind_locked").count() == 1
    someone = PortalUser.objects.create(phone="13600000003")
    for who in (portal_user, someone):  # even with the right details
        with pytest.raises(binding.BindError, match="Too many failed attempts"):
            binding.start(who, "C-100-E1", HOLDER_NAME, HOLDER_ID, now=T0 + timedelta(hours=1))
    assert not Message.objects.exists()
    later = T0 + binding.WINDOW + timedelta(minutes=1)
    assert binding.start(portal_user, "C-100-E1", HOLDER_NAME, HOLDER_ID, now=later).account == estate["prepaid"]


def test_one_phone_trying_many_accounts_is_locked_out(estate, portal_user):
    for i in range(binding.USER_FAILURES):
        with pytest.raises(binding.BindError, match=MISMATCH):
            binding.start(portal_user, f"C-{i:03d}", HOLDER_NAME, HOLDER_ID, now=T0)
    with pytest.raises(binding.BindError, match="Too many failed attempts"):
        binding.start(portal_user, "C-100-E1", HOLDER_NAME, HOLDER_ID, now=T0)


def test_wrong_codes_count_as_failures(estate, portal_user):
    binding.start(portal_user, "C-100-E1", HOLDER_NAME, HOLDER_ID, now=T0)
    right = code_sent_to(HOLDER_PHONE)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(binding.ACCOUNT_FAILURES):
        with pytest.raises(binding.BindError, match="Wrong code|Too many wrong"):
            binding.confirm(portal_user, estate["prepaid"], wrong, now=T0)
    with pytest.raises(binding.BindError, match="Too many failed attempts"):
        binding.confirm(portal_user, estate["prepaid"], right, now=T0)
    assert not Binding.objects.exists()


def test_someone_elses_code_does_not_bind(estate, portal_user):
    from meterhub.portal.models import PortalUser

    binding.start(portal_user, "C-100-E1", HOLDER_NAME, HOLDER_ID, now=T0)
    intruder = PortalUser.objects.create(phone="13600000003")
    with pytest.raises(binding.BindError, match="No code is waiting"):
        binding.confirm(intruder, estate["prepaid"], code_sent_to(HOLDER_PHONE), now=T0)


def test_no_phone_on_record_no_binding(estate, portal_user):
    estate["holder"].phone = ""
    estate["holder"].save()
    with pytest.raises(binding.BindError, match="No mobile number is registered"):
        binding.start(portal_user, "C-100-E1", HOLDER_NAME, HOLDER_ID)


def test_binding_twice_is_refused_and_unbinding_hides_the_account(estate, portal_user):
    binding.start(portal_user, "C-100-E1", HOLDER_NAME, HOLDER_ID, now=T0)
    binding.confirm(portal_user, estate["prepaid"], code_sent_to(HOLDER_PHONE), now=T0)
    with pytest.raises(binding.BindError, match="bound to your phone already"):
        binding.start(portal_user, "C-100-E1", HOLDER_NAME, HOLDER_ID, now=T0 + timedelta(minutes=2))
    binding.unbind(portal_user, estate["prepaid"])
    assert list(binding.bound_accounts(portal_user)) == []
    assert AuditEntry.objects.filter(action="portal.unbind").count() == 1


# --- through the pages -------------------------------------------------------------------------

def test_binding_through_the_pages(signed_in_portal, estate):
    form = {"account_number": "C-100-W1", "name": HOLDER_NAME, "id_number": HOLDER_ID}
    page = signed_in_portal.post(reverse("portal:bind"), form, follow=True)
    assert b"138****0001" in page.content and HOLDER_PHONE.encode() not in page.content
    done = signed_in_portal.post(reverse("portal:bind-code"), {"code": code_sent_to(HOLDER_PHONE)})
    assert done.url == reverse("portal:account", kwargs={"pk": estate["postpaid"].pk})
    assert signed_in_portal.get(done.url).status_code == 200
    unbound = signed_in_portal.post(reverse("portal:unbind", kwargs={"pk": estate["postpaid"].pk}))
    assert unbound.url == reverse("portal:home")
    assert signed_in_portal.get(done.url).status_code == 404


def test_a_mismatch_on_the_page_says_so(signed_in_portal, estate):
    page = signed_in_portal.post(reverse("portal:bind"), {"account_number": "C-100-W1", "name": "x",
                                                          "id_number": "y"})
    assert MISMATCH.encode() in page.content


# --- masking ----------------------------------------------------------------------------------

@given(st.from_regex(r"\+?\d{7,15}", fullmatch=True))
def test_a_masked_phone_shows_at_most_its_first_three_and_last_four_digits(phone):
    masked = masking.mask_phone(phone)
    assert masked.startswith(phone[:3]) and masked.endswith(phone[-4:])
    assert sum(ch.isdigit() for ch in masked) <= 7 and "****" in masked


@given(st.text(min_size=5, max_size=30).filter(lambda s: s.strip() == s and len(s) > 4))
def test_a_masked_id_shows_only_the_last_four(id_number):
    assert masking.mask_id(id_number) == "****" + id_number[-4:]


@given(st.text(max_size=30))
def test_normalising_is_idempotent(text):
    assert binding.normalise_id(binding.normalise_id(text)) == binding.normalise_id(text)
    assert binding.normalise_name(binding.normalise_name(text)) == binding.normalise_name(text)


def test_masks():
    assert masking.mask_name("王小明") == "王**" and masking.mask_name("Li Wei") == "L** W**"
    assert masking.mask_email("li.wei@example.test") == "l***@example.test" and masking.mask_email("") == ""
    assert masking.normalise_phone("+86 138-0000-0001") == "+8613800000001"
