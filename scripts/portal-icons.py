#!/usr/bin/env python3
"""Draw the customer portal's app icons (a meter dial on the brand green) with Pillow.

    .venv/bin/python scripts/portal-icons.py

writes src/meterhub/portal/static/portal/icon-{192,512}.png. The dial stays inside the
central 80% so the icons are "maskable" (a phone may crop them to a circle)."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

GREEN, WHITE, AMBER = (11, 110, 79), (255, 255, 255), (255, 196, 61)
OUT = Path(__file__).resolve().parent.parent / "src/meterhub/portal/static/portal"


def icon(size: int) -> Image.Image:
    scale = 4  # draw big, shrink: smooth edges without antialiasing support in ImageDraw
    big = size * scale
    image = Image.new("RGB", (big, big), GREEN)
    draw = ImageDraw.Draw(image)
    centre, radius, width = big / 2, big * 0.29, int(big * 0.06)
    box = [centre - radius, centre - radius * 0.85, centre + radius, centre + radius * 1.15]
    draw.arc(box, start=150, end=390, fill=WHITE, width=width)  # the dial, open at the bottom
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    for angle in (150, 210, 270, 330, 390):  # scale marks
        a = math.radians(angle)
        inner, outer = radius * 0.62, radius * 0.78
        draw.line([cx + inner * math.cos(a), cy + inner * math.sin(a), cx + outer * math.cos(a),
                   cy + outer * math.sin(a)], fill=WHITE, width=int(width * 0.45))
    needle = math.radians(300)
    draw.line([cx, cy, cx + radius * 0.7 * math.cos(needle), cy + radius * 0.7 * math.sin(needle)], fill=AMBER,
              width=int(width * 0.7))
    hub = width * 0.9
    draw.ellipse([cx - hub, cy - hub, cx + hub, cy + hub], fill=AMBER)
    return image.resize((size, size), Image.LANCZOS)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        icon(size).save(OUT / f"icon-{size}.png", optimize=True)
        print(OUT / f"icon-{size}.png")
