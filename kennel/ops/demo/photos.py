"""Friendly drawn puppy portraits for the demo catalogue, made with Pillow at load time.

Each picture is drawn at twice its size and scaled down, which smooths the edges for free.
The same puppy always gets the same picture (the random markings are seeded by its slug).
"""

import io
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 640, 480
SCALE = 2
JPEG_QUALITY = 80

WHITE = "#fbf8f2"
EYE = "#1b1410"
NOSE = "#241a16"
TONGUE = "#e9808f"


@dataclass(frozen=True)
class Coat:
    head: str
    ears: str
    muzzle: str
    blaze: bool = False  # a white stripe from the forehead to the muzzle
    brows: str | None = None  # tan points above the eyes (tricolour, black and tan)
    merle: str | None = None  # colour of merle patches


COATS = {
    "Light golden": Coat(head="#e6bd78", ears="#d29f55", muzzle="#f3dcac"),
    "Golden": Coat(head="#d8983f", ears="#bd7d2b", muzzle="#ecc380"),
    "Dark golden": Coat(head="#b7732b", ears="#985b1e", muzzle="#d49a56"),
    "Cream": Coat(head="#f0dbb0", ears="#e0c088", muzzle="#f9eed6"),
    "Black and white": Coat(head="#2b2a2e", ears="#1f1e22", muzzle=WHITE, blaze=True),
    "Red and white": Coat(head="#9c4f2c", ears="#83401f", muzzle=WHITE, blaze=True),
    "Blue merle": Coat(head="#9aa3b0", ears="#5a6372", muzzle=WHITE, blaze=True, merle="#3f4654"),
    "Tricolour": Coat(head="#2b2a2e", ears="#1f1e22", muzzle=WHITE, blaze=True, brows="#c27c3c"),
    "Blenheim": Coat(head="#b6622c", ears="#9e5223", muzzle=WHITE, blaze=True),
    "Ruby": Coat(head="#a8471f", ears="#8f3b19", muzzle="#c56c3d"),
    "Black and tan": Coat(head="#28231f", ears="#1d1a18", muzzle="#b96a2f", brows="#b96a2f"),
}
DEFAULT_COAT = COATS["Golden"]

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/Library/Fonts/Arial Bold.ttf",
)


def puppy_portrait(
    *, name: str, breed: str, colour: str, background: str, seed: str, variant: int = 1
) -> bytes:
    """A 640x480 JPEG (about 15 to 25 KB) of a puppy's face with its name.

    Variant 1 looks straight at you; variant 2 tilts its head beside a ball.
    """
    w, h = WIDTH * SCALE, HEIGHT * SCALE
    coat = COATS.get(colour, DEFAULT_COAT)
    rng = random.Random(f"{seed}:{variant}")
    image = Image.new("RGB", (w, h), background)
    _backdrop(ImageDraw.Draw(image), background, variant, w, h)

    face = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    _face(ImageDraw.Draw(face), coat=coat, breed=breed, rng=rng, happy=variant == 2)
    if variant == 2:
        face = face.rotate(-9, resample=Image.Resampling.BICUBIC, center=(w // 2, h // 2))
        _ball(ImageDraw.Draw(image), x=int(w * 0.11), y=int(h * 0.8), r=int(h * 0.075))
    image.paste(face, (0, 0), face)

    _name_tag(ImageDraw.Draw(image), name, w, h)
    image = image.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return buffer.getvalue()


def _shade(colour: str, factor: float) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    if factor < 1:
        r, g, b = (int(c * factor) for c in (r, g, b))
    else:
        r, g, b = (int(c + (255 - c) * (factor - 1)) for c in (r, g, b))
    return f"#{r:02x}{g:02x}{b:02x}"


def _backdrop(draw: ImageDraw.ImageDraw, background: str, variant: int, w: int, h: int) -> None:
    light, dark = _shade(background, 1.35), _shade(background, 0.93)
    draw.ellipse((w * 0.18, h * 0.02, w * 0.82, h * 0.98), fill=light)
    # A scatter of paw prints, always in the same places.
    spots = [(0.09, 0.16), (0.9, 0.12), (0.07, 0.62), (0.93, 0.45), (0.16, 0.86)]
    if variant == 2:
        spots = [(0.1, 0.12), (0.9, 0.18), (0.92, 0.72), (0.09, 0.48)]
    for fx, fy in spots:
        _paw(draw, w * fx, h * fy, h * 0.03, dark)


def _paw(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, fill: str) -> None:
    draw.ellipse((x - r * 1.2, y - r * 0.4, x + r * 1.2, y + r * 1.5), fill=fill)
    for dx, dy in ((-1.35, -0.9), (-0.45, -1.55), (0.45, -1.55), (1.35, -0.9)):
        cx, cy = x + dx * r, y + dy * r
        draw.ellipse((cx - r * 0.45, cy - r * 0.55, cx + r * 0.45, cy + r * 0.55), fill=fill)


def _ball(draw: ImageDraw.ImageDraw, *, x: int, y: int, r: int) -> None:
    draw.ellipse((x - r, y - r, x + r, y + r), fill="#c9dc3a", outline="#9fb324", width=r // 8)
    seam = max(2, r // 9)
    draw.arc((x - 1.6 * r, y - r, x - 0.2 * r, y + r), -50, 50, fill=WHITE, width=seam)
    draw.arc((x + 0.2 * r, y - r, x + 1.6 * r, y + r), 130, 230, fill=WHITE, width=seam)


def _face(
    draw: ImageDraw.ImageDraw, *, coat: Coat, breed: str, rng: random.Random, happy: bool
) -> None:
    u = SCALE  # every coordinate below is on the 640x480 grid
    cx, cy = 320 * u, 215 * u

    _ears(draw, coat=coat, breed=breed, cx=cx, cy=cy, u=u)
    # Head, then markings clipped roughly to it.
    head = (cx - 135 * u, cy - 125 * u, cx + 135 * u, cy + 118 * u)
    draw.ellipse(head, fill=coat.head)
    if coat.merle:
        for _ in range(9):
            px = cx + rng.randint(-105, 105) * u
            py = cy + rng.randint(-100, 40) * u
            pr = rng.randint(12, 30) * u
            draw.ellipse((px - pr, py - pr * 0.8, px + pr, py + pr * 0.8), fill=coat.merle)
    if coat.blaze:
        draw.polygon(
            [
                (cx - 14 * u, cy - 108 * u),
                (cx + 14 * u, cy - 108 * u),
                (cx + 34 * u, cy + 10 * u),
                (cx - 34 * u, cy + 10 * u),
            ],
            fill=WHITE,
        )
    if coat.brows:
        for side in (-1, 1):
            bx = cx + side * 52 * u
            draw.ellipse((bx - 17 * u, cy - 58 * u, bx + 17 * u, cy - 36 * u), fill=coat.brows)
    # Muzzle and cheeks.
    draw.ellipse((cx - 88 * u, cy + 12 * u, cx + 88 * u, cy + 126 * u), fill=coat.muzzle)
    if coat.brows:
        for side in (-1, 1):
            mx = cx + side * 58 * u
            draw.ellipse((mx - 32 * u, cy + 30 * u, mx + 32 * u, cy + 90 * u), fill=coat.brows)
        draw.ellipse((cx - 62 * u, cy + 16 * u, cx + 62 * u, cy + 124 * u), fill=coat.muzzle)

    # Eyes: dark, with a light ring on dark coats so they still read, and a sparkle.
    for side in (-1, 1):
        ex, ey = cx + side * 52 * u, cy - 14 * u
        if _is_dark(coat.head):
            draw.ellipse((ex - 24 * u, ey - 24 * u, ex + 24 * u, ey + 24 * u), fill="#6b5a4c")
        draw.ellipse((ex - 19 * u, ey - 19 * u, ex + 19 * u, ey + 19 * u), fill=EYE)
        draw.ellipse((ex - 10 * u, ey - 12 * u, ex - 1 * u, ey - 3 * u), fill="#ffffff")
        draw.ellipse((ex + 5 * u, ey + 5 * u, ex + 9 * u, ey + 9 * u), fill="#ffffff")

    # Cheek blush.
    for side in (-1, 1):
        bx = cx + side * 92 * u
        draw.ellipse((bx - 18 * u, cy + 22 * u, bx + 18 * u, cy + 38 * u), fill="#f2a0a0")

    # Nose, mouth, tongue.
    ny = cy + 46 * u
    if happy:
        draw.ellipse((cx - 22 * u, ny + 40 * u, cx + 22 * u, ny + 92 * u), fill=TONGUE)
        draw.line((cx, ny + 50 * u, cx, ny + 80 * u), fill="#c85d6e", width=3 * u)
    draw.ellipse((cx - 30 * u, ny - 18 * u, cx + 30 * u, ny + 20 * u), fill=NOSE)
    draw.ellipse((cx - 14 * u, ny - 12 * u, cx + 2 * u, ny - 4 * u), fill="#5c4c46")
    draw.line((cx, ny + 18 * u, cx, ny + 40 * u), fill=NOSE, width=5 * u)
    for side in (-1, 1):
        mx = cx + side * 22 * u
        draw.arc(
            (mx - 22 * u, ny + 18 * u, mx + 22 * u, ny + 58 * u), 10, 170, fill=NOSE, width=5 * u
        )


def _ears(draw: ImageDraw.ImageDraw, *, coat: Coat, breed: str, cx: int, cy: int, u: int) -> None:
    if "Collie" in breed:
        # Semi-erect ears whose tips fold forward.
        for side in (-1, 1):
            base = cx + side * 95 * u
            tip = (cx + side * 150 * u, cy - 170 * u)
            draw.polygon(
                [(base - 55 * u, cy - 60 * u), (base + 55 * u, cy - 95 * u), tip], fill=coat.ears
            )
            fold = (cx + side * 128 * u, cy - 112 * u)
            draw.polygon([fold, tip, (cx + side * 160 * u, cy - 110 * u)], fill=coat.head)
        return
    if "Cavalier" in breed:
        # Long, feathered ears down to the jaw.
        for side in (-1, 1):
            ex = cx + side * 140 * u
            draw.ellipse((ex - 62 * u, cy - 90 * u, ex + 62 * u, cy + 150 * u), fill=coat.ears)
            for k in range(4):
                fx = ex + (k - 1.5) * 28 * u
                draw.ellipse((fx - 20 * u, cy + 120 * u, fx + 20 * u, cy + 168 * u), fill=coat.ears)
        return
    # Retriever: soft, rounded drop ears.
    for side in (-1, 1):
        ex = cx + side * 132 * u
        draw.ellipse((ex - 52 * u, cy - 85 * u, ex + 52 * u, cy + 95 * u), fill=coat.ears)


def _is_dark(colour: str) -> bool:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b < 90


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size=size)


def _name_tag(draw: ImageDraw.ImageDraw, name: str, w: int, h: int) -> None:
    font = _font(34 * SCALE)
    left, top, right, bottom = draw.textbbox((0, 0), name, font=font)
    tw, th = right - left, bottom - top
    pad_x, pad_y = 26 * SCALE, 12 * SCALE
    x0 = (w - tw) // 2 - pad_x
    y0 = h - th - 2 * pad_y - 22 * SCALE
    box = (x0, y0, x0 + tw + 2 * pad_x, y0 + th + 2 * pad_y)
    draw.rounded_rectangle(
        box, radius=(th + 2 * pad_y) // 2, fill="#fffaf2", outline="#3a2a1e", width=3 * SCALE
    )
    draw.text((x0 + pad_x - left, y0 + pad_y - top), name, font=font, fill="#3a2a1e")
