"""The statistics behind bench/enumeration.py's timing verdicts, checked
against their definitions: the single-request AUC (Mann-Whitney's U over
n1*n2) against a count of every pair, its z-score against the exact null
mean and variance, and the threshold classifier against groups it must
split perfectly or cannot split at all."""
import math
import random
import sys
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

print(f"bench_statistics: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
