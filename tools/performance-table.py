#!/usr/bin/env python3
"""Turns package-benchmark's percentile export into docs/PERFORMANCE.md's table: rates and ratios, each ratio
between two benchmarks of the same run. Used by tools/benchmark-table."""
import glob
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone

results_dir = sys.argv[1]
write_to = sys.argv[sys.argv.index("--write") + 1] if "--write" in sys.argv else None

# package-benchmark's `histogramPercentiles` export: one TSV per benchmark and metric, named
# <baseline>.<target>.<benchmark name, spaces and slashes as _>.<metric>.histogram.percentiles.tsv,
# whose header names the metric and its unit, then one row per percentile 0...100.
UNITS = {"ns": 1e-9, "μs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "#": 1.0}
METRICS = {"Time (wall clock)": "Time (wall clock)", "events/s": "events/s", "heap growth MB": "heap growth MB",
           "peak RSS MB": "peak RSS MB", "Throughput (# / s)": "throughput"}
results = {}
for path in glob.glob(os.path.join(results_dir, "*.histogram.percentiles.tsv")):
    base = os.path.basename(path)[: -len(".histogram.percentiles.tsv")]
    parts = base.split(".")
    name = ".".join(parts[2:-1]).replace("_", " ")
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")[1]
        metric = next((key for key in METRICS if header.startswith(key)), None)
        if metric is None:
            continue
        unit_text = header[len(metric):].replace("*", "").strip().strip("()").strip()
        if metric == "Time (wall clock)":
            # Seconds.
            factor = UNITS.get(unit_text, 1.0)
        else:
            factor = UNITS.get(unit_text, 1.0) if unit_text else 1.0
        values = {}
        for line in f:
            percentile, value = line.split("\t")
            values[float(percentile)] = float(value) * factor
    results.setdefault(name, {})[METRICS[metric]] = values


def p(name, metric, percentile=50.0):
    entry = results.get(name, {}).get(metric)
    return None if entry is None else entry.get(float(percentile))


def rate(name):
    return p(name, "events/s")


def wall_seconds(name, percentile=50.0):
    return p(name, "Time (wall clock)", percentile)


def appends_per_second(name):
    # The append benchmarks scale by 1,000 events: their wall clock is per event.
    seconds = wall_seconds(name)
    return None if not seconds else 1 / seconds


def fmt_rate(value):
    return "-" if value is None else f"{value:,.0f}/s"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


rows = []


def row(what, measured, reference, value, target, ok):
    verdict = "-" if ok is None else ("met" if ok else "**missed**")
    rows.append(f"| {what} | {measured} | {reference} | {value} | {target} | {verdict} |")


scales = [s for s in ("10M", "1M") if f"Raw LMDB scan of events, {s} (reference)" in results]
for scale in scales:
    raw = rate(f"Raw LMDB scan of events, {scale} (reference)")
    full = rate(f"Full replay, all projections, {scale}")
    one = rate(f"Full replay, all projections, 1 worker, {scale}")
    narrow = rate(f"Narrow replay, dosing (2 of 22 types), {scale}")
    sqlite = rate(f"SQLite full replay, all projections, {scale} (reference)")
    r = ratio(full, raw)
    row(f"full replay, all projections, {scale}", fmt_rate(full), f"raw scan {fmt_rate(raw)}", "-" if r is None else f"{r:.2f}x", "0.25x or better (0.5x the aim)", None if r is None else r >= 0.25)
    r = ratio(narrow, raw)
    row(f"narrow replay (2 of 22 types), {scale}", fmt_rate(narrow), f"raw scan {fmt_rate(raw)}", "-" if r is None else f"{r:.2f}x", "0.6x or better", None if r is None else r >= 0.6)
    r = ratio(full, sqlite)
    row(f"full replay vs SQLite, {scale}", fmt_rate(full), f"SQLite {fmt_rate(sqlite)}", "-" if r is None else f"{r:.1f}x", "3x or better (10x the aim)", None if r is None else r >= 3)
    unsealed = rate(f"Full replay, all projections, unsealed store, {scale} (reference)")
    r = ratio(full, unsealed)
    row(f"full replay, sealed vs a store without sealing, {scale}", fmt_rate(full), f"unsealed {fmt_rate(unsealed)}", "-" if r is None else f"{r:.2f}x", "(what sealing costs)", None)
    r = ratio(one, sqlite)
    row(f"full replay on 1 worker vs SQLite, {scale}", fmt_rate(one), f"SQLite {fmt_rate(sqlite)}", "-" if r is None else f"{r:.1f}x", "(for comparison)", None)
    catch_up = wall_seconds(f"Catch-up after 1k new events, {scale}")
    full_time = wall_seconds(f"Full replay, all projections, {scale}")
    r = ratio(catch_up, full_time)
    row(f"catch-up after 1k new events, {scale}", "-" if catch_up is None else f"{catch_up * 1000:.0f} ms",
        "-" if full_time is None else f"full replay {full_time:.1f} s", "-" if r is None else f"{r * 100:.2f}%", "under 0.5%", None if r is None else r < 0.005)
    p99 = wall_seconds(f"Load one patient's current state, {scale}", 99.0)
    p50 = wall_seconds(f"Load one patient's current state, {scale}")
    row(f"one patient's current state, {scale}", "-" if p99 is None else f"p99 {p99 * 1e6:.0f} µs (p50 {p50 * 1e6:.0f} µs)", "-", "-", "p99 under 500 µs", None if p99 is None else p99 < 0.0005)
    c_scan = rate(f"Raw C scan process, {scale} (reference)")
    tool = rate(f"Replay tool process, {scale}")
    r = ratio(tool, c_scan)
    row(f"`patient-records-replay` process (JSON report), {scale}", fmt_rate(tool), f"C scan process {fmt_rate(c_scan)}", "-" if r is None else f"{r:.2f}x", "0.25x or better", None if r is None else r >= 0.25)

python = rate("Python json.loads of NDJSON, 100k lines (reference)")
imported = rate("Import process, 100k events")
r = ratio(imported, python)
row("`import` process (validated, sealed, one durable transaction), 100k events", fmt_rate(imported), f"Python json.loads {fmt_rate(python)}", "-" if r is None else f"{r:.2f}x", "0.33x or better", None if r is None else r >= 0.33)
exported = rate("Export process, 1M")
r = ratio(exported, python)
row("`export` process, 1M events", fmt_rate(exported), f"Python json.loads {fmt_rate(python)}", "-" if r is None else f"{r:.2f}x", "0.9x or better", None if r is None else r >= 0.9)
for audit_format in ("fhir", "json"):
    resident = p(f"Audit trail process, --format {audit_format}, 1M", "peak RSS MB", 100.0)
    audit_rate = rate(f"Audit trail process, --format {audit_format}, 1M")
    row(f"`audit --format {audit_format}` of the whole 1M store", "-" if resident is None else f"peak RSS {resident:.0f} MB",
        f"{fmt_rate(audit_rate)}", "-", "peak RSS under 300 MB", None if resident is None else resident < 300)

one = appends_per_second("Durable appends, 1 appender (reference)")
sixteen = appends_per_second("Durable appends, 16 appenders")
sqlite16 = appends_per_second("SQLite durable appends, 16 appenders (reference)")
sqlite1 = appends_per_second("SQLite durable appends, 1 appender (reference)")
r = ratio(sixteen, one)
row("durable appends, 16 appenders", fmt_rate(sixteen), f"1 appender {fmt_rate(one)}", "-" if r is None else f"{r:.1f}x", "10x or better", None if r is None else r >= 10)
r = ratio(sixteen, sqlite16)
row("durable appends vs SQLite (WAL, synchronous=FULL), 16 appenders", fmt_rate(sixteen), f"SQLite {fmt_rate(sqlite16)}", "-" if r is None else f"{r:.1f}x", "3x or better", None if r is None else r >= 3)
r = ratio(one, sqlite1)
row("durable appends vs SQLite, 1 appender", fmt_rate(one), f"SQLite {fmt_rate(sqlite1)}", "-" if r is None else f"{r:.1f}x", "(for comparison)", None)
batch = rate("Batch import, 100k events")
row("batch import (NDJSON file, one transaction)", fmt_rate(batch), "-", "-", "-", None)

if "10M" in scales and "1M" in scales:
    big = p("Full replay, all projections, 10M", "heap growth MB", 100.0)
    small = p("Full replay, all projections, 1M", "heap growth MB", 100.0)
    r = ratio(big, small)
    row("peak heap growth during full replay", f"10M: {big:.0f} MB", f"1M: {small:.0f} MB", "-" if r is None else f"{r:.2f}x", "under 1.5x", None if r is None else r < 1.5)
elif "1M" in scales:
    small = p("Full replay, all projections, 1M", "heap growth MB", 100.0)
    row("peak heap growth during full replay", "10M: not run (--10m)", f"1M: {small:.0f} MB", "-", "under 1.5x", None)

header = ["| what | measured | reference (same run) | ratio | target | |", "| --- | --- | --- | --- | --- | --- |"]
table = "\n".join(header + rows)
print(table)

if write_to:
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
    memory = subprocess.run(["sh", "-c", "free -g | awk '/Mem:/ {print $2}'"], capture_output=True, text=True).stdout.strip()
    swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    with open(write_to, "w") as f:
        f.write(f"""# Performance: measured

Every ratio below is between two benchmarks of one run (package-benchmark, `Benchmarks/`), on
the store's default settings (durable commits); the targets are the project's (see "Targets"
in the notes below). Process rows run the shipped tools, built in release mode, as whole
processes beside a reference process.

Reproduce with one command from the project folder:

```
tools/benchmark-table --10m --write     # all rows, 1M and 10M events (about 20 minutes, plus about
                                        # 15 the first time to generate 5 GB of histories)
tools/benchmark-table                   # 1M events only (about 10 minutes)
```

Measured {datetime.now(timezone.utc).strftime('%Y-%m-%d')} on {os.cpu_count()} cores ({cpu}), {memory} GB RAM,
{platform.system()} {platform.release()}, {swift}. Rates are medians (p50) of the iterations.

{table}

The data: 10,000 patients (`ClinicGenerator`, seed 2026, maintenance courses), 3 months of
history for 1M events and 46 months for 10M. "All projections" is each patient's state, the
compliance rules and the dosing summary in one pass; "narrow" is the dosing summary alone.
SQLite holds the same record bytes in one table (sequence, stream, type, blob) and is read in
order and decoded by the same projections on one thread. See "Notes" below for what bounds
each row.
""")
        notes = os.path.join(os.path.dirname(write_to), "PERFORMANCE-notes.md")
        if os.path.exists(notes):
            f.write("\n" + open(notes).read())
