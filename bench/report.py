"""Prints the benchmark's tables (markdown) from the raw measurements in the
work folder of bench/run.sh, and records this run's targets.

Reads results.tsv (round, sync, clients, variant, tps), paired.tsv
(target, pair, A's tps, B's tps), statements.tsv (variant, statements per
call), facts.tsv (name, value) and previous.tsv (the targets of the last
complete run, if any); writes targets.tsv. A target's ratio is the median
of its pairs' ratios where the run has them (the paired step, the shim),
else the ratio of the matrix's means.
Prints only the parts this run measured (BENCH_STEPS).
"""

import csv
import os
import platform
import subprocess
import sys
from collections import defaultdict
from statistics import mean, median

work = sys.argv[1]


def rows(name):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [row for row in csv.reader(f, delimiter="\t") if row]


tps = defaultdict(list)
for _round, sync, clients, variant, value in rows("results.tsv"):
    tps[(sync, int(clients), variant)].append(float(value))
avg = {key: mean(values) for key, values in tps.items()}
pairs = defaultdict(list)
for target, _pair, a, b in rows("paired.tsv"):
    pairs[target].append(float(a) / float(b))
statements = {variant: value for variant, value in rows("statements.tsv")}
facts = {name: "\t".join(value) for name, *value in rows("facts.tsv")}
# Seconds each run ran before it was measured (0: runs before the lead-in).
lead = facts.get("lead", "0")
previous_rows = rows("previous.tsv")
previous_run = next((row[1] for row in previous_rows if row[0] == "#run"), None)
previous = {row[0]: (float(row[1]), row[2] == "met") for row in previous_rows if not row[0].startswith("#")}


def get(sync, clients, variant):
    return avg.get((sync, clients, variant))


cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
pg = subprocess.run(["pgbench", "--version"], capture_output=True, text=True).stdout.strip()
cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
load = os.getloadavg()[0]
print(f"Machine: {cpu}, {cores} cores, {platform.system()} {platform.release()}; {pg}; "
      f"mean of {facts['rounds']} interleaved run(s) of {facts['seconds']} s after a lead-in of "
      f"{lead} s; load average {load:.1f} at the end.")

matrix = ("nile_reset", "peer", "lean_peer", "floor", "nile_reset_no_wakeups")
if all(get(sync, clients, v) is not None for sync in ("on", "off") for clients in (1, 8, 32) for v in matrix):
    print()
    print("`auth.generate_password_token` (nile_reset) and its peers, calls/s:")
    print()
    print("| sync commit | clients | nile_reset | PL/pgSQL peer | lean peer | floor | nile_reset, wake-ups off "
          "| nile_reset / peer | nile_reset / lean peer | nile_reset / floor | nile_reset / wake-ups off |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for sync in ("on", "off"):
        for clients in (1, 8, 32):
            n, p, lean, f, w = (get(sync, clients, v) for v in matrix)
            print(f"| {sync} | {clients} | {n:,.0f} | {p:,.0f} | {lean:,.0f} | {f:,.0f} | {w:,.0f} "
                  f"| {n / p:.2f}x | {n / lean:.2f}x | {n / f:.2f}x | {n / w:.2f}x |")

# One row per call: its statements per call and its calls/s at 1 client
# with synchronous_commit off, against the baseline the issue names.
calls = [
    ("nile_reset", "`auth.generate_password_token`", "floor", "the floor"),
    ("peer", "PL/pgSQL peer (`bench.peer_generate_password_token`)", None, None),
    ("lean_peer", "lean peer, own plain tables (`bench.lean_generate_password_token`)", None, None),
    ("floor", "floor (`bench.floor_two_writes`: the two writes alone)", None, None),
    ("verify_wrong", "`auth.verify_password_token`, wrong token", "token_select", "one indexed SELECT"),
    ("verify_right", "`auth.verify_password_token`, right token", "token_select", "one indexed SELECT"),
    ("token_select", "one indexed SELECT on the token table", None, None),
    ("reset", "`auth.reset_password`, bcrypt cost 4", "peer_reset", "the PL/pgSQL + pgcrypto peer"),
    ("peer_reset", "PL/pgSQL + pgcrypto peer (`bench.peer_reset_password`, `gen_salt('bf', 4)`)", None, None),
    ("nile_reset_connect", "`auth.generate_password_token`, a new connection for every call (`pgbench -C`)",
     "floor_connect", "the floor, the same way"),
    ("floor_connect", "floor, a new connection for every call", None, None),
]
if statements or any(get("off", 1, v) is not None for v, *_ in calls):
    print()
    print("Per call: statements it runs inside the database (pg_stat_statements, `track = all`, "
          f"nested statements per call over {facts.get('calls', 'N')} calls) and calls/s at 1 client, "
          "`synchronous_commit = off`:")
    print()
    print("| call | statements per call | calls/s | baseline | baseline calls/s | ratio |")
    print("|---|---|---|---|---|---|")
    for variant, name, base, base_name in calls:
        value = get("off", 1, variant)
        shown = f"{value:,.0f}" if value is not None else "not measured"
        count = statements.get(variant, "not measured")
        if variant == "token_select":
            count = "(one statement)"
        if variant.endswith("_connect"):
            count = "(as above)"
        if base is not None and value is not None and get("off", 1, base) is not None:
            b = get("off", 1, base)
            print(f"| {name} | {count} | {shown} | {base_name} | {b:,.0f} | {value / b:.2f}x |")
        else:
            print(f"| {name} | {count} | {shown} | | | |")

if "wakeup" in facts:
    p50, p90, p99, worst, sent, total = facts["wakeup"].split("\t")
    print()
    print(f"Wake-up latency, idle sender (commit to sent, SMTP into smtp-sink, {sent}/{total} sent): "
          f"p50 {p50} ms, p90 {p90} ms, p99 {p99} ms, max {worst} ms.")
if "smtp_rate" in facts:
    print(f"Sender throughput (emails queued before the sender starts, start to empty outbox): "
          f"SMTP into Postfix's smtp-sink {int(facts['smtp_rate']):,} emails/s; "
          f"file transport {int(facts['file_rate']):,} emails/s.")
if "mass" in facts:
    mass, deliver = int(facts["mass"]), float(facts["mass_deliver"])
    print(f"Breach response: {mass:,} resets queued by one auth.generate_password_tokens statement in "
          f"{facts['mass_queue']} s, all delivered over SMTP {facts['mass_deliver']} s after its commit "
          f"({mass / deliver:,.0f} emails/s).")
if "wrk_rps" in facts:
    http, direct = float(facts["wrk_rps"]), float(facts["direct_tps"])
    print(f"HTTP shim (wrk, 8 connections): {http:,.0f} req/s; the same call through pgbench (8 clients): "
          f"{direct:,.0f} tps; ratio of the means {http / direct:.2f}x.")
if "shim_cpu" in facts:
    machine, own = (float(v) for v in facts["shim_cpu"].split("\t"))
    direct_machine = float(facts["direct_cpu"])
    print(f"CPU per request in those runs (both cores, every process; the means of the measured seconds): "
          f"through the shim {machine:.0f} µs, the shim's own {own:.0f} µs of it; through pgbench "
          f"{direct_machine:.0f} µs; the inverse ratio {direct_machine / machine:.2f}x is what the "
          f"throughput ratio comes to when the cores are the limit.")


def ratio(a, b):
    return None if a is None or b is None else a / b


def paired_or(target, fallback):
    """The median of the target's paired ratios, if this run has them."""
    return median(pairs[target]) if pairs.get(target) else fallback


if pairs:
    print()
    print(f"The targets' ratios, each the median of {facts.get('pairs', '?')} pairs of "
          f"{facts.get('slice', '?')} s runs back to back (order alternating), each run measured after a "
          f"lead-in of {lead} s:")
    print()
    print("| target | pairs | median ratio | lowest | highest |")
    print("|---|---|---|---|---|")
    for target, values in pairs.items():
        print(f"| {target} | {len(values)} | {median(values):.2f}x | {min(values):.2f}x | {max(values):.2f}x |")

http_ratio = ratio(float(facts["wrk_rps"]), float(facts["direct_tps"])) if "wrk_rps" in facts else None
# (key, target as the issue words it, value, bound, at least (True) or at most (False), unit)
targets = [
    ("generate_peer", "generate, 1 client, sync off: >= 1.2x the PL/pgSQL peer",
     ratio(get("off", 1, "nile_reset"), get("off", 1, "peer")), 1.2, True, "x"),
    ("generate_floor", "generate, 1 client, sync off: >= 0.85x the floor",
     ratio(get("off", 1, "nile_reset"), get("off", 1, "floor")), 0.85, True, "x"),
    ("generate_lean", "generate, 1 client, sync off: at least on par with the lean peer (>= 1.0x)",
     ratio(get("off", 1, "nile_reset"), get("off", 1, "lean_peer")), 1.0, True, "x"),
    ("generate_32_floor", "generate, 32 clients, sync off: >= 0.8x the floor",
     ratio(get("off", 32, "nile_reset"), get("off", 32, "floor")), 0.8, True, "x"),
    ("wakeups_32", "32 clients, sync on, with the sender running: >= 0.95x of wake-ups off",
     ratio(get("on", 32, "nile_reset"), get("on", 32, "nile_reset_no_wakeups")), 0.95, True, "x"),
    ("shim", "HTTP shim / the same call through pgbench: >= 0.9x", http_ratio, 0.9, True, "x"),
    ("verify_wrong", "verify with a wrong token, 1 client: >= 0.9x of one indexed SELECT on the token table",
     ratio(get("off", 1, "verify_wrong"), get("off", 1, "token_select")), 0.9, True, "x"),
    ("smtp", "sender into a local SMTP server: >= 1,000 emails/s",
     float(facts["smtp_rate"]) if "smtp_rate" in facts else None, 1000, True, " emails/s"),
    ("wakeup_p99", "idle wake-up p99: <= 50 ms",
     float(facts["wakeup"].split("\t")[2]) if "wakeup" in facts else None, 50, False, " ms"),
]
targets = [(key, name, paired_or(key, value), *rest) for key, name, value, *rest in targets]


def show(value, unit):
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.0f}{unit}" if value >= 100 else f"{value:.1f}{unit}"


print()
when = f"previous complete run: {previous_run}" if previous_run else "no previous complete run recorded"
print(f"Targets (this run against the previous complete run of `make bench`, {when}; "
      "ratios from the pairs above where measured):")
print()
print("| target | this run | previous run | met in both runs? |")
print("|---|---|---|---|")
with open(os.path.join(work, "targets.tsv"), "w") as out:
    print(f"#run\t{facts['started']}, BENCH_SECONDS={facts['seconds']}, BENCH_ROUNDS={facts['rounds']}, "
          f"BENCH_PAIRS={facts.get('pairs', '?')}, BENCH_SLICE={facts.get('slice', '?')}, "
          f"BENCH_LEAD={lead}", file=out)
    for key, name, value, bound, at_least, unit in targets:
        if value is None:
            print(f"| {name} | not measured | | |")
            continue
        met = value >= bound if at_least else value <= bound
        print(f"{key}\t{value}\t{'met' if met else 'missed'}", file=out)
        now = f"{show(value, unit)} ({'met' if met else 'missed'})"
        if key in previous:
            before, before_met = previous[key]
            then = f"{show(before, unit)} ({'met' if before_met else 'missed'})"
            both = "yes" if met and before_met else "no"
        else:
            then, both = "none", "no (no previous run)"
        print(f"| {name} | {now} | {then} | {both} |")
