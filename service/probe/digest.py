"""Stream a response body through hash functions (and a bounded in-memory image buffer).

The bytes are never kept beyond what PDQ needs to decode one image in memory, never
written anywhere, and dropped as soon as the hashes are known. Compressed bodies are
inflated incrementally with a ratio cap, so a gzip bomb costs a few megabytes at most.
"""

from __future__ import annotations

import hashlib
import io
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pdqhash
from PIL import Image

from service.domain.verdicts import EXACT_ALGORITHMS, Failure
from service.errors import TakedownError

_INFLATE_STEP = 256 * 1024
_RATIO_FLOOR = 1024 * 1024  # tiny bodies may compress extremely well; judge ratios above 1 MiB
# The named constructors: cheaper than hashlib.new(name) for every fetch.
_CONSTRUCTORS = {"sha256": hashlib.sha256, "sha1": hashlib.sha1, "md5": hashlib.md5}
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"BM", b"II*\x00", b"MM\x00*")
# A body may arrive a byte at a time: the type is judged once this many bytes are in.
_SNIFF_BYTES = max(len(magic) for magic in _IMAGE_MAGIC)


class BodyLimit(TakedownError):
    """A limit was hit while reading the body; carries the verdict failure kind."""

    def __init__(self, failure: Failure, message: str) -> None:
        super().__init__(message)
        self.failure = failure


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_ratio: float
    max_pixels: int


class _Inflater:
    """Incremental gzip/deflate decoding with output bounded per step and a ratio cap."""

    def __init__(self, encoding: str, limits: Limits) -> None:
        # 47 = auto-detect gzip or zlib header; raw deflate is tried when that fails.
        self._z = zlib.decompressobj(47 if encoding == "gzip" else 15)
        self._raw_fallback = encoding == "deflate"
        self._limits = limits
        self.compressed = 0
        self.inflated = 0

    def feed(self, data: bytes) -> list[bytes]:
        self.compressed += len(data)
        out: list[bytes] = []
        while data:
            piece = self._inflate(data)
            data = self._z.unconsumed_tail
            self.inflated += len(piece)
            self._check_ratio()
            out.append(piece)
        return out

    def _inflate(self, data: bytes) -> bytes:
        try:
            return self._z.decompress(data, _INFLATE_STEP)
        except zlib.error as exc:
            if not (self._raw_fallback and self.inflated == 0):
                raise BodyLimit(Failure.DECOMPRESSION, "corrupt compressed body") from exc
        # "deflate" sent as raw deflate (no zlib header), as some servers do.
        self._raw_fallback = False
        self._z = zlib.decompressobj(-15)
        try:
            return self._z.decompress(data, _INFLATE_STEP)
        except zlib.error as exc:
            # Neither form: a zlib.error would escape the fetch and crash the probe job.
            raise BodyLimit(Failure.DECOMPRESSION, "corrupt compressed body") from exc

    def _check_ratio(self) -> None:
        if self.inflated > self._limits.max_bytes:
            raise BodyLimit(Failure.TOO_LARGE, "decoded body exceeds the byte limit")
        if self.inflated > max(_RATIO_FLOOR, self._limits.max_ratio * self.compressed):
            raise BodyLimit(Failure.DECOMPRESSION, "decompression ratio exceeds the cap")


class BodyDigest:
    """Feeds every chunk to the requested hashes; buffers image bytes only if PDQ is wanted."""

    def __init__(
        self,
        algorithms: set[str],
        encoding: str | None,
        limits: Limits,
        tap: Callable[[bytes], None] | None = None,
    ) -> None:
        self._tap = tap  # sees each decoded piece in passing (the login-form sniffer)
        self._hashes = {
            name: _CONSTRUCTORS[name](usedforsecurity=False)
            for name in EXACT_ALGORITHMS
            if name in algorithms
        }
        self._want_pdq = "pdq" in algorithms
        self._image: bytearray | None = None
        # The body's first bytes, kept until the image type can be told from them.
        self._head: bytearray | None = bytearray() if self._want_pdq else None
        self._limits = limits
        self._inflater = _Inflater(encoding, limits) if encoding in ("gzip", "deflate") else None
        self.raw_bytes = 0
        self.body_bytes = 0

    def feed(self, chunk: bytes) -> None:
        self.raw_bytes += len(chunk)
        if self.raw_bytes > self._limits.max_bytes:
            raise BodyLimit(Failure.TOO_LARGE, "body exceeds the byte limit")
        if self._inflater is None:
            self._update(chunk)
            return
        for piece in self._inflater.feed(chunk):
            self._update(piece)

    def _update(self, piece: bytes) -> None:
        self.body_bytes += len(piece)
        for h in self._hashes.values():
            h.update(piece)
        if self._tap is not None:
            self._tap(piece)
        if self._image is not None:
            self._image.extend(piece)
        elif self._head is not None:
            self._head.extend(piece)
            if len(self._head) >= _SNIFF_BYTES:
                self._sniff()

    def _sniff(self) -> None:
        """Keep buffering as an image if the first bytes say so; otherwise drop them."""
        head, self._head = self._head, None
        if head is not None and head.startswith(_IMAGE_MAGIC):
            self._image = head

    def hexdigests(self) -> dict[str, str]:
        return {name: h.hexdigest() for name, h in self._hashes.items()}

    def take_image(self) -> bytes | None:
        """The buffered image bytes, handed over once (the digest forgets them)."""
        self._sniff()  # a body shorter than the longest signature is judged as it is
        image, self._image = self._image, None
        return bytes(image) if image else None


# PDQ reads a 64×64 luminance grid of the image; Meta's reference hasher first scales photos
# down to at most 512×512. Decoding more than that only costs memory: a 113 KiB PNG of
# 8000×5000 pixels took about 1.2 GB through PDQ at full size.
PDQ_SIDE = 512
_ONE_BYTE_MODES = frozenset({"1", "L", "P"})


def decode_cost(data: bytes, max_pixels: int) -> int | None:
    """Bytes the decode of this image needs at most (from its header); None if not an image.

    Raises BodyLimit when it has more pixels than allowed. JPEG is costed at the reduced
    size its decoder can produce directly (draft: 1/2, 1/4 or 1/8 scale).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as img:
                _check_pixels(img, max_pixels)
                img.draft("RGB", (PDQ_SIDE, PDQ_SIDE))
                return img.width * img.height * (1 if img.mode in _ONE_BYTE_MODES else 4)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise BodyLimit(Failure.TOO_MANY_PIXELS, "image has too many pixels") from exc
        except (OSError, ValueError, SyntaxError):
            return None


def pdq_of(data: bytes, max_pixels: int) -> tuple[str, int] | None:
    """PDQ hex and quality of an encoded image decoded in memory; None if not decodable.

    Raises BodyLimit when the image has more pixels than allowed (checked from the header,
    before any pixel is decoded). A large image is reduced while decoding (JPEG: draft) or
    right after (others: reduce, then a thumbnail of PDQ_SIDE), so PDQ itself works on at most
    PDQ_SIDE² pixels. Pillow's own `Image.MAX_IMAGE_PIXELS` check stays on as a second line;
    it is not set from our settings because it is process-global.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as img:
                _check_pixels(img, max_pixels)
                img.draft("RGB", (PDQ_SIDE, PDQ_SIDE))  # JPEG: decode at 1/2..1/8 scale
                img.thumbnail((PDQ_SIDE, PDQ_SIDE))  # others: reduce, then resample
                bits, quality = pdqhash.compute(np.asarray(img.convert("RGB")))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise BodyLimit(Failure.TOO_MANY_PIXELS, "image has too many pixels") from exc
        except (OSError, ValueError, SyntaxError):
            return None
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex(), int(quality)


def _check_pixels(img: Image.Image, max_pixels: int) -> None:
    if img.width * img.height > max_pixels:
        raise BodyLimit(Failure.TOO_MANY_PIXELS, "image has too many pixels")
