#!/usr/bin/env python3
"""The load generator against the bare gRPC limit (issue 23), in one run.

Starts, on loopback with fresh development certificates:
  - bench/bare_echo_server with gRPC's default settings (the baseline), and a
    second one with --product-settings (budstikke-server's gRPC settings);
  - budstikke-server all-in-one with --rate-limit 0, once with
    --no-sync-writes and once durable (the default);
  - the microservices cluster of `make cluster` (scripts/cluster.sh, with
    --rate-limit 0 --no-sync-writes), whose gateway serves the same calls;
then runs budstikke-loadgen against them in rounds (default 5 rounds of 3 s
rows; in each round every row once, the rows a target compares next to each
other, so that they see about the same machine), takes the median of the
rounds, and ends with one table: each target of issue 23, the measured ratio
(median of the per-round ratios), and whether it is met. Target 4 (storage)
comes from bench/storage_bench run here (median of 3 interleaved
repetitions) with `openssl speed` beside it; target 3 (the flat curve) is read
from docs/scale.csv, which `make bench-scale` writes (too long to run here).

  bench/run_loadgen.py [--smoke] [--rounds N] [--seconds S] [--no-cluster]

--smoke (make bench-smoke): one round of 1 s rows, every scenario once; it
checks that everything runs, its figures mean little. Exits non-zero when a
process does not start or a loadgen run reports errors; an unmet target is
reported, not a failure. BUILD_DIR (default build) holds bin/.
"""

import argparse
import csv
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, os.environ.get("BUILD_DIR", "build"), "bin")


class Failure(Exception):
    pass


def start_process(argv, log_dir, name, env=None):
    """Starts argv; returns (process, port) once it prints 'listening on'."""
    out = open(os.path.join(log_dir, name + ".out"), "w+")
    err = open(os.path.join(log_dir, name + ".err"), "w+")
    proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
    pattern = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
    for _ in range(600):
        out.seek(0)
        m = pattern.search(out.read())
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    err.seek(0)
    proc.kill()
    raise Failure(f"{name} did not start: {err.read().strip()[-400:]}")


def stop_process(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def product_args(certs, data_dir, extra):
    return [os.path.join(BIN, "budstikke-server"), "--listen", "127.0.0.1:0",
            "--data-dir", data_dir,
            "--tls-cert", f"{certs}/server.pem", "--tls-key", f"{certs}/server.key",
            "--tls-ca", f"{certs}/ca.pem", "--master-key-file", f"{certs}/master.key",
            "--audit-signing-key-file", f"{certs}/audit-signing.key",
            "--seed-directory", os.path.join(ROOT, "certs", "dev-directory.json"),
            "--rate-limit", "0"] + extra


def echo_args(certs, extra):
    return [os.path.join(BIN, "bare_echo_server"), "--cert", f"{certs}/server.pem",
            "--key", f"{certs}/server.key", "--ca", f"{certs}/ca.pem"] + extra


def cpu_seconds(pids):
    """User + system CPU seconds the processes have used so far."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def children_cpu_seconds():
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def loadgen(address, certs, scenario, clients, seconds, server_pids):
    """One loadgen run; adds the server's and the client's CPU per call (us)."""
    argv = [os.path.join(BIN, "budstikke-loadgen"), "--server", address, "--certs-dir", certs,
            "--scenario", scenario, "--clients", str(clients), "--duration", str(seconds),
            "--output", "json"]
    server0, client0 = cpu_seconds(server_pids), children_cpu_seconds()
    run = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    server_cpu, client_cpu = cpu_seconds(server_pids) - server0, children_cpu_seconds() - client0
    try:
        result = json.loads(run.stdout)
    except json.JSONDecodeError:
        raise Failure(f"loadgen {scenario} on {address}: exit {run.returncode}: "
                      f"{run.stderr.strip()[-400:]}")
    if result["errors"] or run.returncode != 0:
        raise Failure(f"loadgen {scenario} on {address}: {result['errors']} errors: "
                      f"{run.stderr.strip()[-400:]}")
    calls = max(1, result["requests"])
    result["server_cpu_us"] = server_cpu * 1e6 / calls
    result["client_cpu_us"] = client_cpu * 1e6 / calls
    return result


class Row:
    """One line of the results: a scenario at a concurrency against a target."""

    def __init__(self, key, label, target, scenario, clients, smoke_only=False):
        self.key, self.label, self.target = key, label, target
        self.scenario, self.clients, self.smoke_only = scenario, clients, smoke_only
        self.runs = []

    def median(self, field):
        return statistics.median(r[field] for r in self.runs)


def rows_for(args, have_cluster):
    rows = [
        Row("echo", "bare echo (gRPC defaults)", "echo", "echo", 4),
        Row("echo-ps", "bare echo, budstikke-server's gRPC settings", "echo-ps", "echo", 4),
        Row("whoami", "server WhoAmI (auth, no storage)", "nosync", "whoami", 4),
        Row("check", "server CheckText 1 KiB", "nosync", "check-text", 4),
        Row("ask", "server Ask, --no-sync-writes", "nosync", "ask", 4),
        Row("ask-d", "server Ask, durable", "durable", "ask", 4),
        Row("send", "server Send, --no-sync-writes", "nosync", "send-referral", 4),
        Row("send-d", "server Send, durable", "durable", "send-referral", 4),
        Row("send16", "server Send, --no-sync-writes", "nosync", "send-referral", 16),
        Row("send16-d", "server Send, durable", "durable", "send-referral", 16),
        Row("audit", "server audit query by subject, proofs", "nosync", "audit-query", 4),
        Row("cosign", "server draft + co-sign", "nosync", "draft-cosign", 4),
        Row("inbox", "server inbox, events send -> watcher", "nosync", "inbox", 4),
        Row("mixed", "server mixed day", "nosync", "mixed", 4),
    ]
    if have_cluster:
        rows += [Row("gw-ask", "gateway Ask, --no-sync-writes", "gateway", "ask", 4),
                 Row("gw-send", "gateway Send, --no-sync-writes", "gateway", "send-referral", 4)]
    return rows


def paired_ratio(rows, num, den, field):
    """Median over rounds of num.field / den.field (the same round)."""
    ratios = [a[field] / b[field] for a, b in zip(rows[num].runs, rows[den].runs) if b[field]]
    return statistics.median(ratios) if ratios else float("nan")


def cpu_bound_ratio(rows, num, den):
    """Median over rounds of den's / num's CPU per call (server + loadgen): the
    throughput ratio if both were CPU-bound on cores of their own, whatever
    else the machine runs."""
    def cpu(r):
        return r["server_cpu_us"] + r["client_cpu_us"]
    ratios = [cpu(b) / cpu(a) for a, b in zip(rows[num].runs, rows[den].runs) if cpu(a)]
    return statistics.median(ratios) if ratios else float("nan")


def targets(rows):
    """(target, measured, CPU-bound estimate or None, goal text, met) for each
    target measured here."""
    out = []

    def add(text, num, den, field, goal, at_least):
        if num not in rows or den not in rows:
            return
        v = paired_ratio(rows, num, den, field)
        cpu = cpu_bound_ratio(rows, num, den) if field == "rps" else None
        met = v >= goal if at_least else v <= goal
        out.append((text, v, cpu, (">= " if at_least else "<= ") + f"{goal:.2f}", met))

    add("1. Ask 4 clients, no-sync: rps / bare echo", "ask", "echo", "rps", 0.60, True)
    add("1. Ask 4 clients, no-sync: p99 / bare echo", "ask", "echo", "p99_us", 2.0, False)
    add("1. Send 4 clients, no-sync: rps / bare echo", "send", "echo", "rps", 0.60, True)
    add("1. Send 4 clients, no-sync: p99 / bare echo", "send", "echo", "p99_us", 2.0, False)
    add("1. (beside) Ask durable: rps / bare echo", "ask-d", "echo", "rps", 0.60, True)
    add("1. (beside) Send durable: rps / bare echo", "send-d", "echo", "rps", 0.60, True)
    add("2. Send 16 clients: durable / no-sync rps", "send16-d", "send16", "rps", 0.70, True)
    add("5. Ask 4 clients: gateway / all-in-one rps", "gw-ask", "ask", "rps", 0.50, True)
    add("5. Ask 4 clients: gateway / all-in-one p99", "gw-ask", "ask", "p99_us", 2.0, False)
    add("5. Send 4 clients: gateway / all-in-one rps", "gw-send", "send", "rps", 0.50, True)
    add("5. Send 4 clients: gateway / all-in-one p99", "gw-send", "send", "p99_us", 2.0, False)
    return out


def storage_targets(smoke):
    """Target 4: encrypted put against a raw put of incompressible values, and
    the seal against OpenSSL's AES-256-GCM of the same bytes (storage_bench)."""
    names = ["BM_RawRocksDbPutIncompressible", "BM_EncryptedPut", "BM_EnvelopeSealOnly",
             "BM_OpenSslAes256Gcm", "BM_RawRocksDbPutSync"]
    argv = [os.path.join(BIN, "storage_bench"), "--benchmark_filter=" + "|".join(names),
            "--benchmark_format=json", "--benchmark_min_time=" + ("0.01" if smoke else "1"),
            "--benchmark_repetitions=" + ("1" if smoke else "3"),
            "--benchmark_enable_random_interleaving=true"]
    run = subprocess.run(argv, capture_output=True, text=True)
    if run.returncode != 0:
        raise Failure(f"storage_bench: {run.stderr.strip()[-400:]}")
    per_second = {}
    for b in json.loads(run.stdout)["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        m = re.match(r"(\w+)/real_time/threads:(\d+)", b["name"])
        if m:
            per_second.setdefault((m.group(1), int(m.group(2))), []).append(
                b["items_per_second"])
    ips = {k: statistics.median(v) for k, v in per_second.items()}
    out = []
    for threads in (1, 2):
        v = ips[("BM_EncryptedPut", threads)] / ips[("BM_RawRocksDbPutIncompressible", threads)]
        out.append((f"4. encrypted put / raw incompressible, {threads} thr", v, None,
                    ">= 0.85", v >= 0.85))
    seal_us = 1e6 / ips[("BM_EnvelopeSealOnly", 1)]
    speed = subprocess.run(["openssl", "speed", "-evp", "aes-256-gcm", "-bytes", "1024",
                            "-seconds", "1" if smoke else "3"], capture_output=True, text=True)
    m = re.search(r"^AES-256-GCM\s+([\d.]+)k", speed.stdout, re.M)
    if m:  # the reference: `openssl speed` in the same run
        v = seal_us / (1024 / float(m.group(1)) * 1e3)
        out.append(("4. seal / openssl speed AES-256-GCM, 1 KiB", v, None, "<= 1.30", v <= 1.30))
    # Stricter: our own EVP loop (no AAD, no output allocation) in the same binary.
    v = ips[("BM_OpenSslAes256Gcm", 1)] / ips[("BM_EnvelopeSealOnly", 1)]
    out.append(("4. seal / EVP AES-256-GCM loop, 1 KiB", v, None, "<= 1.30", v <= 1.30))
    note = (f"openssl speed -evp aes-256-gcm -bytes 1024: {float(m.group(1)) / 1e3:.0f} MB/s = "
            f"{1024 / float(m.group(1)) * 1e3:.2f} us per 1 KiB value" if m else
            "openssl speed: no figure")
    note += (f"; storage_bench per value: seal {1e6 / ips[('BM_EnvelopeSealOnly', 1)]:.2f} us, "
             f"EVP AES-256-GCM {1e6 / ips[('BM_OpenSslAes256Gcm', 1)]:.2f} us, encrypted put "
             f"{1e6 / ips[('BM_EncryptedPut', 1)]:.2f} us, raw incompressible put "
             f"{1e6 / ips[('BM_RawRocksDbPutIncompressible', 1)]:.2f} us (1 thread); beside "
             f"target 2, raw RocksDB sync puts from 16 threads: "
             f"{ips[('BM_RawRocksDbPutSync', 16)]:,.0f}/s")
    return out, note


def scale_targets(path):
    """Target 3 from the CSV of the last `make bench-scale` (bench/scale.py)."""
    if not os.path.exists(path):
        return [], f"target 3: no {os.path.relpath(path, ROOT)} (run make bench-scale)"
    with open(path) as f:
        rows = list(csv.DictReader(f))
    out = []
    for mode in ("nosync", "durable"):
        steps = sorted((r for r in rows if r["part"] == "records" and r["mode"] == mode),
                       key=lambda r: int(r["records"]))
        if len(steps) < 2:
            continue
        first, last = steps[0], steps[-1]
        v = float(last["send_p99_us"]) / float(first["send_p99_us"])
        out.append((f"3. {mode} Send p99 {int(last['records']) // 1000}k / "
                     f"{int(first['records']) // 1000}k", v, None, "<= 1.50", v <= 1.5))
        v = float(last["query_p99_us"]) / float(first["query_p99_us"])
        out.append((f"3. {mode} audit query p99, same steps", v, None, "<= 1.50", v <= 1.5))
        v = float(last["disk_per_plaintext"])
        out.append((f"3. {mode} disk / plaintext at {int(last['records']) // 1000}k", v, None,
                    "<= 2.50", v <= 2.5))
        at_1m = [r for r in steps if int(r["records"]) >= 1000000]
        if at_1m:
            v = float(at_1m[0]["peak_rss_mib"])
            out.append((f"3. {mode} peak RSS MiB at 1M records", v, None, "<= 250", v <= 250))
    audit = sorted((r for r in rows if r["part"] == "audit"), key=lambda r: int(r["audit_events"]))
    if len(audit) >= 2:
        v = float(audit[-1]["query_p99_us"]) / float(audit[0]["query_p99_us"])
        out.append((f"3. audit query p99 {int(audit[-1]['audit_events']) // 1000}k / "
                    f"{int(audit[0]['audit_events']) // 1000}k events", v, None, "<= 1.50",
                    v <= 1.5))
        # Proposed (docs/PERFORMANCE.md, At scale, third run): no more growth
        # than the proofs the query returns, log2(N) / log2(10k) hashes each.
        v = float(audit[-1]["query_p50_us"]) / float(audit[0]["query_p50_us"])
        bound = math.log2(int(audit[-1]["audit_events"])) / math.log2(int(audit[0]["audit_events"]))
        out.append(("3. (proposed) audit query p50, same sizes", v, None, f"<= {bound:.2f}",
                    v <= bound))
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(path)))
    return out, f"target 3 from {os.path.relpath(path, ROOT)} written {stamp}"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--rounds", type=int)
    p.add_argument("--seconds", type=float)
    p.add_argument("--no-cluster", action="store_true")
    args = p.parse_args()
    rounds = args.rounds or (1 if args.smoke else 5)
    seconds = args.seconds or (1.0 if args.smoke else 3.0)
    for b in ("budstikke-server", "budstikke-loadgen", "bare_echo_server", "storage_bench"):
        if not os.access(os.path.join(BIN, b), os.X_OK):
            print(f"run_loadgen: no {b} in {BIN} (run make build)", file=sys.stderr)
            return 1

    work = tempfile.mkdtemp(prefix="budstikke-loadgen-")
    procs, cluster_env = [], None
    try:
        certs = os.path.join(work, "certs")
        subprocess.run(["bash", os.path.join(ROOT, "certs", "dev-certs.sh"), certs],
                       check=True, capture_output=True)
        addr, pids = {}, {}
        for name, argv in [
                ("echo", echo_args(certs, [])),
                ("echo-ps", echo_args(certs, ["--product-settings"])),
                ("nosync", product_args(certs, os.path.join(work, "nosync"),
                                        ["--no-sync-writes"])),
                ("durable", product_args(certs, os.path.join(work, "durable"), []))]:
            proc, port = start_process(argv, work, name)
            procs.append(proc)
            addr[name] = (f"127.0.0.1:{port}", certs)
            pids[name] = [proc.pid]
        if not args.no_cluster:
            cluster_env = dict(os.environ, CLUSTER_DIR=os.path.join(work, "cluster"),
                               CLUSTER_SERVER_FLAGS="--rate-limit 0 --no-sync-writes")
            subprocess.run(["bash", os.path.join(ROOT, "scripts", "cluster.sh"), "start"],
                           env=cluster_env, check=True, capture_output=True)
            with open(os.path.join(work, "cluster", "gateway.port")) as f:
                addr["gateway"] = (f"127.0.0.1:{f.read().strip()}",
                                   os.path.join(work, "cluster", "certs"))
            pids["gateway"] = []
            for name in os.listdir(os.path.join(work, "cluster")):
                if name.endswith(".pid"):
                    with open(os.path.join(work, "cluster", name)) as f:
                        pids["gateway"].append(int(f.read().strip()))

        rows = rows_for(args, "gateway" in addr)
        load = os.getloadavg()
        print(f"run_loadgen: {os.cpu_count()} cores, load before {load[0]:.2f} {load[1]:.2f} "
              f"{load[2]:.2f}; {rounds} round(s) of {seconds:g} s rows")
        # Rows compared by a target run next to each other in every round.
        order = ["echo", "ask", "send", "gw-ask", "gw-send", "send16", "send16-d", "ask-d",
                 "send-d", "echo-ps", "whoami", "check", "audit", "cosign", "inbox", "mixed"]
        by_key = {row.key: row for row in rows}
        for r in range(rounds):
            for row in (by_key[k] for k in order if k in by_key):
                address, row_certs = addr[row.target]
                row.runs.append(loadgen(address, row_certs, row.scenario, row.clients, seconds,
                                        pids[row.target]))
            print(f"run_loadgen: round {r + 1}/{rounds} done")
        load = os.getloadavg()
        print(f"run_loadgen: load after {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

        print(f"\n{'row':<44} {'clients':>7} {'rps':>9} {'p50_us':>8} {'p90_us':>8} "
              f"{'p99_us':>8} {'p99.9_us':>9} {'server_cpu':>10} {'client_cpu':>10}")
        for row in rows:
            print(f"{row.label:<44} {row.clients:>7} {row.median('rps'):>9.0f} "
                  f"{row.median('p50_us'):>8.0f} {row.median('p90_us'):>8.0f} "
                  f"{row.median('p99_us'):>8.0f} {row.median('p999_us'):>9.0f} "
                  f"{row.median('server_cpu_us'):>10.0f} {row.median('client_cpu_us'):>10.0f}")
        print("(server_cpu, client_cpu: user + system CPU microseconds per call of the server "
              "process(es) under test -- every process of the cluster for the gateway rows -- "
              "and of budstikke-loadgen; inbox: events delivered per second, latency from the "
              "start of the Send to the watcher's receipt)")

        storage, storage_note = storage_targets(args.smoke)
        scale, scale_note = scale_targets(os.path.join(ROOT, "docs", "scale.csv"))
        print(f"\nIssue 23 targets measured in this run (median of {rounds} paired round(s)):")
        print(f"{'target':<46} {'measured':>9} {'cpu-bound':>9} {'goal':>8}  met")
        for text, value, cpu, goal, met in targets(by_key) + storage + scale:
            cpu_text = f"{cpu:>9.3f}" if cpu is not None else f"{'-':>9}"
            print(f"{text:<46} {value:>9.3f} {cpu_text} {goal:>8}  {'yes' if met else 'NO'}")
        print("(met: judged on the measured ratio. cpu-bound: the throughput ratio from CPU per "
              "call, server + loadgen, which holds when both are CPU-bound on a machine of their "
              "own; it leaves out waits such as fsync)")
        print(f"({storage_note})")
        print(f"({scale_note}; 6 is the summary in docs/PERFORMANCE.md)")
        return 0
    except (Failure, subprocess.CalledProcessError) as e:
        detail = e.stderr.decode()[-400:] if getattr(e, "stderr", None) else ""
        print(f"run_loadgen: {e} {detail}", file=sys.stderr)
        return 1
    finally:
        if cluster_env is not None:
            subprocess.run(["bash", os.path.join(ROOT, "scripts", "cluster.sh"), "stop"],
                           env=cluster_env, capture_output=True)
        for proc in procs:
            stop_process(proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
