"""Decoding a checked image for PDQ logs nothing of its bytes, even with -vv (debug)."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from PIL import Image, PngImagePlugin, TiffImagePlugin

from service.logging_setup import configure_logging
from service.probe.digest import pdq_of

SENTINEL = "ZZ-SENTINEL-5b1d-never-log-me-ZZ"


def _pixels() -> Image.Image:
    """Random pixels: nothing here is a real picture."""
    return Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 80, 3), np.uint8))


def tiff_with_metadata() -> bytes:
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[270] = SENTINEL  # ImageDescription
    tags[305] = SENTINEL  # Software
    out = io.BytesIO()
    _pixels().save(out, format="TIFF", tiffinfo=tags)
    return out.getvalue()


def png_with_metadata() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SENTINEL)
    info.add_itxt("Description", SENTINEL, zip=True)
    out = io.BytesIO()
    _pixels().save(out, format="PNG", pnginfo=info)
    return out.getvalue()


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def debug_logs() -> Iterator[Records]:
    """Logging as `takedown -vv` sets it up, with every record reaching the root kept."""
    root, pil = logging.getLogger(), logging.getLogger("PIL")
    saved = (root.level, list(root.handlers), pil.level)
    records = Records()
    configure_logging(logging.DEBUG)
    root.addHandler(records)
    try:
        yield records
    finally:
        for handler in [h for h in root.handlers if h not in saved[1]]:
            root.removeHandler(handler)
        root.setLevel(saved[0])
        pil.setLevel(saved[2])


@pytest.mark.parametrize("image", [tiff_with_metadata, png_with_metadata])
def test_decoding_an_image_at_debug_level_logs_nothing_of_it(
    debug_logs: Records, image: Callable[[], bytes]
) -> None:
    data = image()
    debug_logs.records.clear()
    logging.getLogger("service.probe").debug("decoding")  # the capture does see debug records
    assert pdq_of(data, 10**8) is not None
    assert [r.getMessage() for r in debug_logs.records] == ["decoding"]
