"""Deterministic generated images (random pixels and shapes) and their hashes.

Nothing here is a real picture: every image is drawn from a seed. The hashes are what a
scanner would have submitted (sha256/sha1/md5 of the bytes, PDQ of the decoded pixels).
"""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pdqhash
from PIL import Image, ImageDraw, ImageFilter

from service.sim.world import Content

MEDIA_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


@dataclass(frozen=True)
class ImageHashes:
    """Exact and perceptual hashes of one encoded image."""

    sha256: str
    sha1: str
    md5: str
    pdq: str
    pdq_quality: int

    def as_report(self) -> dict[str, str]:
        return {"sha256": self.sha256, "pdq": self.pdq}


def draw(seed: int, width: int = 256, height: int = 256) -> Image.Image:
    """A smooth background with shapes (PDQ needs structure) plus a little pixel noise."""
    rng = random.Random(seed)
    img = Image.new("RGB", (width, height), _colour(rng))
    pen = ImageDraw.Draw(img)
    for _ in range(rng.randint(6, 14)):
        box = _box(rng, width, height)
        if rng.random() < 0.5:
            pen.ellipse(box, fill=_colour(rng))
        else:
            pen.rectangle(box, fill=_colour(rng))
    noise = np.random.default_rng(seed).integers(-12, 13, (height, width, 3))
    pixels = np.clip(np.asarray(img, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def encode(img: Image.Image, fmt: str, quality: int = 90) -> bytes:
    out = io.BytesIO()
    if fmt == "png":
        img.save(out, format="PNG")
    else:
        img.save(out, format=fmt.upper(), quality=quality)
    return out.getvalue()


@lru_cache(maxsize=512)
def content_bytes(content: Content) -> bytes:
    """The bytes a URL with this content serves (cached: contents are frozen)."""
    return encode(draw(content.seed, content.width, content.height), content.format)


@lru_cache(maxsize=256)
def reencoded_bytes(content: Content) -> bytes:
    """A resized, slightly blurred, re-encoded copy: new sha256, same PDQ neighbourhood."""
    img = draw(content.seed, content.width, content.height)
    smaller = img.resize((max(16, content.width * 4 // 5), max(16, content.height * 4 // 5)))
    smaller = smaller.filter(ImageFilter.GaussianBlur(0.6))
    fmt = "jpeg" if content.format != "jpeg" else "webp"
    return encode(smaller, fmt, quality=70)


def decoy_bytes(seed: int) -> bytes:
    """An unrelated image a cloaking hoster shows to crawlers."""
    return encode(draw(seed ^ 0x5EED, 200, 150), "jpeg")


def media_type_of(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as img:
        return Image.MIME.get(img.format or "", "application/octet-stream")


def pdq_of(data: bytes) -> tuple[str, int]:
    """PDQ hex (64 chars) and quality of encoded image bytes."""
    with Image.open(io.BytesIO(data)) as img:
        bits, quality = pdqhash.compute(np.asarray(img.convert("RGB")))
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return f"{value:064x}", int(quality)


@lru_cache(maxsize=1024)
def hashes_of(data: bytes) -> ImageHashes:
    pdq, quality = pdq_of(data)
    return ImageHashes(
        sha256=hashlib.sha256(data).hexdigest(),
        sha1=hashlib.sha1(data, usedforsecurity=False).hexdigest(),
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        pdq=pdq,
        pdq_quality=quality,
    )


def pdq_distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _box(rng: random.Random, width: int, height: int) -> tuple[int, int, int, int]:
    x0, y0 = rng.randrange(width), rng.randrange(height)
    w, h = rng.randint(width // 8, width // 2), rng.randint(height // 8, height // 2)
    return (x0 - w // 2, y0 - h // 2, x0 + w // 2, y0 + h // 2)
