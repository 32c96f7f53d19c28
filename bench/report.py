"""Prints the benchmark's one table (markdown) from the raw measurements."""

import csv
import platform
import subprocess
import sys
from collections import defaultdict
from statistics import mean

(results, latency, smtp_rate, wrk_rps, direct_tps,
 file_rate, mass, mass_queue, mass_deliver) = sys.argv[1:10]

tps = defaultdict(list)
with open(results) as f:
    for _round, sync, clients, variant, value in csv.reader(f, delimiter="\t"):
        tps[(sync, int(clients), variant)].append(float(value))
avg = {key: mean(values) for key, values in tps.items()}

cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
pg = subprocess.run(["pgbench", "--version"], capture_output=True, text=True).stdout.strip()
print(f"Machine: {cpu}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores, "
      f"{platform.system()} {platform.release()}; {pg}; mean of {len(next(iter(tps.values())))} interleaved run(s).")
print()
print("| sync commit | clients | nile_reset tps | PL/pgSQL peer tps | floor tps | nile_reset, wake-ups off tps "
      "| nile_reset / peer | nile_reset / wake-ups off | nile_reset / floor |")
print("|---|---|---|---|---|---|---|---|---|")
for sync in ("on", "off"):
    for clients in (1, 8, 32):
        n, p, f, w = (avg[(sync, clients, v)] for v in ("nile_reset", "peer", "floor", "nile_reset_no_wakeups"))
        print(f"| {sync} | {clients} | {n:,.0f} | {p:,.0f} | {f:,.0f} | {w:,.0f} | {n / p:.2f}x | {n / w:.2f}x | {n / f:.2f}x |")

p50, p90, p99, worst, sent, total = latency.split("\t")
print()
print(f"Wake-up latency, idle sender (commit to sent, file transport, {sent}/{total} sent): "
      f"p50 {p50} ms, p90 {p90} ms, p99 {p99} ms, max {worst} ms.")
print(f"Sender throughput (emails queued before the sender starts, start to empty outbox): "
      f"SMTP into Postfix's smtp-sink {int(smtp_rate):,} emails/s; file transport {int(file_rate):,} emails/s.")
print(f"Breach response: {int(mass):,} resets queued by one auth.generate_password_tokens statement in "
      f"{mass_queue} s, all delivered over SMTP {mass_deliver} s after its commit "
      f"({int(mass) / float(mass_deliver):,.0f} emails/s).")
http, direct = float(wrk_rps), float(direct_tps)
print(f"HTTP shim (wrk, 8 connections): {http:,.0f} req/s; the same call through pgbench (8 clients): "
      f"{direct:,.0f} tps; ratio {http / direct:.2f}x.")

print()
print("Targets:")
checks = [
    ("nile_reset / wake-ups off at 32 clients, sync on >= 0.90x",
     avg[("on", 32, "nile_reset")] / avg[("on", 32, "nile_reset_no_wakeups")], 0.90),
    ("nile_reset / PL/pgSQL peer at 1 client, sync off >= 1.15x",
     avg[("off", 1, "nile_reset")] / avg[("off", 1, "peer")], 1.15),
    ("HTTP shim / direct pgbench >= 0.80x", http / direct, 0.80),
    ("sender into a local SMTP server >= 1,000 emails/s", float(smtp_rate), 1000),
]
for name, value, target in checks:
    shown = f"{value:,.0f}" if target >= 100 else f"{value:.2f}x"
    print(f"- {name}: {shown} {'met' if value >= target else 'MISSED'}")
print(f"- wake-up p99 <= 50 ms (idle sender): {p99} ms {'met' if float(p99) <= 50 else 'MISSED'}")
