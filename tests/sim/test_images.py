from __future__ import annotations

import hashlib

from service.sim.images import (
    content_bytes,
    decoy_bytes,
    hashes_of,
    media_type_of,
    pdq_distance,
    reencoded_bytes,
)
from service.sim.world import Content


def test_images_are_deterministic_and_in_the_asked_format() -> None:
    for fmt, mime in (("jpeg", "image/jpeg"), ("png", "image/png"), ("webp", "image/webp")):
        content = Content(seed=5, format=fmt)
        content_bytes.cache_clear()
        first = content_bytes(content)
        content_bytes.cache_clear()
        assert content_bytes(content) == first
        assert media_type_of(first) == mime


def test_hashes_are_exact_digests_and_a_256_bit_pdq() -> None:
    data = content_bytes(Content(seed=9))
    h = hashes_of(data)
    assert h.sha256 == hashlib.sha256(data).hexdigest()
    assert h.md5 == hashlib.md5(data).hexdigest()
    assert len(h.pdq) == 64 and h.pdq_quality >= 50


def test_reencoded_copy_is_near_in_pdq_and_different_in_sha256() -> None:
    for seed in range(6):
        content = Content(seed=seed, format="png")
        original, copy = hashes_of(content_bytes(content)), hashes_of(reencoded_bytes(content))
        assert original.sha256 != copy.sha256
        assert pdq_distance(original.pdq, copy.pdq) <= 31


def test_unrelated_images_are_far_apart() -> None:
    a = hashes_of(content_bytes(Content(seed=1)))
    b = hashes_of(content_bytes(Content(seed=2)))
    decoy = hashes_of(decoy_bytes(1))
    assert pdq_distance(a.pdq, b.pdq) > 60
    assert pdq_distance(a.pdq, decoy.pdq) > 60
