"""Charts drawn on the server as inline SVG (no CDN, no script): grouped bar charts from a table."""
from __future__ import annotations

from html import escape

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d")


def bar_chart(title: str, labels: list[str], series: dict[str, list[float]], *, width: int = 520,
              height: int = 200) -> str:
    """``labels`` along x; ``series`` name -> one value per label (several series: grouped bars)."""
    top = max([v for values in series.values() for v in values] + [1.0])
    left, bottom, plot_h = 34, 36, height - 60
    plot_w = width - left - 10
    group = plot_w / max(1, len(labels))
    bar = max(2.0, (group - 6) / max(1, len(series)))
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}"'
             f' xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 6}" y2="{height - bottom}" stroke="#888"/>',
             f'<text x="{left - 4}" y="{height - bottom - plot_h + 4}" font-size="10" text-anchor="end">{top:g}</text>']
    for i, label in enumerate(labels):
        x0 = left + i * group + 3
        for j, (name, values) in enumerate(series.items()):
            value = values[i] if i < len(values) else 0.0
            h = plot_h * value / top
            parts.append(f'<rect x="{x0 + j * bar:.1f}" y="{height - bottom - h:.1f}" width="{bar - 1:.1f}"'
                         f' height="{h:.1f}" fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(name)} {escape(label)}:'
                         f' {value:g}</title></rect>')
        parts.append(f'<text x="{x0 + group / 2 - 3:.1f}" y="{height - bottom + 12}" font-size="10"'
                     f' text-anchor="middle">{escape(label)}</text>')
    for j, name in enumerate(series):
        parts.append(f'<rect x="{left + j * 90}" y="{height - 14}" width="10" height="10"'
                     f' fill="{PALETTE[j % len(PALETTE)]}"/><text x="{left + j * 90 + 14}" y="{height - 5}"'
                     f' font-size="10">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
