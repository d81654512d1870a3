"""The scanner side of the sim: the reports a scanner would submit for a world's URLs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from service.sim.images import MEDIA_TYPES, content_bytes, hashes_of
from service.sim.world import World


def reports(
    world: World, detected_at: datetime | None = None, source: str = "sim-scanner"
) -> Iterator[dict[str, Any]]:
    """One report dict per URL: `url`, `hashes` (sha256, pdq), `media_type`,
    `detected_at` (ISO 8601, a second apart per URL), `source_ref`."""
    start = detected_at or datetime.now(UTC)
    for i, entry in enumerate(world.urls):
        content = world.contents[entry.content]
        hashes = hashes_of(content_bytes(content))
        yield {
            "url": entry.url,
            "hashes": hashes.as_report(),
            "media_type": MEDIA_TYPES[content.format],
            "detected_at": (start - timedelta(seconds=len(world.urls) - i)).isoformat(),
            "source_ref": f"{source}:{world.name}:{i:05d}",
        }
