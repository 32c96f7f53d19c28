"""Times reset requests (POST) for known and unknown emails over HTTP and
reports how well a threshold on the latency tells them apart.

Each email gets `rounds` POSTs, in a shuffled order interleaving known and
unknown ones; an email's score is its median latency. A threshold classifier
(which side is "known" included) is trained on all emails but one and tested
on that one, for each email in turn (leave-one-out): the printed accuracy is
the share of emails classified right.
"""

import argparse
import http.client
import json
import random
import statistics
import sys
import time
from urllib.parse import urlsplit


def session(base):
    parts = urlsplit(base)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=30), parts.path


def csrf_cookie(connection, path):
    connection.request("GET", f"{path}/auth/csrf")
    response = connection.getresponse()
    response.read()
    cookie = response.getheader("set-cookie").split(";", 1)[0]
    return cookie


def post_latency(connection, path, cookie, email):
    body = json.dumps({
        "email": email,
        "callbackUrl": "http://localhost:3000/signed-in",
        "redirectUrl": "http://localhost:3000/reset",
    })
    headers = {"content-type": "application/json", "cookie": cookie}
    started = time.perf_counter()
    connection.request("POST", f"{path}/auth/reset-password", body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    return response.status, elapsed


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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--known", type=int, default=10)
    parser.add_argument("--unknown", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    emails = [(f"known{i}@example.com", True) for i in range(1, args.known + 1)]
    emails += [(f"unknown{i}@example.com", False) for i in range(1, args.unknown + 1)]
    connection, path = session(args.base)
    cookie = csrf_cookie(connection, path)
    # Warm-up: the server's pool and the database's caches.
    for email, _ in emails:
        post_latency(connection, path, cookie, email)

    latencies = {email: [] for email, _ in emails}
    for _ in range(args.rounds):
        order = list(emails)
        random.shuffle(order)
        for email, _ in order:
            status, elapsed = post_latency(connection, path, cookie, email)
            if status != 201:
                sys.exit(f"POST for {email} answered {status}, expected 201 (--uniform-status)")
            latencies[email].append(elapsed)

    samples = [(statistics.median(latencies[email]), known) for email, known in emails]
    right = 0
    for i, (score, known) in enumerate(samples):
        threshold, known_above = best_threshold(samples[:i] + samples[i + 1:])
        right += ((score > threshold) == known_above) == known
    accuracy = right / len(samples)

    def summary(known):
        values = [score * 1000 for score, k in samples if k == known]
        return f"median {statistics.median(values):.2f} ms (min {min(values):.2f}, max {max(values):.2f})"

    print(f"known emails:   {summary(True)}")
    print(f"unknown emails: {summary(False)}")
    print(f"classifier accuracy (leave-one-out, {len(samples)} emails): {accuracy:.0%}")


if __name__ == "__main__":
    main()
