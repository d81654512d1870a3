"""Item 2: a small image of many pixels cannot exhaust memory.

Two generated 8000×5000 PNGs (about 100 KiB each) are re-checked 8 times in parallel by the
probe in a child process; its peak RSS stays under 300 MB (it was about 1.2 GB per decode),
and PDQ still recognises each image.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from service.probe.decodes import DecodeGate
from service.probe.digest import BodyLimit, decode_cost, pdq_of

ROOT = Path(__file__).resolve().parents[2]
LIMIT_MB = 300


def _large_png(path: Path, seed: int) -> None:
    img = Image.new("RGB", (8000, 5000), (20 + seed * 90, 40, 60))
    draw = ImageDraw.Draw(img)
    for i in range(40):
        colour = ((i * 37 + seed * 50) % 256, (i * 91) % 256, (i * 13 + seed * 99) % 256)
        draw.rectangle([i * 150, i * 90 + seed * 400, i * 150 + 900, i * 90 + 700], fill=colour)
        draw.ellipse([7000 - i * 160, i * 100, 7800 - i * 150, i * 100 + 500], fill=colour[::-1])
    img.save(path, "PNG")


@pytest.mark.timeout(300)  # image generation and 8 decodes on a shared 2-core machine
def test_parallel_checks_of_huge_pngs_stay_under_300_mb(tmp_path: Path) -> None:
    for seed in range(2):
        _large_png(tmp_path / f"{seed}.png", seed)
    sizes = [p.stat().st_size for p in sorted(tmp_path.glob("*.png"))]
    assert all(size < 300 * 1024 for size in sizes), sizes
    expected = [pdq_of(p.read_bytes(), 10**8)[0] for p in sorted(tmp_path.glob("*.png"))]  # type: ignore[index]
    child = subprocess.run(
        [sys.executable, "-m", "tests.security.decode_child", str(tmp_path), *expected],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout)
    print(f"peak RSS of 8 parallel checks of 8000x5000 PNGs: {result['peak_mb']:.0f} MB")
    assert [r["verdict"] for r in result["reports"]] == ["present"] * 8, result["reports"]
    assert result["peak_mb"] < LIMIT_MB


async def test_the_decode_gate_bounds_decodes_and_their_memory() -> None:
    gate = DecodeGate(concurrency=2, budget_bytes=100 * 1024 * 1024)
    with pytest.raises(BodyLimit):  # could never fit: refused, not queued forever
        async with gate.reserve(101 * 1024 * 1024):
            pass
    running: list[int] = []
    peak = {"count": 0, "bytes": 0}

    async def decode(cost: int) -> None:
        async with gate.reserve(cost):
            running.append(cost)
            peak["count"] = max(peak["count"], len(running))
            peak["bytes"] = max(peak["bytes"], sum(running))
            await asyncio.sleep(0)
            running.remove(cost)

    mib = 1024 * 1024
    await asyncio.gather(
        *(decode(cost) for cost in (60 * mib, 60 * mib, 10 * mib, 10 * mib, 10 * mib))
    )
    assert peak["count"] <= 2 and peak["bytes"] <= 100 * mib


def test_a_jpeg_is_costed_at_its_draft_size(tmp_path: Path) -> None:
    img = Image.new("RGB", (8000, 5000), (200, 10, 10))
    path = tmp_path / "big.jpg"
    img.save(path, "JPEG")
    assert decode_cost(path.read_bytes(), 10**8) == 1000 * 625 * 4  # decoded at 1/8 scale
    with pytest.raises(BodyLimit):
        decode_cost(path.read_bytes(), 39_999_999)
