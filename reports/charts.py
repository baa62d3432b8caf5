"""Server-rendered SVG charts (no script, no CDN): a line chart and a stacked bar chart
with axis labels and a legend. The markup is built here with every text escaped and
only presentation attributes (no inline style, so the page's CSP holds); it scales
with its box (viewBox) and is sized for a phone's width and for print."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

WIDTH, HEIGHT = 520, 260
LEFT, RIGHT, TOP, BOTTOM = 70, 12, 14, 58
PALETTE = ("#1d4ed8", "#b45309", "#047857", "#b91c1c", "#6d28d9", "#0e7490", "#be185d", "#4b5563")
MAX_X_LABELS = 6


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _chart_id(title: str) -> str:
    return f"chart-{slugify(title) or 'figures'}"


def _description(title: str, x_labels: Sequence[str], series: Sequence[Series]) -> str:
    span = f"{x_labels[0]} to {x_labels[-1]}" if len(x_labels) > 1 else (x_labels[0] if x_labels else "no period")
    names = ", ".join(s.label for s in series)
    periods = f"{len(x_labels)} period{'' if len(x_labels) == 1 else 's'}"
    return f"{title}: {periods} ({span}) of {names}. The figures are in the table after the chart."


def _frame(
    title: str,
    x_labels: Sequence[str],
    top: float,
    fmt: Callable[[float], str],
    bottom: float = 0,
    *,
    series: Sequence[Series] = (),
) -> list[str]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    chart_id = _chart_id(title)
    # role img with a name (aria-label, <title>) and a description (<desc>, by id): what a screen reader
    # says of the picture; the numbers themselves are in the table that follows it (`_figures_table`).
    parts = [
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'aria-describedby="{chart_id}-desc" '
        'xmlns="http://www.w3.org/2000/svg" font-size="12" font-family="system-ui, sans-serif">',
        f"<title>{escape(title)}</title>",
        f'<desc id="{chart_id}-desc">{escape(_description(title, x_labels, series))}</desc>',
    ]
    for i in range(5):
        value = bottom + (top - bottom) * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d1d5db"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#374151">{escape(fmt(value))}</text>'
        )
    count = len(x_labels)
    step = max(1, -(-count // MAX_X_LABELS))
    for i in range(0, count, step):
        x = LEFT + (plot_w * (i + 0.5) / count if count else 0)
        label = escape(x_labels[i])
        parts.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" fill="#374151">{label}</text>')
    parts.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#6b7280"/>')
    return parts


def _figures_table(title: str, x_labels: Sequence[str], series: Sequence[Series], fmt: Callable[[float], str]) -> str:
    """The chart's numbers as a table (the accessible alternative, and what print and a phone
    can read exactly), closed under a summary; it scrolls inside its own box on a narrow screen."""
    chart_id = _chart_id(title)
    head = "".join(f'<th scope="col" class="num">{escape(s.label)}</th>' for s in series)
    rows = "".join(
        f'<tr><th scope="row">{escape(label)}</th>'
        + "".join(f'<td class="num">{escape(fmt(s.values[i]))}</td>' for s in series)
        + "</tr>"
        for i, label in enumerate(x_labels)
    )
    return (
        f'<details class="report-data chart-data" id="{chart_id}-data"><summary>Figures of this chart</summary>'
        f'<div class="table-scroll" role="region" aria-label="Figures: {escape(title)}" tabindex="0">'
        f'<table class="table report-table"><caption class="visually-hidden">{escape(title)}</caption>'
        f'<thead><tr><th scope="col">Period</th>{head}</tr></thead><tbody>{rows}</tbody></table></div></details>'
    )


def _legend(labels: Sequence[str]) -> list[str]:
    parts, x, y = [], LEFT, HEIGHT - 22
    for i, label in enumerate(labels):
        width = 18 + 7 * len(label)
        if x + width > WIDTH - RIGHT and x > LEFT:
            x, y = LEFT, y + 16
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{x + 14}" y="{y}" fill="#111827">{escape(label)}</text>')
        x += width + 10
    return parts


def line_chart(
    *,
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    fmt: Callable[[float], str],
    value_fmt: Callable[[float], str] | None = None,
) -> SafeString:
    """The SVG and, after it, its figures table (`value_fmt`: exact values, default `fmt`)."""
    values = [v for s in series for v in s.values]
    low = min([0, *values])
    top = _nice_max(max([0, *values]))
    bottom = -_nice_max(-low) if low < 0 else 0
    parts = _frame(title, x_labels, top, fmt, bottom, series=series)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = len(x_labels)

    def point(i: int, v: float) -> str:
        x = LEFT + plot_w * (i + 0.5) / count
        y = TOP + plot_h - plot_h * (v - bottom) / ((top - bottom) or 1)
        return f"{x:.1f},{y:.1f}"

    for n, s in enumerate(series):
        color = PALETTE[n % len(PALETTE)]
        points = " ".join(point(i, v) for i, v in enumerate(s.values))
        if len(s.values) == 1:
            x, y = point(0, s.values[0]).split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>')
        else:
            parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
    parts += _legend([s.label for s in series])
    parts.append("</svg>")
    parts.append(_figures_table(title, x_labels, series, value_fmt or fmt))
    return mark_safe("".join(parts))  # noqa: S308 (every text above is escaped)


def stacked_bar_chart(
    *,
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    fmt: Callable[[float], str],
    value_fmt: Callable[[float], str] | None = None,
) -> SafeString:
    """The SVG and, after it, its figures table (`value_fmt`: exact values, default `fmt`)."""
    count = len(x_labels)
    totals = [sum(max(s.values[i], 0) for s in series) for i in range(count)]
    top = _nice_max(max([0, *totals]))
    parts = _frame(title, x_labels, top, fmt, series=series)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / count if count else plot_w
    bar = max(slot * 0.7, 1)
    for i in range(count):
        y = TOP + plot_h
        for n, s in enumerate(series):
            value = max(s.values[i], 0)
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            x = LEFT + slot * i + (slot - bar) / 2
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{PALETTE[n % len(PALETTE)]}">'
                f"<title>{escape(s.label)} {escape(x_labels[i])}: {escape(fmt(value))}</title></rect>"
            )
    parts += _legend([s.label for s in series])
    parts.append("</svg>")
    parts.append(_figures_table(title, x_labels, series, value_fmt or fmt))
    return mark_safe("".join(parts))  # noqa: S308 (every text above is escaped)


def money_exact(currency: str) -> Callable[[float], str]:
    """Cents as the amount with its currency, to the cent (the figures tables)."""
    code = currency.upper()
    return lambda cents: f"{cents / 100:,.2f} {code}"


def money_axis(currency: str) -> Callable[[float], str]:
    code = currency.upper()

    def fmt(cents: float) -> str:
        units = cents / 100
        if abs(units) >= 1_000_000:
            return f"{units / 1_000_000:.1f}M {code}"
        if abs(units) >= 10_000:
            return f"{units / 1_000:.0f}k {code}"
        return f"{units:,.0f} {code}"

    return fmt


def count_axis(value: float) -> str:
    return f"{value:,.0f}"
