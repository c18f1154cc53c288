"""Seal labels as PDF: the signed code as a QR, the seal number in plain text beside it.

Two layouts: "sheet" (A4, 3 x 8 labels of 70 x 37 mm, for office printers and label
sheets) and "roll" (one 50 x 30 mm label per page, for a thermal label printer).
The QR is drawn from segno's module matrix as vector squares, so it prints sharp at
any size. Codes are alphanumeric (Base45), which keeps the QR small.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas


@dataclass(frozen=True)
class Label:
    serial: str
    code: str
    target: str  # meter number or collector code
    position: str  # human-readable
    issued: str  # YYYY-MM-DD


@dataclass(frozen=True)
class Layout:
    page: tuple[float, float]
    label: tuple[float, float]
    columns: int
    rows: int
    margin: tuple[float, float]  # left, top


LAYOUTS = {
    "sheet": Layout(A4, (70 * mm, 37 * mm), 3, 8, (0 * mm, 0.5 * mm)),
    "roll": Layout((50 * mm, 30 * mm), (50 * mm, 30 * mm), 1, 1, (0, 0)),
}


def qr_matrix(code: str) -> list[bytearray]:
    return [bytearray(row) for row in segno.make(code, error="m", micro=False).matrix]


def _draw_qr(pdf: canvas.Canvas, code: str, x: float, y: float, size: float) -> None:
    matrix = qr_matrix(code)
    quiet = 2
    module = size / (len(matrix) + 2 * quiet)
    pdf.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(matrix):
        top = y + size - (r + quiet + 1) * module
        c = 0
        while c < len(row):  # one rectangle per run of dark modules: a smaller file
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                pdf.rect(x + (start + quiet) * module, top, (c - start) * module, module, stroke=0, fill=1)
            else:
                c += 1


def _draw_label(pdf: canvas.Canvas, label: Label, x: float, y: float, w: float, h: float) -> None:
    pad = 1.5 * mm
    size = h - 2 * pad
    _draw_qr(pdf, label.code, x + pad, y + pad, size)
    tx = x + pad + size + 1.5 * mm
    pdf.setFont("Helvetica-Bold", 11 if w > 55 * mm else 9)
    pdf.drawString(tx, y + h - pad - 4 * mm, label.serial)
    pdf.setFont("Helvetica", 7)
    lines = [label.target, label.position, label.issued]
    for i, text in enumerate(lines):
        pdf.drawString(tx, y + h - pad - 9 * mm - i * 3.5 * mm, text[:24])


def render(labels: list[Label], layout: str = "sheet", *, compress: bool = True) -> bytes:
    spec = LAYOUTS[layout]
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=spec.page, pageCompression=int(compress))
    pdf.setTitle("meterhub seal labels")
    pdf.setCreator("meterhub")
    per_page = spec.columns * spec.rows
    page_w, page_h = spec.page
    for i, label in enumerate(labels):
        if i and i % per_page == 0:
            pdf.showPage()
        slot = i % per_page
        col, row = slot % spec.columns, slot // spec.columns
        x = spec.margin[0] + col * spec.label[0]
        y = page_h - spec.margin[1] - (row + 1) * spec.label[1]
        _draw_label(pdf, label, x, y, *spec.label)
    if not labels:
        pdf.drawString(20 * mm, page_h - 20 * mm, "no labels")
    pdf.save()
    return out.getvalue()


def labels_for(seals) -> list[Label]:
    """Labels of installed seals (a seal gets its code when it is installed)."""
    from meterhub.seals.seal_code import parse

    out = []
    for seal in seals:
        if not seal.code:
            continue
        code = parse(seal.code)[0]
        out.append(Label(seal.serial, seal.code, code.meter, str(seal.get_position_display()),
                         code.issued.isoformat()))
    return out
