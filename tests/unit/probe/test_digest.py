"""BodyDigest: what is buffered for PDQ, however the body is cut into chunks."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from service.probe.digest import BodyDigest, Limits, pdq_of

LIMITS = Limits(max_bytes=16 * 1024 * 1024, max_ratio=100.0, max_pixels=10**8)


def generated(fmt: str) -> bytes:
    """Random pixels, encoded; nothing here is a real picture."""
    pixels = np.random.default_rng(7).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=fmt)
    return out.getvalue()


def digest_of(chunks: list[bytes]) -> BodyDigest:
    digest = BodyDigest({"sha256", "pdq"}, None, LIMITS)
    for chunk in chunks:
        digest.feed(chunk)
    return digest


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("first", [1, 2, 3])
def test_image_whose_first_bytes_arrive_alone_is_still_hashed_by_pdq(fmt: str, first: int) -> None:
    body = generated(fmt)
    digest = digest_of([body[:first], body[first : first + 1], body[first + 1 :]])
    image = digest.take_image()
    assert image == body
    assert pdq_of(image, LIMITS.max_pixels) == pdq_of(body, LIMITS.max_pixels) is not None
    assert digest.hexdigests()["sha256"] == hashlib.sha256(body).hexdigest()


def test_page_cut_into_single_bytes_buffers_nothing() -> None:
    page = b"<html><body>removed</body></html>"
    digest = digest_of([page[i : i + 1] for i in range(len(page))])
    assert digest.take_image() is None
