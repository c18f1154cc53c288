#!/usr/bin/env python
"""Fuzz the DL/T 645 stream parser (and the frame/message parsers behind it).

    .venv/bin/python bench/fuzz_dlt645.py --seconds 60            # atheris if installed
    .venv/bin/python bench/fuzz_dlt645.py --seconds 60 --engine random

The property: on any bytes, chunked any way, the codec yields Frames and
`Dlt645Error` instances and raises nothing else. Every frame found is also pushed
through parse() (both editions) and describe_frame(), and the raw input through
decode_frame() and decode(); there too only a `Dlt645Error` may come out.
Prints one JSON report; exit status 1 if anything else was raised.

Engines: `atheris` (coverage-guided libFuzzer; `pip install atheris`, not a
project dependency) or `random` (mutations seeded from the shared frames.json
and from frames our builders make). `auto` picks atheris when importable.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATS: Counter = Counter()
FAILURES: list[dict] = []


def _seeds() -> list[bytes]:
    from meterhub.protocols.dlt645 import (
        AddressReply,
        BroadcastTime,
        ErrorReply,
        Read,
        ReadReply,
        RelayAction,
        RelayControl,
        Write,
    )

    seeds = []
    base = Path(os.environ.get("METERHUB_TESTDATA", REPO.parent / "shared" / "testdata"))
    try:
        doc = json.loads((base / "dlt645" / "frames.json").read_text())
        seeds += [bytes.fromhex(f["hex"]) for f in doc["frames"]]
    except (OSError, ValueError, KeyError):
        print("note: frames.json not found; seeding from built frames only", file=sys.stderr)
    a = "123456789012"
    t = datetime(2025, 12, 31, 23, 59, 59)
    seeds += [
        Read(a, 0x0001FF00).encode(4),
        ReadReply.of(a, 0x04000503, 0x50).encode(),
        ReadReply.of(a, 0x0201FF00, {"02010100": "220.1", "02010200": "221.0"}).encode(),
        ReadReply(a, 0x03300D01, bytes(60), True).encode(),
        ReadReply(a, 0x04FE0001, bytes(15), seq=3).encode(),
        ErrorReply(a, 0x1C, 0x04).encode(),
        AddressReply(a).encode(),
        BroadcastTime(t).encode(),
        RelayControl(a, RelayAction.TRIP, t, 2, "123456").encode(),
        Write(a, 0xC032, b"\x01\x02", version="1997").encode(),
    ]
    return seeds


def _check(data: bytes, cuts: list[int]) -> None:
    """The property. Raises AssertionError or the untyped exception on failure."""
    from meterhub.protocols.dlt645 import (
        Dlt645Error,
        Frame,
        StreamParser,
        decode,
        decode_frame,
        describe_frame,
        parse,
    )

    p = StreamParser()
    events = []
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for lo, hi in zip(points, points[1:], strict=False):
        p.feed(data[lo:hi])
        events.extend(p)
    p.feed(b"")
    events.extend(p)
    for ev in events:
        if isinstance(ev, Frame):
            STATS["frames"] += 1
            for version in ("2007", "1997"):
                try:
                    parse(ev, version)
                    STATS["parsed"] += 1
                except Dlt645Error as exc:
                    STATS[f"parse:{exc.kind}"] += 1
                describe_frame(ev, version)
        elif isinstance(ev, Dlt645Error):
            STATS[f"event:{ev.kind}"] += 1
        else:
            raise AssertionError(f"stream parser yielded {type(ev).__name__}")
    try:
        decode_frame(data)
    except Dlt645Error as exc:
        STATS[f"decode_frame:{exc.kind}"] += 1
    for version in ("2007", "1997"):  # the one-call fast path, straight on the bytes
        try:
            decode(data, version)
        except Dlt645Error as exc:
            STATS[f"decode:{exc.kind}"] += 1


def _record_failure(data: bytes, exc: BaseException) -> None:
    FAILURES.append({
        "input": data.hex(),
        "exception": f"{type(exc).__name__}: {exc}",
        "traceback": traceback.format_exc(limit=6),
    })


def _mutate(rng: random.Random, seeds: list[bytes]) -> bytes:
    data = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(0, 6)):
        op = rng.randrange(8)
        if op == 0 and data:  # flip a bit
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1 and data:  # replace a byte, often with a framing byte
            data[rng.randrange(len(data))] = rng.choice((0x68, 0x16, 0xFE, 0xFF, 0x33, 0x00,
                                                         rng.randrange(256)))
        elif op == 2:  # insert noise
            i = rng.randrange(len(data) + 1)
            data[i:i] = rng.randbytes(rng.randint(1, 12))
        elif op == 3 and data:  # delete a run
            i = rng.randrange(len(data))
            del data[i : i + rng.randint(1, 8)]
        elif op == 4:  # splice another frame in
            other = rng.choice(seeds)
            i = rng.randrange(len(data) + 1)
            data[i:i] = other[: rng.randint(0, len(other))]
        elif op == 5:  # lie about the length byte (after 0 or 4 FE)
            at = data.find(0x68)
            if 0 <= at and at + 9 < len(data):
                data[at + 9] = rng.randrange(256)
        elif op == 6:  # pure noise
            data += rng.randbytes(rng.randint(0, 64))
        elif op == 7 and data:  # duplicate
            data.extend(bytes(data))
    return bytes(data[:4096])


def run_random(seconds: float, seed: int) -> None:
    rng = random.Random(seed)
    seeds = _seeds()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for _ in range(200):
            data = _mutate(rng, seeds)
            cuts = [rng.randrange(len(data) + 1) for _ in range(rng.randint(0, 5))]
            STATS["inputs"] += 1
            try:
                _check(data, cuts)
            except Exception as exc:  # noqa: BLE001 - anything here is a finding
                _record_failure(data, exc)


def run_atheris(seconds: float) -> None:
    import atheris

    with atheris.instrument_imports():
        import meterhub.protocols.dlt645  # noqa: F401
    corpus = tempfile.mkdtemp(prefix="dlt645-corpus-")
    for i, s in enumerate(_seeds()):
        Path(corpus, f"seed{i}").write_bytes(s)
    deadline = time.monotonic() + seconds

    def one(data: bytes) -> None:
        if time.monotonic() >= deadline:
            report("atheris", seconds)
            os._exit(1 if FAILURES else 0)
        fdp = atheris.FuzzedDataProvider(data)
        cuts = fdp.ConsumeIntListInRange(fdp.ConsumeIntInRange(0, 4), 0, 4096)
        blob = fdp.ConsumeBytes(fdp.remaining_bytes())
        STATS["inputs"] += 1
        try:
            _check(blob, cuts)
        except Exception as exc:
            _record_failure(blob, exc)
            report("atheris", seconds)
            raise  # let libFuzzer save the crashing input

    atheris.Setup([sys.argv[0], corpus, f"-max_total_time={int(seconds) + 30}",
                   "-max_len=4096", "-print_final_stats=0"], one)
    atheris.Fuzz()


def report(engine: str, seconds: float) -> None:
    out = {
        "engine": engine,
        "seconds": seconds,
        "inputs": STATS["inputs"],
        "inputs_per_s": round(STATS["inputs"] / seconds) if seconds else None,
        "frames_found": STATS["frames"],
        "typed_errors": {k: v for k, v in sorted(STATS.items()) if ":" in k},
        "untyped_exceptions": len(FAILURES),
        "failures": FAILURES[:5],
    }
    print(json.dumps(out, indent=2), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--engine", choices=("auto", "atheris", "random"), default="auto")
    ap.add_argument("--seed", type=int, default=645)
    args = ap.parse_args()
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401

            engine = "atheris"
        except ImportError:
            engine = "random"
    print(f"fuzzing the DL/T 645 stream parser with {engine} for {args.seconds:g} s",
          file=sys.stderr)
    if engine == "atheris":
        run_atheris(args.seconds)  # exits by itself
    run_random(args.seconds, args.seed)
    report("random", args.seconds)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
