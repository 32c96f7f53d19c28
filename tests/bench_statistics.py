"""The statistics behind bench/enumeration.py's timing verdicts, checked
against their definitions: the single-request AUC (Mann-Whitney's U over
n1*n2) against a count of every pair, its z-score against the exact null
mean and variance, and the threshold classifier against groups it must
split perfectly or cannot split at all; bench/report.py's targets, from
the pairs' median ratios where a run has them; and bench/lib.sh's
throughput of a pgbench run after its lead-in."""
import csv
import math
import random
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import enumeration  # noqa: E402

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"  ok   {name}")
    else:
        failed += 1
        print(f"  FAIL {name} {detail}")


def pairwise_auc(first, second):
    wins = sum((a > b) + 0.5 * (a == b) for a in first for b in second)
    return wins / (len(first) * len(second))


rng = random.Random(7)
for trial in range(20):
    n1, n2 = rng.randint(1, 40), rng.randint(1, 40)
    # Rounded, so that ties within and across the groups occur.
    first = [round(rng.gauss(0.2 * (trial % 3), 1), 1) for _ in range(n1)]
    second = [round(rng.gauss(0, 1), 1) for _ in range(n2)]
    auc, _ = enumeration.rank_auc(first, second)
    expected = pairwise_auc(first, second)
    check(f"AUC equals the pairwise count ({n1} vs {n2}, with ties)", math.isclose(auc, expected), f"{auc} != {expected}")

auc, z = enumeration.rank_auc([4, 5, 6], [1, 2, 3])
check("every first value larger: AUC 1 and z = 4.5/sqrt(5.25)", auc == 1 and math.isclose(z, 4.5 / math.sqrt(5.25)), f"{auc} {z}")
auc, z = enumeration.rank_auc([1, 2, 3], [4, 5, 6])
check("every first value smaller: AUC 0, z negative", auc == 0 and math.isclose(z, -4.5 / math.sqrt(5.25)), f"{auc} {z}")
auc, z = enumeration.rank_auc([1.0] * 5, [1.0] * 7)
check("all tied: AUC 0.5, z 0", auc == 0.5 and z == 0, f"{auc} {z}")

# Under no difference z is about standard normal: |z| > 2 about 5% of the time.
beyond = 0
for _ in range(400):
    _, z = enumeration.rank_auc([rng.random() for _ in range(60)], [rng.random() for _ in range(60)])
    beyond += abs(z) > 2
check(f"null z beyond 2 in 2-9% of 400 runs ({beyond / 4:.1f}%)", 8 <= beyond <= 36)

threshold, known_above = enumeration.best_threshold([(1, False), (2, False), (10, True), (11, True)])
check("threshold between separated groups", 2 < threshold < 10 and known_above, f"{threshold} {known_above}")
threshold, known_above = enumeration.best_threshold([(10, False), (11, False), (1, True), (2, True)])
check("threshold direction follows the groups", 2 < threshold < 10 and not known_above, f"{threshold} {known_above}")

# bench/report.py on a run's raw files: a target's ratio is the median of its
# pairs' ratios where the run has pairs, else the ratio of the matrix's means.
with tempfile.TemporaryDirectory() as work:
    def write(name, lines):
        Path(work, name).write_text("".join("\t".join(map(str, line)) + "\n" for line in lines))

    write("facts.tsv", [("started", "2026-12-03 12:00 UTC"), ("seconds", 6), ("rounds", 2), ("calls", 200),
                        ("pairs", 3), ("slice", 2)])
    # generate_floor: pair ratios 0.80, 0.86, 0.90 (median 0.86, met); the
    # ratio of their means, 336/400 = 0.84, would miss.
    write("paired.tsv", [("generate_floor", 1, 160, 200), ("generate_floor", 2, 86, 100),
                         ("generate_floor", 3, 90, 100)])
    # verify_wrong has no pairs: the matrix's means, 0.8.
    write("results.tsv", [(1, "off", 1, "verify_wrong", 70), (2, "off", 1, "verify_wrong", 90),
                          (1, "off", 1, "token_select", 100), (2, "off", 1, "token_select", 100)])
    report = subprocess.run([sys.executable, str(Path(__file__).resolve().parent.parent / "bench" / "report.py"), work],
                            capture_output=True, text=True)
    check("report.py runs on a partial run", report.returncode == 0, report.stderr)
    recorded = {row[0]: row[1:] for row in csv.reader(open(Path(work, "targets.tsv")), delimiter="\t")}
    floor = recorded.get("generate_floor", ["nan", ""])
    check("a paired target is the median of its pairs' ratios", math.isclose(float(floor[0]), 0.86) and floor[1] == "met",
          str(floor))
    verify = recorded.get("verify_wrong", ["nan", ""])
    check("an unpaired target is the ratio of the matrix's means",
          math.isclose(float(verify[0]), 0.8) and verify[1] == "missed", str(verify))
    check("the pairs' table shows median, lowest and highest",
          "| generate_floor | 3 | 0.86x | 0.80x | 0.90x |" in report.stdout, report.stdout)

# The shim's row: each side's CPU per request, and the throughput ratio they
# predict when the cores are the limit (pgbench's 200 µs over the shim's 250).
with tempfile.TemporaryDirectory() as work:
    Path(work, "facts.tsv").write_text("started\t2026-12-04 19:00 UTC\nseconds\t6\nrounds\t2\ncalls\t200\n"
                                       "wrk_rps\t900\ndirect_tps\t1000\nshim_cpu\t250.0\t50.0\ndirect_cpu\t200.0\n")
    for name in ("paired.tsv", "results.tsv"):
        Path(work, name).write_text("")
    report = subprocess.run([sys.executable, str(Path(__file__).resolve().parent.parent / "bench" / "report.py"), work],
                            capture_output=True, text=True)
    check("report.py runs on the shim step alone", report.returncode == 0, report.stderr)
    check("the shim's CPU line gives each side and the ratio they predict",
          "through the shim 250 µs, the shim's own 50 µs of it; through pgbench 200 µs; the inverse ratio 0.80x"
          in report.stdout, report.stdout)


# bench/lib.sh's tps_after_lead: the mean of the progress lines after the
# lead-in, pgbench's own total and the lead-in's lines left out.
lib = Path(__file__).resolve().parent.parent / "bench" / "lib.sh"


def after_lead(lead, seconds, lines):
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as out:
        out.write("".join(line + "\n" for line in lines))
        out.flush()
        run = subprocess.run(["bash", "-c", f'. "{lib}" && tps_after_lead {lead} {seconds} "{out.name}"'],
                             capture_output=True, text=True)
    return run.returncode, run.stdout.strip(), run.stderr


progress = ["pgbench (15.20)",
            "progress: 1.0 s, 100.0 tps, lat 9.1 ms stddev 1.0, 0 failed",
            "progress: 2.0 s, 300.0 tps, lat 3.1 ms stddev 1.0, 0 failed",
            "progress: 3.0 s, 500.0 tps, lat 2.1 ms stddev 1.0, 0 failed",
            "tps = 300.0 (without initial connection time)"]
code, value, _ = after_lead(1, 2, progress)
check("after a 1 s lead-in, the mean of seconds 2 and 3", code == 0 and value == "400.0", value)
code, value, _ = after_lead(2, 1, progress)
check("after a 2 s lead-in, second 3 alone", code == 0 and value == "500.0", value)
code, value, _ = after_lead(1, 2, progress[:3])
check("a missing last line leaves the others", code == 0 and value == "300.0", value)
code, value, error = after_lead(1, 3, progress[:3])
check("two missing lines fail the run", code != 0 and "1 progress lines" in error, f"{code} {value} {error}")

print(f"bench_statistics: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
