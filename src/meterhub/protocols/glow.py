"""Glow IHD/CAD local MQTT feed (topic + JSON) to typed readings. Pure, sans-IO.

The Glow display publishes under ``<prefix>/<device id>/...`` (prefix "glow" by
default, device id = the 12-hex-digit Ethernet MAC):

    <prefix>/<id>/STATE                      firmware, HAN radio status
    <prefix>/<id>/SENSOR/electricitymeter    cumulative import/export kWh, power kW, prices
    <prefix>/<id>/SENSOR/gasmeter            cumulative kWh and m3, prices

Rules that keep a reading honest:
- -8388.608 is the feed's error value (0x800000 as a signed 24-bit thousandth: the
  meter did not answer the CAD). It means *missing*, never a negative number.
- A field that is absent, null, not a number, or in a unit we do not know is missing:
  its attribute is None and its name is listed in ``missing`` (with the reason in
  ``problems``). Nothing is guessed.
- Numbers become Decimal from their JSON text form, so 6613.405 stays 6613.405 and
  money (unit rate, standing charge) is never a float.
- Timestamps are aware UTC datetimes (the feed sends UTC with a Z).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

ERROR_VALUE = Decimal("-8388.608")

_ENERGY_UNITS = {"kwh": Decimal(1), "wh": Decimal("0.001"), "mwh": Decimal(1000)}
_POWER_UNITS = {"kw": Decimal(1), "w": Decimal("0.001")}
_VOLUME_UNITS = {"m3": Decimal(1), "dm3": Decimal("0.001"), "l": Decimal("0.001")}


class GlowError(Exception):
    """Base of every error from the Glow codec."""

    def to_dict(self) -> dict:
        return {"error": type(self).__name__, "message": str(self)}


class GlowTopicError(GlowError):
    """The topic is not one of the Glow topics we decode."""


class GlowPayloadError(GlowError):
    """The payload is not JSON, not an object, or lacks the object its topic promises."""


@dataclass(frozen=True, slots=True)
class GlowState:
    device_id: str
    software: str | None
    hardware: str | None
    ethmac: str | None
    smets_version: str | None
    han_status: str | None
    han_rssi: int | None
    han_lqi: int | None
    kind: str = "state"


@dataclass(frozen=True, slots=True)
class ElectricityReading:
    device_id: str
    timestamp: datetime | None
    import_kwh: Decimal | None
    export_kwh: Decimal | None
    power_kw: Decimal | None
    import_day_kwh: Decimal | None = None
    import_week_kwh: Decimal | None = None
    import_month_kwh: Decimal | None = None
    unit_rate: Decimal | None = None  # currency per kWh, as the supplier set it on the meter
    standing_charge: Decimal | None = None  # currency per day
    mpan: str | None = None
    supplier: str | None = None
    missing: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=(), compare=False)
    kind: str = "electricity"


@dataclass(frozen=True, slots=True)
class GasReading:
    device_id: str
    timestamp: datetime | None
    import_kwh: Decimal | None
    volume_m3: Decimal | None
    import_day_kwh: Decimal | None = None
    import_week_kwh: Decimal | None = None
    import_month_kwh: Decimal | None = None
    day_m3: Decimal | None = None
    week_m3: Decimal | None = None
    month_m3: Decimal | None = None
    unit_rate: Decimal | None = None
    standing_charge: Decimal | None = None
    mprn: str | None = None
    supplier: str | None = None
    missing: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=(), compare=False)
    kind: str = "gas"


GlowMessage = GlowState | ElectricityReading | GasReading


def parse_topic(topic: str) -> tuple[str, str]:
    """``glow/0123456789AB/SENSOR/gasmeter`` -> ("0123456789AB", "gasmeter")."""
    if not isinstance(topic, str):
        raise GlowTopicError(f"topic must be text, got {type(topic).__name__}")
    parts = topic.strip("/").split("/")
    if len(parts) >= 3 and parts[-1] == "STATE":
        return parts[-2], "state"
    if len(parts) >= 4 and parts[-2] == "SENSOR" and parts[-1] in ("electricitymeter",
                                                                    "gasmeter"):
        return parts[-3], parts[-1]
    raise GlowTopicError(f"not a Glow topic: {topic!r}")


class _Fields:
    """Collects missing fields and the reason for each while a payload is read."""

    def __init__(self) -> None:
        self.missing: list[str] = []
        self.problems: list[str] = []

    def gone(self, name: str, why: str) -> None:
        self.missing.append(name)
        self.problems.append(f"{name}: {why}")

    def number(self, obj, key: str, name: str, scale: Decimal = Decimal(1)) -> Decimal | None:
        raw = obj.get(key) if isinstance(obj, dict) else None
        if raw is None:
            self.gone(name, "absent")
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
            self.gone(name, f"not a number: {raw!r}")
            return None
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            self.gone(name, f"not a number: {raw!r}")
            return None
        if not value.is_finite():
            self.gone(name, f"not a finite number: {raw!r}")
            return None
        if value == ERROR_VALUE:
            self.gone(name, "error value -8388.608 (meter did not answer)")
            return None
        return value * scale

    def scale(self, obj, key: str, table: dict, default: str, names: tuple[str, ...]):
        unit = obj.get(key, default) if isinstance(obj, dict) else default
        factor = table.get(str(unit).lower()) if isinstance(unit, str) else None
        if factor is None:
            for name in names:
                self.gone(name, f"unknown unit {unit!r}")
        return factor

    def text(self, obj, key: str) -> str | None:
        raw = obj.get(key) if isinstance(obj, dict) else None
        return raw if isinstance(raw, str) else None

    def timestamp(self, obj) -> datetime | None:
        raw = obj.get("timestamp")
        if not isinstance(raw, str):
            self.gone("timestamp", "absent")
            return None
        try:
            ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            self.gone("timestamp", f"not ISO 8601: {raw!r}")
            return None
        if ts.tzinfo is None:  # the feed is UTC; a bare time is read as UTC, not local
            ts = ts.replace(tzinfo=UTC)
        return ts.astimezone(UTC)


def _obj(value) -> dict:
    return value if isinstance(value, dict) else {}


def _electricity(device_id: str, body: dict) -> ElectricityReading:
    f = _Fields()
    energy = _obj(body.get("energy"))
    imp, exp_ = _obj(energy.get("import")), _obj(energy.get("export"))
    price = _obj(imp.get("price"))
    power = _obj(body.get("power"))
    imp_names = ("import_kwh", "import_day_kwh", "import_week_kwh", "import_month_kwh")
    k_imp = f.scale(imp, "units", _ENERGY_UNITS, "kWh", imp_names)
    k_exp = f.scale(exp_, "units", _ENERGY_UNITS, "kWh", ("export_kwh",))
    k_pow = f.scale(power, "units", _POWER_UNITS, "kW", ("power_kw",))

    def num(obj, key, name, k):
        return None if k is None else f.number(obj, key, name, k)

    return ElectricityReading(
        device_id=device_id,
        timestamp=f.timestamp(body),
        import_kwh=num(imp, "cumulative", "import_kwh", k_imp),
        export_kwh=num(exp_, "cumulative", "export_kwh", k_exp),
        power_kw=num(power, "value", "power_kw", k_pow),
        import_day_kwh=num(imp, "day", "import_day_kwh", k_imp),
        import_week_kwh=num(imp, "week", "import_week_kwh", k_imp),
        import_month_kwh=num(imp, "month", "import_month_kwh", k_imp),
        unit_rate=f.number(price, "unitrate", "unit_rate"),
        standing_charge=f.number(price, "standingcharge", "standing_charge"),
        mpan=f.text(imp, "mpan"),
        supplier=f.text(imp, "supplier"),
        missing=tuple(f.missing),
        problems=tuple(f.problems),
    )


def _gas(device_id: str, body: dict) -> GasReading:
    f = _Fields()
    imp = _obj(_obj(body.get("energy")).get("import"))
    price = _obj(imp.get("price"))
    k_e = f.scale(imp, "units", _ENERGY_UNITS, "kWh",
                  ("import_kwh", "import_day_kwh", "import_week_kwh", "import_month_kwh"))
    k_v = f.scale(imp, "cumulativevolunits", _VOLUME_UNITS, "m3",
                  ("volume_m3", "day_m3", "week_m3", "month_m3"))

    def num(key, name, k):
        return None if k is None else f.number(imp, key, name, k)

    return GasReading(
        device_id=device_id,
        timestamp=f.timestamp(body),
        import_kwh=num("cumulative", "import_kwh", k_e),
        volume_m3=num("cumulativevol", "volume_m3", k_v),
        import_day_kwh=num("day", "import_day_kwh", k_e),
        import_week_kwh=num("week", "import_week_kwh", k_e),
        import_month_kwh=num("month", "import_month_kwh", k_e),
        day_m3=num("dayvol", "day_m3", k_v),
        week_m3=num("weekvol", "week_m3", k_v),
        month_m3=num("monthvol", "month_m3", k_v),
        unit_rate=f.number(price, "unitrate", "unit_rate"),
        standing_charge=f.number(price, "standingcharge", "standing_charge"),
        mprn=f.text(imp, "mprn"),
        supplier=f.text(imp, "supplier"),
        missing=tuple(f.missing),
        problems=tuple(f.problems),
    )


def _state(device_id: str, body: dict) -> GlowState:
    han = _obj(body.get("han"))

    def text(obj, key):
        v = obj.get(key)
        return v if isinstance(v, str) else None

    def integer(obj, key):
        v = obj.get(key)
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    return GlowState(device_id, text(body, "software"), text(body, "hardware"),
                     text(body, "ethmac"), text(body, "smetsversion"), text(han, "status"),
                     integer(han, "rssi"), integer(han, "lqi"))


def parse_message(topic: str, payload) -> GlowMessage:
    """Decode one MQTT message. ``payload`` is the raw bytes/str, or an already parsed dict.

    Raises GlowTopicError / GlowPayloadError; a reading with missing fields is returned,
    not raised, with ``missing`` saying which.
    """
    device_id, kind = parse_topic(topic)
    if isinstance(payload, bytes | bytearray | str):
        try:
            payload = json.loads(payload, parse_float=Decimal)
        except (ValueError, RecursionError) as exc:
            raise GlowPayloadError(f"payload is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise GlowPayloadError(f"payload must be a JSON object, got {type(payload).__name__}")
    if kind == "state":
        return _state(device_id, payload)
    body = payload.get(kind)
    if not isinstance(body, dict):
        raise GlowPayloadError(f"payload has no {kind!r} object")
    return _electricity(device_id, body) if kind == "electricitymeter" else _gas(device_id, body)


def to_dict(message: GlowMessage) -> dict:
    """JSON-ready: Decimal -> float, datetime -> ISO 8601 with Z."""
    out: dict = {}
    for name in message.__slots__:
        value = getattr(message, name)
        if isinstance(value, Decimal):
            value = float(value)
        elif isinstance(value, datetime):
            value = value.isoformat().replace("+00:00", "Z")
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out


def describe(data: bytes) -> list[dict]:
    """``data`` is JSON text: {"topic", "payload"}, a list of those, or {"messages": [...]}.

    One dict per message; an undecodable message gives {"error", "message"}. Never raises.
    """
    try:
        doc = json.loads(data, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
        return [GlowPayloadError(f"input is not JSON: {exc}").to_dict()]
    if isinstance(doc, dict) and isinstance(doc.get("messages"), list):
        doc = doc["messages"]
    items = doc if isinstance(doc, list) else [doc]
    out = []
    for item in items:
        if not isinstance(item, dict) or "topic" not in item or "payload" not in item:
            out.append(GlowPayloadError("each message needs 'topic' and 'payload'").to_dict())
            continue
        try:
            d = to_dict(parse_message(item["topic"], item["payload"]))
        except GlowError as exc:
            d = exc.to_dict()
        d["topic"] = item["topic"] if isinstance(item["topic"], str) else None
        out.append(d)
    return out
