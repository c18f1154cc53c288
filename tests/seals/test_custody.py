"""Custody lifecycle: every transition, every refusal, the append-only trail."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError

from meterhub.seals import custody
from meterhub.seals.custody import Where
from meterhub.seals.models import Seal, SealEvent, SealState

S = SealState


def state(serial):
    return Seal.objects.get(serial=serial).state


def trail(serial):
    return list(SealEvent.objects.filter(seal__serial=serial).values_list("action", "from_state", "to_state"))


def installed_seal(tech, storekeeper, meter, serial="S000001", position="meter_cover"):
    custody.issue([serial], tech, Where(storekeeper))
    return custody.install(serial, Where(tech, location="unit 3"), meter=meter, position=position)


def test_batch_arrives_in_stock_with_serials_from_its_range(batch):
    serials = list(Seal.objects.filter(batch=batch).values_list("serial", flat=True))
    assert serials == [f"S{n:06d}" for n in range(1, 11)]
    assert set(Seal.objects.values_list("state", flat=True)) == {S.IN_STOCK}
    assert trail("S000001") == [("receive", "", S.IN_STOCK)]
    assert Seal.objects.get(serial="S000007").chip_asset == "000007"


def test_overlapping_batch_is_refused_and_nothing_is_added(batch, storekeeper):
    with pytest.raises(ValidationError, match="already registered: S000009, S000010"):
        custody.receive_batch("B-2", "plastic", 9, 20, Where(storekeeper), prefix="S")
    assert Seal.objects.count() == 10


def test_reversed_range_is_refused(storekeeper, db):
    with pytest.raises(ValidationError, match="first number"):
        custody.receive_batch("B-3", "plastic", 5, 1, Where(storekeeper))


def test_full_life_in_order(batch, tech, storekeeper, meter):
    custody.issue(["S000001"], tech, Where(storekeeper))
    seal = Seal.objects.get(serial="S000001")
    assert (seal.state, seal.holder) == (S.ISSUED, tech)
    seal = custody.install("S000001", Where(tech, location="unit 3", notes="cover closed"), meter=meter,
                           position="meter_cover", job="WO-1")
    assert (seal.state, seal.meter, seal.position, seal.holder) == (S.INSTALLED, meter, "meter_cover", None)
    assert seal.code.startswith("MS1:")
    custody.remove("S000001", "meter exchange", Where(tech))
    seal = Seal.objects.get(serial="S000001")
    assert (seal.state, seal.meter, seal.holder) == (S.REMOVED, None, tech)
    custody.return_to_store("S000001", Where(storekeeper))
    custody.destroy("S000001", Where(storekeeper, notes="shredded"))
    assert trail("S000001") == [("receive", "", "in_stock"), ("issue", "in_stock", "issued"),
                                ("install", "issued", "installed"), ("remove", "installed", "removed"),
                                ("return", "removed", "returned"), ("destroy", "returned", "destroyed")]
    events = SealEvent.objects.filter(seal__serial="S000001")
    install = events.get(action="install")
    assert (install.meter, install.position, install.location, install.job, install.actor) == (
        meter, "meter_cover", "unit 3", "WO-1", tech)
    assert events.get(action="remove").reason == "meter exchange"


def test_hand_back_unused_seal(batch, tech, storekeeper):
    custody.issue(["S000002"], tech, Where(storekeeper))
    seal = custody.hand_back("S000002", Where(storekeeper))
    assert (seal.state, seal.holder) == (S.IN_STOCK, None)


@pytest.mark.parametrize("start", ["issued", "installed", "removed"])
def test_lost_from_the_field(batch, tech, storekeeper, meter, start):
    custody.issue(["S000001"], tech, Where(storekeeper))
    if start in ("installed", "removed"):
        custody.install("S000001", Where(tech), meter=meter, position="meter_cover")
    if start == "removed":
        custody.remove("S000001", "cover replaced", Where(tech))
    assert custody.report_lost("S000001", "dropped in a drain", Where(tech)).state == S.LOST


@pytest.mark.parametrize("start", ["in_stock", "issued"])
def test_void_then_destroyed(batch, tech, storekeeper, start):
    if start == "issued":
        custody.issue(["S000003"], tech, Where(storekeeper))
    assert custody.void("S000003", "cracked", Where(storekeeper)).state == S.VOID
    assert custody.destroy("S000003", Where(storekeeper)).state == S.DESTROYED


def test_foreign_seal_recorded_then_destroyed(batch, tech, meter):
    seal = custody.record_foreign("XJ-998877", Where(tech, notes="red wire seal"), meter=meter,
                                  position="terminal_cover")
    assert seal.state == S.FOREIGN and seal.batch is None
    event = SealEvent.objects.get(seal=seal)
    assert (event.action, event.meter, event.position) == ("found", meter, "terminal_cover")
    assert custody.destroy("XJ-998877", Where(tech)).state == S.DESTROYED


def test_our_seal_cannot_be_recorded_as_foreign(batch, tech, meter):
    with pytest.raises(ValidationError, match="is ours"):
        custody.record_foreign("S000001", Where(tech), meter=meter)


ILLEGAL = [
    # (how far the seal got, action that is refused there)
    ("in_stock", "install"), ("in_stock", "remove"), ("in_stock", "return"), ("in_stock", "destroy"),
    ("in_stock", "lose"), ("in_stock", "hand_back"),
    ("issued", "issue"), ("issued", "remove"), ("issued", "return"), ("issued", "destroy"),
    ("installed", "issue"), ("installed", "install"), ("installed", "return"), ("installed", "destroy"),
    ("installed", "void"), ("installed", "hand_back"),
    ("removed", "install"), ("removed", "remove"), ("removed", "destroy"), ("removed", "void"),
    ("returned", "issue"), ("returned", "install"), ("returned", "lose"), ("returned", "void"),
    ("destroyed", "issue"), ("destroyed", "destroy"), ("destroyed", "lose"), ("destroyed", "return"),
    ("lost", "install"), ("lost", "issue"), ("lost", "destroy"), ("lost", "return"),
    ("void", "issue"), ("void", "install"), ("void", "lose"),
]


def bring_to(target, tech, storekeeper, meter, serial="S000001"):
    steps = {
        "in_stock": [], "issued": ["issue"], "installed": ["issue", "install"],
        "removed": ["issue", "install", "remove"], "returned": ["issue", "install", "remove", "return"],
        "destroyed": ["issue", "install", "remove", "return", "destroy"], "lost": ["issue", "lose"],
        "void": ["void"],
    }[target]
    for step in steps:
        act(step, serial, tech, storekeeper, meter)


def act(action, serial, tech, storekeeper, meter):
    return {
        "issue": lambda: custody.issue([serial], tech, Where(storekeeper)),
        "hand_back": lambda: custody.hand_back(serial, Where(storekeeper)),
        "install": lambda: custody.install(serial, Where(tech), meter=meter, position="optical_port"),
        "remove": lambda: custody.remove(serial, "test", Where(tech)),
        "return": lambda: custody.return_to_store(serial, Where(storekeeper)),
        "destroy": lambda: custody.destroy(serial, Where(storekeeper)),
        "lose": lambda: custody.report_lost(serial, "gone", Where(tech)),
        "void": lambda: custody.void(serial, "bad", Where(storekeeper)),
    }[action]()


@pytest.mark.parametrize(("start", "action"), ILLEGAL)
def test_illegal_transition_is_refused_with_a_clear_message_and_changes_nothing(
        batch, tech, storekeeper, meter, start, action):
    bring_to(start, tech, storekeeper, meter)
    before = trail("S000001")
    with pytest.raises(ValidationError) as err:
        act(action, "S000001", tech, storekeeper, meter)
    message = " ".join(err.value.messages)
    assert "S000001" in message
    assert state("S000001") == start
    assert trail("S000001") == before


def test_refusal_names_the_state_and_what_is_allowed(batch, tech, storekeeper):
    with pytest.raises(ValidationError) as err:
        custody.return_to_store("S000001", Where(storekeeper))
    assert err.value.messages == [
        "Seal S000001 is in stock: it cannot be returned (only a seal that is removed can)."]


def test_only_the_holder_installs(batch, tech, storekeeper, meter, make_operator):
    other = make_operator("technician", "otto")
    custody.issue(["S000001"], tech, Where(storekeeper))
    with pytest.raises(ValidationError, match="issued to tina: only they can install it"):
        custody.install("S000001", Where(other), meter=meter, position="meter_cover")
    assert state("S000001") == S.ISSUED


def test_one_seal_per_position(batch, tech, storekeeper, meter):
    installed_seal(tech, storekeeper, meter)
    custody.issue(["S000002"], tech, Where(storekeeper))
    with pytest.raises(ValidationError, match="already has seal S000001 at the meter cover"):
        custody.install("S000002", Where(tech), meter=meter, position="meter_cover")
    assert custody.install("S000002", Where(tech), meter=meter, position="terminal_cover").state == S.INSTALLED


def test_reasons_are_required(batch, tech, storekeeper, meter):
    installed_seal(tech, storekeeper, meter)
    with pytest.raises(ValidationError, match="why the seal is removed"):
        custody.remove("S000001", " ", Where(tech))
    with pytest.raises(ValidationError, match="how the seal was lost"):
        custody.report_lost("S000001", "", Where(tech))
    with pytest.raises(ValidationError, match="why the seal is void"):
        custody.void("S000002", "", Where(storekeeper))


def test_unknown_seal_is_refused(batch, tech, storekeeper):
    with pytest.raises(ValidationError, match="no seal S999999"):
        custody.issue(["S999999"], tech, Where(storekeeper))


def test_issuing_several_is_all_or_nothing(batch, tech, storekeeper):
    custody.issue(["S000004"], tech, Where(storekeeper))
    with pytest.raises(ValidationError):
        custody.issue(["S000003", "S000004"], tech, Where(storekeeper))
    assert state("S000003") == S.IN_STOCK


def test_disabled_technician_gets_nothing(batch, tech, storekeeper):
    tech.is_active = False
    tech.save()
    with pytest.raises(ValidationError, match="disabled"):
        custody.issue(["S000001"], tech, Where(storekeeper))


def test_events_are_append_only(batch):
    event = SealEvent.objects.first()
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()


def test_reconciliation_per_technician(batch, tech, storekeeper, meter):
    custody.issue([f"S{n:06d}" for n in range(1, 6)], tech, Where(storekeeper))
    custody.install("S000001", Where(tech), meter=meter, position="meter_cover")
    custody.hand_back("S000002", Where(storekeeper))
    custody.report_lost("S000003", "fell", Where(tech))
    custody.remove("S000001", "exchange", Where(tech))
    result = custody.reconcile(tech, counted=["S000004", "S000001", "S000009"])
    assert {k: result[k] for k in ("issued", "installed", "handed_back", "lost", "unused_in_hand")} == {
        "issued": 5, "installed": 1, "handed_back": 1, "lost": 1, "unused_in_hand": 2}
    assert result["held"] == ["S000001", "S000004", "S000005"]
    assert result["missing"] == ["S000005"] and result["unexpected"] == ["S000009"]
    assert custody.stock_by_technician() == [{"technician": "tina", "issued": 2, "removed": 1}]


@pytest.mark.django_db(transaction=True)
def test_two_technicians_installing_one_seal_at_once_one_wins(site, collector, make_operator):
    from meterhub.assets.models import Meter

    if __import__("django.db").db.connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers: the race cannot happen there")
    keeper, tech = make_operator("administrator", "k"), make_operator("technician", "t")
    custody.receive_batch("B", "plastic", 1, 1, Where(keeper), prefix="R")
    custody.issue(["R000001"], tech, Where(keeper))
    meters = [Meter.objects.create(serial=f"M{n}", site=site, address=f"00000000000{n}", collector=collector)
              for n in (1, 2)]
    results = []

    def go(m):
        try:
            custody.install("R000001", Where(tech), meter=m, position="meter_cover")
            results.append("ok")
        except ValidationError as exc:
            results.append(exc.messages[0])
        finally:
            __import__("django.db").db.connections.close_all()

    threads = [threading.Thread(target=go, args=(m,)) for m in meters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results)[1] == "ok" and "installed" in sorted(results)[0]
    assert SealEvent.objects.filter(action="install").count() == 1
