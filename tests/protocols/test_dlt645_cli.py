"""`meterhub decode` for DL/T 645 and `meterhub bench codec`'s shape (no timing
assertions: figures depend on the machine)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from meterhub.cli.bench import bench
from meterhub.cli.decode import decode
from meterhub.protocols.dlt645 import Read, ReadReply

A = "123456789012"
READ_HEX = "FE FE FE FE 68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 16"


def run(*args, input=None):
    result = CliRunner().invoke(decode, list(args), input=input)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_decode_hex_argument():
    (d,) = run("dlt645", READ_HEX)
    assert d["function"] == "read" and d["di"] == "00010000" and d["address"] == A


def test_decode_json_forms():
    assert run("dlt645", json.dumps(READ_HEX))[0]["di"] == "00010000"
    assert len(run("dlt645", json.dumps([READ_HEX, READ_HEX]))) == 2
    assert run("dlt645", json.dumps({"hex": READ_HEX}))[0]["control"] == "11"


def test_decode_1997_and_stdin():
    (d,) = run("dlt645-1997", input="68 12 90 78 56 34 12 68 81 06 43 C3 9A 78 56 34 AF 16\n")
    assert d["di"] == "9010" and d["value"] == "12345.67" and d["unit"] == "kWh"


def test_decode_stream_binary_with_noise(tmp_path):
    good = ReadReply.of(A, 0x02010100, "220.1").encode()
    bad = bytearray(good)
    bad[-2] ^= 1
    capture = tmp_path / "cap.bin"
    capture.write_bytes(b"\x00garbage" + Read(A, 0x02010100).encode(4) + bytes(bad) + good + good[:5])
    out = run("dlt645", "--stream", str(capture))
    kinds = [d.get("error") or d["function"] for d in out]
    assert kinds == ["noise", "read", "checksum", "read", "noise"]
    assert out[3]["value"] == "220.1"


def test_decode_stream_hex_text(tmp_path):
    capture = tmp_path / "cap.txt"
    capture.write_text(f"# a capture\n{READ_HEX}\n{READ_HEX.lower()}\n")
    out = run("dlt645", "--stream", str(capture))
    assert [d["function"] for d in out] == ["read", "read"]


def test_decode_rejects_bad_input():
    r = CliRunner().invoke(decode, ["dlt645", "68 1"])
    assert r.exit_code == 2
    r = CliRunner().invoke(decode, ["dlt645", "zz"])
    assert r.exit_code == 2
    r = CliRunner().invoke(decode, ["nonsense", "00"])
    assert r.exit_code == 2


def test_bench_codec_prints_one_json_object():
    r = CliRunner().invoke(bench, ["codec", "--seconds", "0.05"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert {"dlt645_frames_per_s", "dlt645_peer_frames_per_s", "dlt645_ratio"} <= set(doc)
    assert doc["dlt645_frames_per_s"] > 0
