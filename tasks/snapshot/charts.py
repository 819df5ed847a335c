"""Static SVG bar charts for the snapshot, each with the rows it draws (the chart's text alternative)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any

from tasks.snapshot.indicators import TOTAL, Indicator

BAR_HEIGHT, GAP, BAR_WIDTH, VALUE_WIDTH = 22, 6, 360, 110
LABEL_CHAR_WIDTH, LABEL_MIN, LABEL_MAX = 7.2, 120, 330  # px per character of a 13px label, and the bounds
MAX_BARS = 20


@dataclass(frozen=True)
class ChartSpec:
    kind: str  # bar | none
    dimension: str | None
    fixed: dict[str, str]
    each: str | None = None  # one chart for each value of this dimension


def parse_chart(indicator: Indicator) -> ChartSpec:
    """The header's `chart: bar <dimension> [for each <dimension>] [where d=v, d=v]`."""
    text = indicator.chart.strip()
    if not text or text == "none":
        return ChartSpec("none", None, {})
    head, _, where = text.partition(" where ")
    head, _, each = head.partition(" for each ")
    kind, _, dimension = head.strip().partition(" ")
    fixed = dict(part.strip().split("=", 1) for part in where.split(",") if "=" in part)
    named = [dimension.strip()] + ([each.strip()] if each else []) + [k.strip() for k in fixed]
    if kind != "bar" or not all(d in indicator.dimensions for d in named):
        raise ValueError(
            f"{indicator.path.name}: chart must be 'bar <dimension> [for each <dimension>] "
            f"[where d=v, ...]' with dimensions among {', '.join(indicator.dimensions)}, not {text!r}"
        )
    return ChartSpec(kind, dimension.strip(), {k.strip(): v.strip() for k, v in fixed.items()}, each.strip() or None)


def chart_rows(indicator: Indicator, rows: list[dict[str, Any]], spec: ChartSpec) -> tuple[list[dict], dict]:
    """The rows a chart draws (one per value of its dimension) and the other dimensions' values it holds fixed."""
    chosen = [r for r in rows if str(r[spec.dimension]) != TOTAL]
    fixed: dict[str, str] = {}
    for dim in indicator.dimensions:
        if dim in (spec.dimension, spec.each) or dim in indicator.nested:
            continue
        values = sorted({str(r[dim]) for r in chosen})
        if dim in spec.fixed:
            value = spec.fixed[dim]
        elif TOTAL in values:
            value = TOTAL
        elif not values:
            continue
        else:
            value = max(values) if dim == "year" else values[0]
        fixed[dim] = value
        chosen = [r for r in chosen if str(r[dim]) == value]
    value_col = indicator.values[0]
    visible = sorted(
        (r for r in chosen if isinstance(r[value_col], (int, float))),
        key=lambda r: (-float(r[value_col]), str(r[spec.dimension])),
    )
    hidden = sorted(
        (r for r in chosen if not isinstance(r[value_col], (int, float))), key=lambda r: str(r[spec.dimension])
    )
    return (visible + hidden)[:MAX_BARS], fixed


def format_value(value: Any, unit: str) -> str:
    """A published value as a reader sees it: shares as percentages, counts with separators, codes as they are."""
    if not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    if unit == "share":
        return f"{value * 100:.1f}%"
    if unit == "percentage_points":
        return f"{value:+.1f} pp"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def bar_chart(
    indicator: Indicator,
    rows: list[dict[str, Any]],
    spec: ChartSpec,
    label: Callable[[str], str],
    chart_id: str,
    caption: str,
) -> str:
    """A horizontal bar chart as an accessible SVG: hidden cells get no bar, only their code."""
    value_col = indicator.values[0]
    numbers = [abs(float(r[value_col])) for r in rows if isinstance(r[value_col], (int, float))]
    top = max(numbers, default=0) or 1
    if indicator.unit == "share":
        top = max(top, 0.0001)
    labels = [label(r[spec.dimension]) for r in rows]
    label_width = min(LABEL_MAX, max(LABEL_MIN, max(len(t) for t in labels) * LABEL_CHAR_WIDTH + 12))
    fits = int((label_width - 12) / LABEL_CHAR_WIDTH)
    height = len(rows) * (BAR_HEIGHT + GAP) + GAP
    width = label_width + BAR_WIDTH + VALUE_WIDTH
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-labelledby="{chart_id}-title" class="chart">',
        f'<title id="{chart_id}-title">{escape(caption)}</title>',
    ]
    for i, row in enumerate(rows):
        y = GAP + i * (BAR_HEIGHT + GAP)
        value = row[value_col]
        text = escape(format_value(value, indicator.unit) + (f" {row['flag']}" if row.get("flag") else ""))
        name = labels[i] if len(labels[i]) <= fits else labels[i][: fits - 1] + "…"
        parts.append(
            f'<text x="{label_width - 8:.0f}" y="{y + 15}" text-anchor="end" class="label">{escape(name)}</text>'
        )
        if isinstance(value, (int, float)):
            bar = max(1.0, BAR_WIDTH * abs(float(value)) / top)
            css = "bar unstable" if row.get("flag") else "bar"
            parts.append(f'<rect x="{label_width:.0f}" y="{y}" width="{bar:.1f}" height="{BAR_HEIGHT}" class="{css}"/>')
            parts.append(f'<text x="{label_width + bar + 6:.1f}" y="{y + 15}" class="value">{text}</text>')
        else:
            parts.append(f'<text x="{label_width + 6:.0f}" y="{y + 15}" class="value hidden">{text} hidden</text>')
    parts.append("</svg>")
    return "\n".join(parts)
