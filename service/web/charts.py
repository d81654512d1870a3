"""Charts drawn on the server as inline SVG (no JavaScript, no external files).

Every label comes from data others can write (hoster names from RDAP), so every text is
escaped. Times are shown in hours below three days, else in days.
"""

from __future__ import annotations

from datetime import date, timedelta
from html import escape

WIDTH, HEIGHT, PAD = 640, 260, 40


def human(value: timedelta | None) -> str:
    if value is None:
        return "—"
    hours = value.total_seconds() / 3600
    if hours < 1:
        return f"{value.total_seconds() / 60:.0f} min"
    return f"{hours:.1f} h" if hours < 72 else f"{hours / 24:.1f} d"


def _frame(title: str, body: str, height: int = HEIGHT) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" class="chart"><title>{escape(title)}</title>'
        f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>{body}</svg>'
    )


def survival(points: list[tuple[timedelta, float]], title: str) -> str:
    """Share still online (y, 100 % → 0 %) over time since the notice (x): a step curve."""
    if len(points) < 2:
        return _frame(title, _text(WIDTH / 2, HEIGHT / 2, "no removals yet", "middle"))
    span = max(t.total_seconds() for t, _ in points) or 1.0
    x = lambda t: PAD + (WIDTH - 2 * PAD) * t.total_seconds() / span  # noqa: E731
    y = lambda s: PAD / 2 + (HEIGHT - 1.5 * PAD) * (1 - s)  # noqa: E731
    path, previous = [f"M{x(points[0][0]):.1f},{y(points[0][1]):.1f}"], points[0][1]
    for when, share in points[1:]:
        path.append(f"H{x(when):.1f}V{y(share):.1f}")
        previous = share
    path.append(f"H{WIDTH - PAD:.1f}")
    axes = _axes() + _text(PAD - 4, y(1.0) + 4, "100%", "end") + _text(PAD - 4, y(0.0), "0%", "end")
    axes += _text(WIDTH - PAD, HEIGHT - 6, human(timedelta(seconds=span)), "end")
    axes += _text(PAD, HEIGHT - 6, "0", "start")
    curve = f'<path d="{"".join(path)}" fill="none" stroke="#b3261e" stroke-width="2"/>'
    label = _text(WIDTH - PAD, y(previous) - 6, f"{previous:.0%} still online", "end")
    return _frame(title, axes + curve + label)


def removals_per_day(days: list[tuple[date, int]], title: str) -> str:
    if not days:
        return _frame(title, _text(WIDTH / 2, HEIGHT / 2, "no removals yet", "middle"))
    top = max(count for _, count in days) or 1
    slot = (WIDTH - 2 * PAD) / len(days)
    bars = []
    for i, (day, count) in enumerate(days):
        h = (HEIGHT - 1.5 * PAD) * count / top
        x, y = PAD + i * slot, HEIGHT - PAD - h
        bars.append(
            f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(slot - 2, 1):.1f}" height="{h:.1f}" '
            f'fill="#1d6fb8"><title>{day.isoformat()}: {count}</title></rect>'
        )
    labels = _text(PAD, HEIGHT - 6, days[0][0].isoformat(), "start")
    labels += _text(WIDTH - PAD, HEIGHT - 6, days[-1][0].isoformat(), "end")
    labels += _text(PAD - 4, PAD / 2 + 4, str(top), "end")
    return _frame(title, _axes() + "".join(bars) + labels)


def slow_hosters(rows: list[tuple[str, timedelta | None, int]], title: str) -> str:
    """Horizontal bars: median time to removal per hoster; 'never' (no median) is full red."""
    rows = rows[:10]
    if not rows:
        return _frame(title, _text(WIDTH / 2, HEIGHT / 2, "no hosters yet", "middle"))
    known = [m.total_seconds() for _, m, _ in rows if m is not None]
    scale, left, row_h = max(known, default=1.0) or 1.0, 200, 22
    height = PAD + row_h * len(rows)
    out = []
    for i, (name, median, items) in enumerate(rows):
        y = PAD / 2 + i * row_h
        share = 1.0 if median is None else median.total_seconds() / scale
        w = (WIDTH - left - 130) * share  # room on the right for the value label
        color = "#b3261e" if median is None else "#e8a33d"
        out.append(_text(left - 6, y + 14, _shorten(name, 26), "end"))
        out.append(
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{color}"/>'
        )
        value = "under half removed" if median is None else human(median)
        out.append(_text(left + w + 4, y + 14, f"{value} ({items})", "start"))
    return _frame(title, "".join(out), height)


def _shorten(name: str, limit: int) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _axes() -> str:
    return (
        f'<line x1="{PAD}" y1="{PAD / 2}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#444"/>'
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="#444"/>'
    )


def _text(x: float, y: float, text: str, anchor: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="12" font-family="sans-serif" '
        f'text-anchor="{anchor}">{escape(text)}</text>'
    )
