"""Label PDFs: the QR drawn in the PDF decodes (with jsQR, in Node) to the seal's code."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from meterhub.seals import labels
from meterhub.seals.custody import Where, install, issue
from tests.conftest import skip_or_fail

JSQR = Path(labels.__file__).with_name("static") / "seals" / "vendor" / "jsQR.js"
RECT = re.compile(rb"n ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) re f\*")


def decode_with_jsqr(pdf: bytes) -> str | None:
    """Rasterise the filled rectangles of a one-label page and hand them to jsQR."""
    node = shutil.which("node")
    if node is None:
        skip_or_fail("no node to run jsQR")
    rects = [tuple(float(v) for v in m.groups()) for m in RECT.finditer(pdf)]
    module = min(h for _x, _y, _w, h in rects)
    x0, y0 = min(r[0] for r in rects), min(r[1] for r in rects)
    top = max(r[1] + r[3] for r in rects)
    n = round((top - y0) / module)
    scale, border = 6, 4
    size = (n + 2 * border) * scale
    pixels = bytearray([255]) * (size * size * 4)
    for x, y, w, h in rects:
        col, row, width = round((x - x0) / module), round((top - y - h) / module), round(w / module)
        for r in range((row + border) * scale, (row + border + 1) * scale):
            for c in range((col + border) * scale, (col + border + width) * scale):
                i = (r * size + c) * 4
                pixels[i:i + 3] = b"\0\0\0"
    script = (f"const jsQR = require({json.dumps(str(JSQR))});"
              "const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "const data = new Uint8ClampedArray(Buffer.from(input.data, 'base64'));"
              "const found = jsQR(data, input.size, input.size);"
              "process.stdout.write(found ? found.data : '');")
    run = subprocess.run([node, "-e", script], input=json.dumps({"size": size, "data": base64.b64encode(pixels).decode()}),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout or None


def test_label_qr_decodes_to_the_code(batch, tech, storekeeper, meter):
    issue(["S000001"], tech, Where(storekeeper))
    seal = install("S000001", Where(tech), meter=meter, position="meter_cover")
    [label] = labels.labels_for([seal])
    assert (label.serial, label.target) == ("S000001", "E240101000001")
    pdf = labels.render([label], "roll", compress=False)
    assert b"(S000001) Tj" in pdf and b"(E240101000001) Tj" in pdf, "the serial in plain text too"
    assert decode_with_jsqr(pdf) == seal.code


@pytest.mark.parametrize(("count", "pages"), [(1, 1), (24, 1), (25, 2)])
def test_a4_sheet_holds_24_labels(count, pages):
    items = [labels.Label(f"S{n:06d}", "MS1:" + "A" * 140, "E1", "Meter cover", "2026-01-01") for n in range(count)]
    pdf = labels.render(items, "sheet", compress=False)
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= pages
    assert pdf.count(b"/Parent") == pages
