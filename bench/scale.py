#!/usr/bin/env python3
"""How latency, memory and disk grow with the data (issue 23, point 3).

Part 1, records, over gRPC against a real budstikke-server (all-in-one,
--rate-limit 0), once per mode (--no-sync-writes and the durable default), on a
fresh data dir each: budstikke-loadgen fills consultations and referrals half
and half (4 KiB texts; one referral in ten carries a 128 KiB attachment of
random bytes) up to each step, waits until the server is idle (the fill's
flushes and compactions done), then measures at 4 clients for --seconds each:
Ask and Send (4 KiB, no attachment) p50/p99, the auditor's query by subject
with proofs (every referral is about the same child, so the trail grows with
the step), and inclusion proofs of random leaves. Beside them: disk bytes of
the data dir by kind (SST, WAL, other) against the plaintext bytes sent,
server RSS and what RocksDB holds of it (memtables, table readers: index and
filter blocks, block cache, and what tcmalloc holds free; the server's
budstikke_storage_memory_bytes and budstikke_heap_bytes gauges), the audit log's size, RocksDB's write amplification (flush +
compaction bytes written / flush bytes, from the EVENT_LOG lines of the LOG
files) and the bytes the server wrote to disk (/proc/PID/io) per plaintext
byte.

Part 2, audit events, in process (bench/audit_bench, its logs built through
the domain API and compacted once, cached under /tmp/budstikke-audit-bench):
query by subject (1,000 hits with proofs: p50 and p99 of 50 queries, and the
first query after the open on its own, query_first_us) and inclusion proofs
at each --audit-steps size (default up to 10M events).

Writes docs/scale.csv (one line per mode and step, one per audit step) and
docs/scale.png (gnuplot, when installed) and prints a table.

  bench/scale.py [--steps 10000,100000,1000000] [--modes nosync,durable]
                 [--audit-steps 10000,100000,1000000,10000000] [--seconds 10]
                 [--out docs/scale] [--work DIR]

`make bench-scale` runs the defaults (23 minutes on a quiet 2-core VM); not in CI.
BUILD_DIR (default build) holds bin/.
"""

import argparse
import csv
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import run_loadgen as lg

TEXT_BYTES = 4096
ATTACH_EVERY = 10
ATTACH_BYTES = 128 * 1024
FILL_CLIENTS = 8
FIELDS = ["part", "mode", "records", "consultations", "referrals", "audit_events",
          "ask_rps", "ask_p50_us", "ask_p99_us", "send_rps", "send_p50_us", "send_p99_us",
          "query_p50_us", "query_p99_us", "proof_p50_us", "proof_p99_us",
          "plaintext_bytes", "sst_bytes", "wal_bytes", "other_bytes", "disk_per_plaintext",
          "rss_mib", "peak_rss_mib", "write_amp", "disk_writes_per_plaintext",
          "query_rps", "proof_rps", "memtables_mib", "table_readers_mib", "block_cache_mib",
          "heap_in_use_mib", "heap_free_mib", "heap_cached_mib", "query_first_us"]


def run_loadgen(address, certs, scenario, clients, extra):
    argv = [os.path.join(lg.BIN, "budstikke-loadgen"), "--server", address, "--certs-dir",
            certs, "--scenario", scenario, "--clients", str(clients), "--output", "json"] + extra
    run = subprocess.run(argv, capture_output=True, text=True)
    try:
        result = json.loads(run.stdout)
    except json.JSONDecodeError:
        raise lg.Failure(f"loadgen {scenario}: exit {run.returncode}: {run.stderr[-400:]}")
    if result["errors"] or run.returncode != 0:
        raise lg.Failure(f"loadgen {scenario}: {result['errors']} errors: {run.stderr[-400:]}")
    return result


def payload(attachments):
    extra = ["--text-bytes", str(TEXT_BYTES)]
    if attachments:
        extra += ["--attach-every", str(ATTACH_EVERY), "--attach-bytes", str(ATTACH_BYTES)]
    return extra


def disk_bytes(data_dir):
    """Bytes of the data dir's files: SST, WAL (*.log), everything else."""
    sst = wal = other = 0
    for root, _, files in os.walk(data_dir):
        for name in files:
            try:
                size = os.path.getsize(os.path.join(root, name))
            except OSError:
                continue
            if name.endswith(".sst"):
                sst += size
            elif name.endswith(".log"):
                wal += size
            else:
                other += size
    return sst, wal, other


def proc_field(pid, path, key):
    with open(f"/proc/{pid}/{path}") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_gauges(metrics_port):
    """From the server's /metrics, in MiB: budstikke_storage_memory_bytes by
    kind (memtables_mib, ...) and budstikke_heap_bytes (heap_in_use_mib,
    heap_free_mib and heap_cached_mib: what tcmalloc holds free)."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    out = {}
    for family, prefix in [("budstikke_storage_memory_bytes", ""), ("budstikke_heap_bytes", "heap_")]:
        for kind, v in re.findall(rf'^{family}\{{kind="(\w+)"\}} (\S+)$', text, re.M):
            out[f"{prefix}{kind}_mib"] = round(float(v) / (1 << 20), 1)
    return out


def write_amplification(data_dir):
    """(flush + compaction output bytes) / flush output bytes, from RocksDB's
    EVENT_LOG_v1 lines in the store's LOG files; None before the first flush."""
    flush_jobs, flushed, compacted = set(), 0, 0
    names = sorted(n for n in os.listdir(data_dir) if n == "LOG" or n.startswith("LOG.old"))
    for name in names:
        with open(os.path.join(data_dir, name), errors="replace") as f:
            for line in f:
                i = line.find("EVENT_LOG_v1 ")
                if i < 0:
                    continue
                try:
                    event = json.loads(line[i + len("EVENT_LOG_v1 "):])
                except json.JSONDecodeError:
                    continue
                kind = event.get("event")
                if kind == "flush_started":
                    flush_jobs.add(event.get("job"))
                elif kind == "table_file_creation" and event.get("job") in flush_jobs:
                    flushed += event.get("file_size", 0)
                elif kind == "compaction_finished":
                    compacted += event.get("total_output_size", 0)
    return (flushed + compacted) / flushed if flushed else None


def settle(pid, limit_s=180):
    """Waits until the server is idle (under 5% of a core for 2 s in a row, at
    most `limit_s`): the flushes and compactions a fill leaves behind finish
    before the clock, so each step is measured at rest. Returns the wait."""
    t0, quiet, last = time.monotonic(), 0, lg.cpu_seconds([pid])
    while time.monotonic() - t0 < limit_s and quiet < 2:
        time.sleep(1)
        now = lg.cpu_seconds([pid])
        quiet = quiet + 1 if now - last < 0.05 else 0
        last = now
    return time.monotonic() - t0


def audit_size(address, certs):
    env = dict(os.environ, BUDSTIKKE_SERVER=address, BUDSTIKKE_CA=f"{certs}/ca.pem",
               BUDSTIKKE_CERT=f"{certs}/auditor.pem", BUDSTIKKE_KEY=f"{certs}/auditor.key")
    run = subprocess.run([os.path.join(lg.BIN, "budstikke"), "audit", "checkpoint"], env=env,
                         capture_output=True, text=True, check=True)
    return int(run.stdout.splitlines()[1])  # the note's second line is the tree size


class Filler:
    """What one server holds so far, and the plaintext bytes sent to it."""

    def __init__(self, address, certs):
        self.address, self.certs = address, certs
        self.consultations = self.referrals = self.plaintext = 0

    def add(self, scenario, n, attachments):
        if n <= 0:
            return
        run_loadgen(self.address, self.certs, scenario, FILL_CLIENTS,
                    ["--requests", str(n)] + payload(attachments))
        self.count(scenario, n, attachments)

    def count(self, scenario, n, attachments):
        self.plaintext += n * TEXT_BYTES
        if scenario == "ask":
            self.consultations += n
        else:
            self.referrals += n
            if attachments:
                self.plaintext += (n + ATTACH_EVERY - 1) // ATTACH_EVERY * ATTACH_BYTES

    def fill_to(self, records):
        self.add("ask", records // 2 - self.consultations, False)
        self.add("send-referral", records - records // 2 - self.referrals, True)

    def measure(self, clients, seconds):
        """Rows at `clients`; the Ask and Send rows add their records."""
        out = {}
        for key, scenario in [("ask", "ask"), ("send", "send-referral"),
                              ("query", "audit-query"), ("proof", "audit-proof")]:
            r = run_loadgen(self.address, self.certs, scenario, clients,
                            ["--duration", str(seconds)] + payload(False))
            out.update({f"{key}_rps": round(r["rps"]), f"{key}_p50_us": r["p50_us"],
                        f"{key}_p99_us": r["p99_us"]})
            if scenario in ("ask", "send-referral"):
                self.count(scenario, r["requests"], False)
        return out


def run_mode(mode, steps, seconds, work, certs):
    data_dir = os.path.join(work, mode)
    metrics_port = free_port()
    extra = ["--metrics-listen", f"127.0.0.1:{metrics_port}"]
    extra += ["--no-sync-writes"] if mode == "nosync" else []
    proc, port = lg.start_process(lg.product_args(certs, data_dir, extra), work, mode)
    rows = []
    try:
        filler = Filler(f"127.0.0.1:{port}", certs)
        for step in steps:
            t0 = time.monotonic()
            filler.fill_to(step)
            fill_s = time.monotonic() - t0
            settle_s = settle(proc.pid)
            row = {"part": "records", "mode": mode,
                   "records": filler.consultations + filler.referrals,
                   "consultations": filler.consultations, "referrals": filler.referrals,
                   "plaintext_bytes": filler.plaintext}
            sst, wal, other = disk_bytes(data_dir)
            row.update(sst_bytes=sst, wal_bytes=wal, other_bytes=other,
                       disk_per_plaintext=round((sst + wal + other) / filler.plaintext, 3),
                       rss_mib=round(proc_field(proc.pid, "status", "VmRSS:") / 1024),
                       audit_events=audit_size(filler.address, certs))
            row.update(memory_gauges(metrics_port))
            wa = write_amplification(data_dir)
            row["write_amp"] = round(wa, 2) if wa is not None else ""
            row["disk_writes_per_plaintext"] = round(
                proc_field(proc.pid, "io", "write_bytes:") / filler.plaintext, 2)
            row.update(filler.measure(4, seconds))
            row["peak_rss_mib"] = round(proc_field(proc.pid, "status", "VmHWM:") / 1024)
            rows.append(row)
            print(f"scale: {mode} {row['records']:,} records (filled in {fill_s:.0f} s, idle "
                  f"after {settle_s:.0f} s): "
                  f"Ask p99 {row['ask_p99_us']} us, Send p99 {row['send_p99_us']} us, "
                  f"query p99 {row['query_p99_us']} us, proof p99 {row['proof_p99_us']} us, "
                  f"disk {row['disk_per_plaintext']}x plaintext, RSS {row['rss_mib']} MiB "
                  f"(memtables {row.get('memtables_mib')}, table readers "
                  f"{row.get('table_readers_mib')}, block cache {row.get('block_cache_mib')}, "
                  f"heap free {row.get('heap_free_mib')}, cached {row.get('heap_cached_mib')})",
                  flush=True)
    finally:
        lg.stop_process(proc)
        shutil.rmtree(data_dir, ignore_errors=True)
    return rows


def run_audit(sizes):
    """audit_bench's query and proof benchmarks at each size."""
    rows = []
    # Part 1 leaves gigabytes of dirty pages: written back during part 2, they
    # slowed its queries by a third (docs/PERFORMANCE.md, At scale, third run).
    os.sync()
    for size in sizes:
        env = dict(os.environ, BUDSTIKKE_AUDIT_BENCH_EVENTS=str(size),
                   BUDSTIKKE_AUDIT_BENCH_PROOF_SIZES=str(size))
        t0 = time.monotonic()
        run = subprocess.run(
            [os.path.join(lg.BIN, "audit_bench"),
             "--benchmark_filter=BM_QueryBySubject|BM_InclusionProof",
             "--benchmark_min_time=0.5", "--benchmark_format=json"],
            env=env, capture_output=True, text=True)
        if run.returncode != 0:
            raise lg.Failure(f"audit_bench at {size}: {run.stderr[-400:]}")
        row = {"part": "audit", "mode": "in-process", "audit_events": size}
        for b in json.loads(run.stdout)["benchmarks"]:
            key = "query" if b["name"].startswith("BM_QueryBySubject") else "proof"
            row[f"{key}_p50_us"] = round(b["p50_ms"] * 1000)
            row[f"{key}_p99_us"] = round(b["p99_ms"] * 1000)
            if "first_ms" in b:
                row[f"{key}_first_us"] = round(b["first_ms"] * 1000)
        rows.append(row)
        print(f"scale: audit {size:,} events ({time.monotonic() - t0:.0f} s): query p99 "
              f"{row.get('query_p99_us')} us (first query {row.get('query_first_us')} us), "
              f"proof p99 {row.get('proof_p99_us')} us", flush=True)
    return rows


def plot(csv_path, png_path):
    if shutil.which("gnuplot") is None:
        print("scale: gnuplot not installed (apt install gnuplot-nox): no plot", file=sys.stderr)
        return True
    script = f"""
set terminal pngcairo size 1200,800 font ",10"
set output "{png_path}"
set datafile separator ","
set logscale x
set key top left
set multiplot layout 2,2 title "Budstikke at scale (bench/scale.py)"
col(n) = column(n)
set xlabel "records (consultations + referrals)"
set ylabel "p99 ms"
set title "p99 at 4 clients"
plot for [m in "nosync durable"] "{csv_path}" using \\
  (strcol(1) eq "records" && strcol(2) eq m ? col(3) : 1/0):(col(9)/1000) with linespoints title "Ask ".m, \\
  for [m in "nosync durable"] "{csv_path}" using \\
  (strcol(1) eq "records" && strcol(2) eq m ? col(3) : 1/0):(col(12)/1000) with linespoints title "Send ".m
set title "disk bytes per plaintext byte"
set ylabel "x plaintext"
plot for [m in "nosync durable"] "{csv_path}" using \\
  (strcol(1) eq "records" && strcol(2) eq m ? col(3) : 1/0):(col(21)) with linespoints title m
set title "server RSS: at rest after the fill, and peak"
set ylabel "MiB"
plot for [m in "nosync durable"] "{csv_path}" using \\
  (strcol(1) eq "records" && strcol(2) eq m ? col(3) : 1/0):(col(22)) with linespoints title m." at rest", \\
  for [m in "nosync durable"] "{csv_path}" using \\
  (strcol(1) eq "records" && strcol(2) eq m ? col(3) : 1/0):(col(23)) with linespoints title m." peak"
set title "audit log (in process): p99"
set xlabel "audit events"
set ylabel "p99 ms (log scale)"
set logscale y
plot "{csv_path}" using (strcol(1) eq "audit" ? col(6) : 1/0):(col(14)/1000) with linespoints title "query by subject, 1,000 hits + proofs", \\
  "{csv_path}" using (strcol(1) eq "audit" ? col(6) : 1/0):(col(16)/1000) with linespoints title "inclusion proof"
unset multiplot
"""
    run = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if run.returncode != 0:  # e.g. a run without the audit part: that panel has no points
        print(f"scale: gnuplot failed, no plot: {run.stderr.strip().splitlines()[-1:]}",
              file=sys.stderr)
        if os.path.exists(png_path):
            os.remove(png_path)
        return False
    return True


def steps_arg(text):
    return [int(s) for s in text.split(",") if s]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=steps_arg, default=[10000, 100000, 1000000])
    p.add_argument("--modes", default="nosync,durable")
    p.add_argument("--audit-steps", type=steps_arg, default=[10000, 100000, 1000000, 10000000])
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--out", default=os.path.join(lg.ROOT, "docs", "scale"))
    p.add_argument("--work", help="parent of the scratch dir (default: the system's temp dir)")
    p.add_argument("--plot-only", action="store_true",
                   help="only draw <out>.png from an existing <out>.csv")
    args = p.parse_args()
    if args.plot_only:
        return 0 if plot(args.out + ".csv", args.out + ".png") else 1
    for b in ("budstikke-server", "budstikke-loadgen", "budstikke", "audit_bench"):
        if not os.access(os.path.join(lg.BIN, b), os.X_OK):
            print(f"scale: no {b} in {lg.BIN} (run make build)", file=sys.stderr)
            return 1
    work = tempfile.mkdtemp(prefix="budstikke-scale-", dir=args.work)
    rows = []
    try:
        certs = os.path.join(work, "certs")
        subprocess.run(["bash", os.path.join(lg.ROOT, "certs", "dev-certs.sh"), certs],
                       check=True, capture_output=True)
        load = os.getloadavg()
        print(f"scale: {os.cpu_count()} cores, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
              f"steps {args.steps}, modes {args.modes}, audit steps {args.audit_steps}",
              flush=True)
        for mode in [m for m in args.modes.split(",") if m]:
            if mode not in ("nosync", "durable"):
                print(f"scale: unknown mode {mode} (nosync, durable)", file=sys.stderr)
                return 2
            rows += run_mode(mode, args.steps, args.seconds, work, certs)
        rows += run_audit(args.audit_steps)
    except (lg.Failure, subprocess.CalledProcessError) as e:
        print(f"scale: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    csv_path, png_path = args.out + ".csv", args.out + ".png"
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for row in rows:
            w.writerow(row)
    if not plot(csv_path, png_path) and args.audit_steps and args.steps:
        return 1  # every panel had points: the plot itself is wrong
    print(f"\nscale: wrote {csv_path}" + (f" and {png_path}" if os.path.exists(png_path) else ""))
    print(",".join(FIELDS))
    for row in rows:
        print(",".join(str(row.get(k, "")) for k in FIELDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
