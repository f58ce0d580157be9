#!/usr/bin/env python3
"""Log hygiene (issue 20, build point 8): canaries never leak.

A canary national id (synthetic), a canary phone number and a canary text go
through the main flows in both modes (the story of tests/modes_e2e.py with the
canary child, plus refused and malformed calls that carry them: PII-screened
text, consultations naming the child, bad and foreign ids, referrals without a
legal basis). Then none of the three may appear in:
- any line the server processes wrote (stdout and stderr of every process);
- the Prometheus metrics (all-in-one, --metrics-listen);
- any error message the CLI printed (stderr of every call, allowed or refused);
- any audit event (the whole log as the auditor queries it, leaf data included);
- any file under the data dirs (content is encrypted, indexes use pseudonyms):
  WAL, SST, MANIFEST, RocksDB's LOG, anchors;
- what a process prints when it crashes (SIGSEGV sent to the server at the end).
Also: /metrics exports the store's memory gauges (budstikke_storage_memory_bytes).
Output that legitimately shows the child's id (`referral show` to the sender and
the recipient, `consent show` to its agency) is not checked.

  tests/log_hygiene_test.py [--mode all|cluster|both]
"""
import argparse
import glob
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modes_e2e as e2e  # noqa: E402

PHONE = "+47 913 57 246"
TOKEN = "Kanarifugl-Blåveis-7731"


class Canaries:
    def __init__(self, national_id):
        self.national_id = national_id
        self.values = {"national id": national_id, "phone": PHONE, "phone digits": "91357246",
                       "text": TOKEN}

    def found_in(self, text):
        return [name for name, v in self.values.items() if v in text]

    def found_in_bytes(self, data):
        return [name for name, v in self.values.items() if v.encode() in data]


class RecordingStory(e2e.Story):
    """The end-to-end story, keeping every CLI stderr (error messages)."""

    def __init__(self, deployment):
        super().__init__(deployment)
        self.stderr = []

    def cli(self, who, *args, timeout=60):
        code, data, err = super().cli(who, *args, timeout=timeout)
        self.stderr.append((" ".join(args[:2]), err))
        return code, data, err


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def storage_gauge_problems(text):
    """The store's memory gauges are exported: the story's writes sit in memtables."""
    values = dict(re.findall(r'^budstikke_storage_memory_bytes\{kind="(\w+)"\} (\S+)$', text, re.M))
    if sorted(values) != ["block_cache", "memtables", "table_readers"]:
        return [f"/metrics: budstikke_storage_memory_bytes kinds {sorted(values)}"]
    if float(values["memtables"]) <= 0:
        return [f"/metrics: memtables {values['memtables']} bytes after the story's writes"]
    return []


class AllInOneWithMetrics(e2e.AllInOne):
    def __init__(self, work):
        self.metrics_port = free_port()
        super().__init__(work, ["--metrics-listen", f"127.0.0.1:{self.metrics_port}"])

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            return r.read().decode()

    def data_dirs(self):
        return [self.work]

    def logs(self):
        return [os.path.join(self.work, n) for n in ("server.out", "server.log")]

    def pids(self):
        return [self.proc.pid]


class ClusterDirs(e2e.Cluster):
    def __init__(self, work):
        self.work = work
        super().__init__(work)

    def metrics(self):
        return ""

    def data_dirs(self):
        return [os.path.join(self.work, "cluster")]

    def logs(self):
        return glob.glob(os.path.join(self.work, "cluster", "*.out")) + \
            glob.glob(os.path.join(self.work, "cluster", "*.log"))

    def pids(self):
        out = []
        for f in glob.glob(os.path.join(self.work, "cluster", "*.pid")):
            try:
                out.append(int(open(f).read()))
            except (OSError, ValueError):
                pass
        return out


def canary_calls(s, child, bad_id):
    """Refused and malformed calls that carry the canaries."""
    text = f"Ring mor på {PHONE}. {TOKEN}: barnet {child} gråter mye."
    r = subprocess.run([os.path.join(e2e.BIN, "budstikke"), "check-text", "--output", "json"],
                       input=text, capture_output=True, text=True, env=cli_env(s, "kindergarten-staff"))
    s.stderr.append(("check-text", r.stderr))
    s.stderr.append(("check-text stdout", r.stdout))  # findings never contain the matched text
    s.cli("kindergarten-staff", "consult", "ask", "--to-type", "bup", "--municipality", "0301",
          "--age-band", "3-5", "--concern", "sleep", "--text", text, "--output", "json")
    s.cli("kindergarten-staff", "consult", "ask", "--to-type", "bup", "--municipality", "0301",
          "--age-band", "3-5", "--concern", "sleep", "--text", f"{TOKEN} sover dårlig om natten.",
          "--output", "json")
    s.cli("gp-physician", "consent", "record", "--subject", bad_id, "--giver", "guardian",
          "--giver-relation", "mother", "--recipient", "bup-oslo", "--purpose", TOKEN,
          "--how", "written", "--output", "json")
    s.cli("gp-physician", "referral", "send", "--to", "bup-oslo", "--subject", child,
          "--consent", "c-doesnotexist", "--reason", f"{TOKEN} {PHONE}", "--output", "json")
    s.cli("gp-physician", "referral", "send", "--to", "bup-oslo", "--subject", bad_id,
          "--consent", "c-doesnotexist", "--reason", TOKEN, "--output", "json")
    s.cli("kindergarten-staff", "referral", "send", "--to", "bup-oslo", "--subject", child,
          "--statutory-duty", "--justification", TOKEN, "--reason", TOKEN, "--output", "json")
    s.cli("bup-clinician", "referral", "list", "--received", "--output", "json")
    s.cli("auditor", "audit", "query", "--subject", bad_id, "--output", "json")
    s.cli("admin", "audit", "query", "--subject", child, "--output", "json")
    s.cli("kindergarten-staff", "consent", "list", "--subject", child, "--output", "json")
    s.cli("kindergarten-staff", "directory", "get", child, "--output", "json")
    s.cli("kindergarten-staff", "consult", "show", child, "--output", "json")
    s.cli("kindergarten-staff", "referral", "show", child, "--output", "json")


def cli_env(s, who):
    return dict(os.environ, BUDSTIKKE_SERVER=s.d.address, BUDSTIKKE_CA=os.path.join(s.d.certs, "ca.pem"),
                BUDSTIKKE_CERT=os.path.join(s.d.certs, f"{who}.pem"),
                BUDSTIKKE_KEY=os.path.join(s.d.certs, f"{who}.key"))


def audit_log(s):
    code, data, err = s.cli("auditor", "audit", "query", "--page-size", "1000", "--proofs",
                            "--output", "json")
    if code != 0:
        raise SystemExit(f"log_hygiene: audit query failed: {err}")
    return str(data)


def check(name, leaks, problems):
    for where, found in leaks:
        if found:
            problems.append(f"{name}: {', '.join(found)} in {where}")


def run(mode):
    work = tempfile.mkdtemp(prefix=f"log-hygiene-{mode}-")
    child = e2e.synthetic_id(17, 5, 2017)
    e2e.CHILD = child
    bad_id = child[:-1] + str((int(child[-1]) + 1) % 10)  # check digit wrong
    canaries = Canaries(child)
    d = AllInOneWithMetrics(work) if mode == "all" else ClusterDirs(work)
    problems = []
    try:
        s = RecordingStory(d)
        e2e.run_story(d, s)
        canary_calls(s, child, bad_id)
        unexpected = [t for t in s.transcript if t.get("value") is False]
        if unexpected or s.unexpected:
            problems.append(f"the story did not run as expected: {unexpected} {s.unexpected}")
        time.sleep(2.5)  # every event drained into the log
        check("error message", [(f"stderr of `{c}`", canaries.found_in(e)) for c, e in s.stderr], problems)
        check("audit log", [("the auditor's query", canaries.found_in(audit_log(s)))], problems)
        if mode == "all":
            text = d.metrics()
            check("metrics", [("/metrics", canaries.found_in(text))], problems)
            problems += storage_gauge_problems(text)
        for pid in d.pids():  # crash output
            try:
                os.kill(pid, signal.SIGSEGV)
            except OSError:
                pass
        time.sleep(1.0)
        logs = d.logs()
        check("log", [(os.path.basename(f), canaries.found_in(open(f, errors="replace").read()))
                      for f in logs], problems)
        files = [f for root in d.data_dirs() for f in glob.glob(os.path.join(root, "**"), recursive=True)
                 if os.path.isfile(f) and not f.endswith((".pem", ".key"))]
        check("data file", [(os.path.relpath(f, work), canaries.found_in_bytes(open(f, "rb").read()))
                            for f in files], problems)
        print(f"log_hygiene ({mode}): {len(s.stderr)} CLI calls, {len(logs)} log files, "
              f"{len(files)} data files checked; {len(problems)} problems")
    finally:
        d.stop()
    return problems


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["all", "cluster", "both"], default="both")
    a = p.parse_args()
    problems = []
    for mode in (["all", "cluster"] if a.mode == "both" else [a.mode]):
        problems += run(mode)
    for line in problems:
        print("LEAK", line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
