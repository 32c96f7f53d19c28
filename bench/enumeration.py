"""Times requests to `nile-reset serve` for two groups of emails and reports
how well a threshold on the latency tells the groups apart.

  --request post: the reset request (POST) for known and unknown emails;
  --request get:  the link check (GET) with a wrong token, for identifiers
                  that have a token row (the known emails, once the POSTs
                  have issued their tokens) and for identifiers that have
                  none (the unknown emails).

Each email gets `rounds` requests, in a shuffled order interleaving the two
groups; an email's score is its median latency. A threshold classifier
(which side is which included) is trained on all emails but one and tested
on that one, for each email in turn (leave-one-out): the printed accuracy is
the share of emails classified right. It also prints, over single requests,
the probability that a known email's request takes longer than an unknown
one's (the AUC, Mann-Whitney's U over n1*n2; 0.5 when the timing tells
nothing) with its z-score: finer than the classifier for a small residue
(a shift of a few microseconds shows as an AUC a few hundredths from 0.5,
with |z| > 3 over a few thousand requests).

--summary FILE appends the result as a tab-separated line (label, request,
the two medians in ms, accuracy, emails, single-request AUC, z); --table
FILE prints such lines as one markdown table.
"""

import argparse
import http.client
import json
import math
import random
import secrets
import statistics
import sys
import time
from urllib.parse import urlencode, urlsplit

CALLBACK = "http://localhost:3000/signed-in"


def session(base):
    parts = urlsplit(base)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=30), parts.path


def csrf_cookie(connection, path):
    connection.request("GET", f"{path}/auth/csrf")
    response = connection.getresponse()
    response.read()
    cookie = response.getheader("set-cookie").split(";", 1)[0]
    return cookie


def timed(connection, method, url, **kwargs):
    started = time.perf_counter()
    connection.request(method, url, **kwargs)
    response = connection.getresponse()
    response.read()
    return response, time.perf_counter() - started


def post_latency(connection, path, cookie, email):
    """The reset request; every answer is 201 under --uniform-status."""
    body = json.dumps({"email": email, "callbackUrl": CALLBACK, "redirectUrl": "http://localhost:3000/reset"})
    headers = {"content-type": "application/json", "cookie": cookie}
    response, elapsed = timed(connection, "POST", f"{path}/auth/reset-password", body=body, headers=headers)
    if response.status != 201:
        sys.exit(f"POST for {email} answered {response.status}, expected 201 (--uniform-status)")
    return elapsed


def get_latency(connection, path, _cookie, email):
    """The link check with a wrong (well-formed, fresh) token: always 200
    with the callback URL carrying the error."""
    query = urlencode({"token": secrets.token_hex(32), "identifier": email, "callbackUrl": CALLBACK})
    response, elapsed = timed(connection, "GET", f"{path}/auth/reset-password?{query}")
    location = response.getheader("location") or ""
    if response.status != 200 or "error=" not in location:
        sys.exit(f"GET for {email} answered {response.status} (Location {location!r}), expected 200 with an error")
    return elapsed


def best_threshold(samples):
    """The threshold and direction that classify `samples` [(score, known)] best."""
    scores = sorted(score for score, _ in samples)
    candidates = [scores[0] - 1] + [(a + b) / 2 for a, b in zip(scores, scores[1:])] + [scores[-1] + 1]
    best = None
    for threshold in candidates:
        for known_above in (True, False):
            right = sum((score > threshold) == known_above if known else (score > threshold) != known_above
                        for score, known in samples)
            if best is None or right > best[0]:
                best = (right, threshold, known_above)
    return best[1], best[2]


def rank_auc(first, second):
    """P(a value of `first` > a value of `second`), ties counting half, and
    the z-score of Mann-Whitney's U under no difference (normal approximation,
    no tie correction: latencies in nanoseconds hardly tie)."""
    ranked = sorted([(value, 1) for value in first] + [(value, 0) for value in second])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mid_rank = (i + 1 + j) / 2
        rank_sum += mid_rank * sum(group for _, group in ranked[i:j])
        i = j
    n1, n2 = len(first), len(second)
    u = rank_sum - n1 * (n1 + 1) / 2
    z = (u - n1 * n2 / 2) / math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    return u / (n1 * n2), z


def measure(args):
    emails = [(f"known{i}@example.com", True) for i in range(1, args.known + 1)]
    emails += [(f"unknown{i}@example.com", False) for i in range(1, args.unknown + 1)]
    request = post_latency if args.request == "post" else get_latency
    connection, path = session(args.base)
    cookie = csrf_cookie(connection, path)
    # Warm-up: the server's pool and the database's caches.
    for email, _ in emails:
        request(connection, path, cookie, email)

    latencies = {email: [] for email, _ in emails}
    for _ in range(args.rounds):
        order = list(emails)
        random.shuffle(order)
        for email, _ in order:
            latencies[email].append(request(connection, path, cookie, email))

    samples = [(statistics.median(latencies[email]), known) for email, known in emails]
    right = 0
    for i, (score, known) in enumerate(samples):
        threshold, known_above = best_threshold(samples[:i] + samples[i + 1:])
        right += ((score > threshold) == known_above) == known
    accuracy = right / len(samples)

    def values(known):
        return [score * 1000 for score, k in samples if k == known]

    def summary(known):
        v = values(known)
        return f"median {statistics.median(v):.2f} ms (min {min(v):.2f}, max {max(v):.2f})"

    if args.request == "post":
        groups, noun = ("known emails:   ", "unknown emails: "), "emails"
    else:
        groups, noun = ("identifiers with a token:    ", "identifiers without a token: "), "identifiers"
    print(f"{groups[0]}{summary(True)}")
    print(f"{groups[1]}{summary(False)}")
    print(f"classifier accuracy (leave-one-out, {len(samples)} {noun}): {accuracy:.0%}")
    known_requests = [value for email, known in emails if known for value in latencies[email]]
    other_requests = [value for email, known in emails if not known for value in latencies[email]]
    auc, z = rank_auc(known_requests, other_requests)
    print(f"single requests ({len(known_requests)} vs {len(other_requests)}): "
          f"P(first group slower) = {auc:.3f}, z = {z:+.1f} (no difference: 0.5, |z| < 2 in 95% of runs)")
    if args.summary:
        with open(args.summary, "a") as out:
            print("\t".join([args.label, args.request.upper(), f"{statistics.median(values(True)):.2f}",
                             f"{statistics.median(values(False)):.2f}", f"{accuracy:.0%}", str(len(samples)),
                             f"{auc:.3f}", f"{z:+.1f}"]),
                  file=out)


def table(path):
    # A blank line first: the report's previous table would otherwise swallow this one.
    print()
    print("The timing rows (`bench/enumeration.sh`; leave-one-out accuracy, 50% is chance; on groups "
          "that do not differ it lands below 30% about one time in seven, which is no signal either):")
    print()
    print("| request | `--min-response-time` | known emails / identifiers with a token, median | "
          "unknown emails / identifiers without, median | classifier accuracy (50% is chance) "
          "| single requests: P(first slower), z (0.5 is chance) |")
    print("|---|---|---|---|---|---|")
    with open(path) as f:
        lines = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    names = {"POST": "POST (reset request)", "GET": "GET (link check, wrong token)"}
    for request in ("POST", "GET"):
        for label, kind, first, second, accuracy, count, auc, z in lines:
            if kind == request:
                print(f"| {names[kind]} | {label} | {first} ms | {second} ms | {accuracy} of {count} "
                      f"| {auc}, z = {z} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base", nargs="?")
    parser.add_argument("--request", choices=("post", "get"), default="post")
    parser.add_argument("--known", type=int, default=10)
    parser.add_argument("--unknown", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--summary")
    parser.add_argument("--label", default="")
    parser.add_argument("--table")
    args = parser.parse_args()
    if args.table:
        table(args.table)
    elif args.base:
        measure(args)
    else:
        parser.error("a base URL, or --table FILE")


if __name__ == "__main__":
    main()
