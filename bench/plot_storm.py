#!/usr/bin/env python3
"""Draws docs/storm.svg: the fetch latency during each storm.

Reads the JSON that sessionwheel-storm writes with --out, and any more of
the same format (bench/peers/redis_storm.py's Redis anchor), and draws for
each storm the median p99.9 and maximum fetch latency on a log scale in
milliseconds, with the targets (p99.9 at most 1 ms, max at most 5 ms) as
lines; with --unsliced-too runs, the unsliced store's figures beside them
in grey. Standard library only, as bench/plot_sweep.py.

Usage: bench/plot_storm.py STORM.json [MORE.json...] OUT.svg
"""

import json
import math
import sys

WIDTH, HEIGHT = 760, 460
LEFT, RIGHT, TOP, BOTTOM = 70, 190, 50, 120
COLORS = {"sessionwheel": "#1b7f3b", "redis": "#c0392b"}
GREY = "#999999"
TARGETS = [(1.0, "p99.9 target, 1 ms"), (5.0, "max target, 5 ms")]


def load(paths):
    """Returns (rows, context): one row per storm, in file order, each
    (label, system, p999_ms, max_ms, unsliced or None) with unsliced
    (p999_ms, max_ms); the first file's context."""
    rows, context = [], None
    for path in paths:
        with open(path) as f:
            doc = json.load(f)
        context = context or doc.get("context", {})
        rate = doc.get("context", {}).get("rate")
        for s in doc["storms"]:
            m = s["median"]
            u = s.get("unsliced_median")
            label = s["storm"]
            if rate and rate != context.get("rate"):
                label += f" ({rate / 1000:g}k/s)"  # Fetched at another rate.
            rows.append((label, s.get("system", "sessionwheel"),
                         m["p999_us"] / 1e3, m["max_us"] / 1e3,
                         (u["p999_us"] / 1e3, u["max_us"] / 1e3) if u else None))
    return rows, context


def marker(shape, x, y, color, filled=True):
    fill = color if filled else "white"
    if shape == "circle":
        return (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{fill}" '
                f'stroke="{color}" stroke-width="1.5"/>')
    return (f'<path d="M{x:.1f},{y - 6:.1f} L{x + 6:.1f},{y + 5:.1f} '
            f'L{x - 6:.1f},{y + 5:.1f} Z" fill="{fill}" stroke="{color}" '
            f'stroke-width="1.5"/>')


def draw(rows, context, out):
    values = [v for r in rows for v in r[2:4] if v > 0]
    values += [v for r in rows if r[4] for v in r[4] if v > 0]
    values += [t for t, _ in TARGETS]
    # At least a decade below the 1 ms target, so its line is never the
    # axis itself.
    y_lo = min(0.1, 10 ** math.floor(math.log10(min(values))))
    y_hi = 10 ** math.ceil(math.log10(max(values)))
    if y_hi <= y_lo:
        y_hi = y_lo * 10
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    a, b = math.log10(y_lo), math.log10(y_hi)

    def fy(v):
        return (1 - (math.log10(max(v, y_lo)) - a) / (b - a)) * plot_h

    step = plot_w / len(rows)
    title = "Fetch latency during each storm (median of runs)"
    if context.get("sessions"):
        title += (f", {context['sessions']:,} Sessions, "
                  f"{context.get('rate', 0):,.0f} fetches/s")
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="24" font-size="14">{title}</text>',
        f'<g transform="translate({LEFT},{TOP})">',
        f'<rect width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>',
    ]
    decade = y_lo
    while decade <= y_hi * 1.001:
        y = fy(decade)
        svg.append(f'<line x1="0" y1="{y:.1f}" x2="{plot_w}" y2="{y:.1f}" '
                   f'stroke="#eee"/>')
        svg.append(f'<text x="-8" y="{y + 4:.1f}" text-anchor="end">'
                   f'{decade:g} ms</text>')
        decade *= 10
    for value, _ in TARGETS:
        y = fy(value)
        svg.append(f'<line x1="0" y1="{y:.1f}" x2="{plot_w}" y2="{y:.1f}" '
                   f'stroke="#e67e22" stroke-dasharray="6,4"/>')
    for i, (label, system, p999, mx, unsliced) in enumerate(rows):
        x = step * (i + 0.5)
        color = COLORS.get(system, "#555")
        if unsliced:
            svg.append(marker("circle", x + 7, fy(unsliced[0]), GREY, False))
            svg.append(marker("triangle", x + 7, fy(unsliced[1]), GREY, False))
            x -= 7
        svg.append(marker("circle", x, fy(p999), color))
        svg.append(marker("triangle", x, fy(mx), color, False))
        lx = step * (i + 0.5)
        svg.append(f'<text transform="translate({lx:.1f},{plot_h + 12}) '
                   f'rotate(40)" text-anchor="start">{label}</text>')
    legend = [("circle", COLORS["sessionwheel"], True, "sessionwheel p99.9"),
              ("triangle", COLORS["sessionwheel"], False, "sessionwheel max")]
    if any(r[4] for r in rows):
        legend += [("circle", GREY, False, "unsliced p99.9"),
                   ("triangle", GREY, False, "unsliced max")]
    if any(r[1] == "redis" for r in rows):
        legend += [("circle", COLORS["redis"], True, "Redis 7 p99.9"),
                   ("triangle", COLORS["redis"], False, "Redis 7 max")]
    for i, (shape, color, filled, text) in enumerate(legend):
        ly = 10 + 20 * i
        svg.append(marker(shape, plot_w + 22, ly, color, filled))
        svg.append(f'<text x="{plot_w + 34}" y="{ly + 4}">{text}</text>')
    ly = 10 + 20 * len(legend)
    svg.append(f'<line x1="{plot_w + 12}" y1="{ly}" x2="{plot_w + 32}" '
               f'y2="{ly}" stroke="#e67e22" stroke-dasharray="6,4"/>')
    svg.append(f'<text x="{plot_w + 34}" y="{ly + 4}">targets: 1 ms, 5 ms'
               f'</text>')
    svg += ["</g>", "</svg>"]
    with open(out, "w") as f:
        f.write("\n".join(svg) + "\n")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rows, context = load(sys.argv[1:-1])
    if not rows:
        sys.exit("no storms in " + ", ".join(sys.argv[1:-1]))
    draw(rows, context, sys.argv[-1])


if __name__ == "__main__":
    main()
