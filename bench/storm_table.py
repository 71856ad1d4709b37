#!/usr/bin/env python3
"""Prints the storm benchmark's results as the Markdown table of
docs/performance.md ("Pauses").

Reads the JSON of sessionwheel-storm (--out) and, optionally, of
bench/peers/redis_storm.py; one row per storm, medians of the runs: the
storm's time and rate, the fetches' p50 / p99 / p99.9 / max, how many took
over 1 ms, the unsliced store's p99.9 / max and the throughput ratio when
the runs have them, the other processes' CPU, and the targets met.
Standard library only.

Usage: bench/storm_table.py STORM.json [MORE.json...]
"""

import json
import sys


def ms(us):
    """Microseconds as milliseconds, with the digits that matter."""
    v = us / 1e3
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 0.1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def rate(m):
    r = m["sessions_per_s"]
    return "-" if r == 0 else f"{r / 1e6:.2f} M/s"


def verdict(storm):
    if storm["storm"].endswith("idle"):
        return "(noise)"
    t = storm.get("targets", {})
    marks = []
    marks.append("p99.9 " + ("met" if t.get("p999_le_1ms") else "**missed**"))
    marks.append("max " + ("met" if t.get("max_le_5ms") else "**missed**"))
    if "throughput_ge_0.8_unsliced" in t:
        marks.append("rate " + ("met" if t["throughput_ge_0.8_unsliced"]
                                else "**missed**"))
    return ", ".join(marks)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    storms = []
    for path in sys.argv[1:]:
        with open(path) as f:
            storms += json.load(f)["storms"]
    unsliced = any("unsliced_median" in s for s in storms)
    head = ["storm", "time", "rate", "fetches", "p50 ms", "p99 ms",
            "p99.9 ms", "max ms", "> 1 ms"]
    if unsliced:
        head += ["unsliced p99.9 / max ms", "rate vs unsliced"]
    head += ["others' CPU", "targets"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for s in storms:
        m = s["median"]
        row = [s["storm"], f"{m['seconds']:.3f} s", rate(m),
               f"{m['fetches']:,.0f}", ms(m["p50_us"]), ms(m["p99_us"]),
               ms(m["p999_us"]), ms(m["max_us"]), f"{m['over_1ms']:,.0f}"]
        if unsliced:
            u = s.get("unsliced_median")
            row += [f"{ms(u['p999_us'])} / {ms(u['max_us'])}" if u else "-",
                    f"{m['throughput_vs_unsliced']:.2f}x"
                    if u and not s["storm"].endswith("idle") else "-"]
        other = m.get("other_cores")
        row += [f"{other:.2f}" if other is not None else "-", verdict(s)]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
