#!/usr/bin/env python3
"""Draws docs/sweep.svg: time to clear all due Sessions against their number.

Reads the JSON that sessionwheel-bench writes with --benchmark_out, takes the
expire_same_tick/<store>/<N> results (the median when repetitions were run),
and draws one line per store on log-log axes. Standard library only, so the
chart can be redrawn anywhere the benchmarks run.

Usage: bench/plot_sweep.py RESULTS.json OUT.svg
"""

import json
import math
import sys

WIDTH, HEIGHT = 720, 440
LEFT, RIGHT, TOP, BOTTOM = 80, 170, 40, 60
COLORS = {
    "sessionwheel": "#1b7f3b",
    "multimap": "#c0392b",
    "lazy_heap": "#2e6bb3",
    "indexed_heap": "#8e44ad",
    "limit": "#7f8c8d",
}


def load(path):
    """Returns {store: {n: milliseconds}} for the sweep benchmark."""
    with open(path) as f:
        benchmarks = json.load(f)["benchmarks"]
    has_aggregates = any(b.get("run_type") == "aggregate" for b in benchmarks)
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
    series = {}
    for b in benchmarks:
        name = b.get("run_name", b["name"])
        parts = name.split("/")
        if len(parts) < 3 or parts[0] != "expire_same_tick":
            continue
        if has_aggregates and b.get("aggregate_name") != "median":
            continue
        store, n = parts[1], int(parts[2])
        ms = b["real_time"] * scale[b.get("time_unit", "ns")]
        series.setdefault(store, {})[n] = ms
    return series


def decades(lo, hi):
    """The powers of ten around [lo, hi], at least one decade apart (a single
    point, as in CI's tiny run, still gets an axis)."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    return 10 ** a, 10 ** max(b, a + 1)


def log_axis(lo, hi, size, flip):
    """Maps a value on [lo, hi] (log scale) to pixels along `size`."""
    a, b = math.log10(lo), math.log10(hi)

    def at(v):
        t = (math.log10(v) - a) / (b - a)
        return (1 - t) * size if flip else t * size

    return at


def draw(series, out):
    xs = sorted({n for s in series.values() for n in s})
    ys = [ms for s in series.values() for ms in s.values() if ms > 0]
    x_lo, x_hi = decades(xs[0], xs[-1])
    y_lo, y_hi = decades(min(ys), max(ys))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    fx = log_axis(x_lo, x_hi, plot_w, False)
    fy = log_axis(y_lo, y_hi, plot_h, True)
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="14">Time to clear every due Session '
        f'(all due in one tick, one advance)</text>',
        f'<g transform="translate({LEFT},{TOP})">',
        f'<rect width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>',
    ]
    decade = x_lo
    while decade <= x_hi:
        x = fx(decade)
        label = f"{decade // 1000}k" if decade < 10**6 else f"{decade // 10**6}M"
        svg.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{plot_h}" stroke="#eee"/>')
        svg.append(f'<text x="{x:.1f}" y="{plot_h + 18}" text-anchor="middle">{label}</text>')
        decade *= 10
    decade = y_lo
    while decade <= y_hi:
        y = fy(decade)
        label = f"{decade:g} ms"
        svg.append(f'<line x1="0" y1="{y:.1f}" x2="{plot_w}" y2="{y:.1f}" stroke="#eee"/>')
        svg.append(f'<text x="-8" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
        decade *= 10
    svg.append(f'<text x="{plot_w / 2}" y="{plot_h + 42}" text-anchor="middle">'
               f'Sessions due (log scale)</text>')
    for i, store in enumerate(sorted(series, key=lambda s: s != "sessionwheel")):
        points = sorted(series[store].items())
        color = COLORS.get(store, "#555")
        path = " ".join(f"{fx(n):.1f},{fy(ms):.1f}" for n, ms in points if ms > 0)
        svg.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for n, ms in points:
            if ms > 0:
                svg.append(f'<circle cx="{fx(n):.1f}" cy="{fy(ms):.1f}" r="3" fill="{color}"/>')
        ly = 10 + 20 * i
        svg.append(f'<line x1="{plot_w + 15}" y1="{ly}" x2="{plot_w + 40}" y2="{ly}" '
                   f'stroke="{color}" stroke-width="2"/>')
        svg.append(f'<text x="{plot_w + 46}" y="{ly + 4}">{store}</text>')
    svg += ["</g>", "</svg>"]
    with open(out, "w") as f:
        f.write("\n".join(svg) + "\n")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    series = load(sys.argv[1])
    if not series:
        sys.exit("no expire_same_tick/<store>/<N> results in " + sys.argv[1])
    draw(series, sys.argv[2])


if __name__ == "__main__":
    main()
