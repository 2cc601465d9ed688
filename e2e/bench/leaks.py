"""make bench: how long a leak report takes to answer when its secret works (and is revoked)
and when it matches nothing, one report at a time on one connection, alternating. The answer
must not tell them apart: both are answered once the report is queued.

    python3 leaks.py <port> <bench dir> [reports]
"""
import http.client
import json
import sys
import time
import urllib.request

port, folder = int(sys.argv[1]), sys.argv[2]
reports = int(sys.argv[3]) if len(sys.argv) > 3 else 400
valid = [l.strip() for l in open(f"{folder}/valid.txt") if l.strip()]
unknown = [l.strip() for l in open(f"{folder}/unknown.txt") if l.strip()]
conn = http.client.HTTPConnection("127.0.0.1", port)
times = {"matching": [], "unmatched": []}
for n in range(reports):
    kind = "matching" if n % 2 == 0 else "unmatched"
    secret = (valid if kind == "matching" else unknown)[(n // 2) % len(valid if kind == "matching" else unknown)]
    body = json.dumps({"credentials": [secret]})
    started = time.perf_counter()
    conn.request("POST", "/api/v1/credentials/revoke", body, {"content-type": "application/json"})
    answer = conn.getresponse()
    answer.read()
    times[kind].append((time.perf_counter() - started) * 1000)
    assert answer.status == 202, answer.status


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


time.sleep(1)
metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
matched = next((l.split()[-1] for l in metrics.splitlines() if l.startswith('tollgate_leak_reports_total{outcome="matched"}')), "0")
for kind, values in times.items():
    print(f"leak reports, {kind:9}: {len(values)} answered, p50 {quantile(values, 0.5):.3f} ms, "
          f"p90 {quantile(values, 0.9):.3f} ms, p99 {quantile(values, 0.99):.3f} ms")
ratio = quantile(times["matching"], 0.5) / quantile(times["unmatched"], 0.5)
print(f"leak reports: median answer of a matching report / an unmatched one: {ratio:.2f}; "
      f"reports that revoked a secret, handled after their answers: {matched}")
