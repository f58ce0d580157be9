#!/usr/bin/env python3
"""One end-to-end story, run against either mode, with comparable results.

  tests/modes_e2e.py --mode all     --out all.json
  tests/modes_e2e.py --mode cluster --out cluster.json
  tests/modes_e2e.py --compare      (runs both, diffs the transcripts; exit 1 on a difference)

`all` starts one budstikke-server (--target all); `cluster` starts every service as
its own process with scripts/cluster.sh and talks to the gateway. The story uses the
budstikke CLI with --output json. Each step's exit code and JSON output go into the
transcript after removing ids, times and `actor.service` (which names the gateway in
microservices mode); lists whose order depends on how events from different processes
interleave (audit events, inbox events) are compared as sorted lists.

Environment: BUDSTIKKE_BIN_DIR (default build/bin), BUDSTIKKE_SOURCE_DIR (default: the
repository of this file).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.environ.get("BUDSTIKKE_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("BUDSTIKKE_BIN_DIR", os.path.join(SRC, "build", "bin"))
CHILD = None  # set in main: a synthetic national id


def synthetic_id(day, month, year):
    """A valid synthetic (month + 80) national id, as scripts/demo.d/lib.py makes."""
    out = subprocess.run([sys.executable, os.path.join(SRC, "scripts/demo.d/lib.py"), "id",
                          str(day), str(month), str(year)], capture_output=True, text=True, check=True)
    return out.stdout.strip()


class AllInOne:
    def __init__(self, work, extra_args=()):
        self.work = work
        self.extra_args = list(extra_args)
        self.certs = os.path.join(work, "certs")
        subprocess.run(["bash", os.path.join(SRC, "certs/dev-certs.sh"), self.certs],
                       check=True, capture_output=True)
        self.proc = None
        self.start()

    def start(self):
        out = os.path.join(self.work, "server.out")
        open(out, "w").close()
        c = self.certs
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "budstikke-server"), "--listen", "127.0.0.1:0",
             "--data-dir", os.path.join(self.work, "data"),
             "--tls-cert", f"{c}/server.pem", "--tls-key", f"{c}/server.key", "--tls-ca", f"{c}/ca.pem",
             "--master-key-file", f"{c}/master.key", "--audit-signing-key-file", f"{c}/audit-signing.key",
             "--seed-directory", os.path.join(SRC, "certs/dev-directory.json"), *self.extra_args],
            stdout=open(out, "w"), stderr=open(os.path.join(self.work, "server.log"), "a"), cwd=SRC)
        for _ in range(300):
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", open(out).read())
            if m:
                self.address = f"localhost:{m.group(1)}"
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise SystemExit("modes_e2e: the server did not start: " + open(os.path.join(self.work, "server.log")).read())

    def restart_inbox(self):
        self.proc.terminate()
        self.proc.wait(10)
        port = self.address.split(":")[1]
        self.start()
        del port

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class Cluster:
    def __init__(self, work):
        self.env = dict(os.environ, CLUSTER_DIR=os.path.join(work, "cluster"),
                        BUILD_DIR=os.path.dirname(BIN))
        self.certs = os.path.join(work, "cluster", "certs")
        r = subprocess.run(["bash", os.path.join(SRC, "scripts/cluster.sh"), "start"], env=self.env,
                           cwd=SRC, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("modes_e2e: cluster did not start:\n" + r.stdout + r.stderr)
        self.address = re.search(r"gateway on (\S+)", r.stdout).group(1)

    def restart_inbox(self):
        for verb in ("kill", "restart"):
            subprocess.run(["bash", os.path.join(SRC, "scripts/cluster.sh"), verb, "inbox"],
                           env=self.env, cwd=SRC, check=True, capture_output=True)

    def stop(self):
        subprocess.run(["bash", os.path.join(SRC, "scripts/cluster.sh"), "stop"], env=self.env, cwd=SRC,
                       capture_output=True)


class Story:
    def __init__(self, deployment):
        self.d = deployment
        self.transcript = []
        self.unexpected = []  # steps whose exit code was not the expected one

    def cli(self, who, *args, timeout=60):
        env = dict(os.environ, BUDSTIKKE_SERVER=self.d.address,
                   BUDSTIKKE_CA=os.path.join(self.d.certs, "ca.pem"),
                   BUDSTIKKE_CERT=os.path.join(self.d.certs, f"{who}.pem"),
                   BUDSTIKKE_KEY=os.path.join(self.d.certs, f"{who}.key"))
        r = subprocess.run([os.path.join(BIN, "budstikke"), *args], env=env, capture_output=True,
                           text=True, timeout=timeout)
        try:
            data = json.loads(r.stdout) if r.stdout.strip().startswith(("{", "[")) else r.stdout.strip()
        except json.JSONDecodeError:
            data = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        return r.returncode, data, r.stderr

    def step(self, label, who, *args, sort_key=None, distinct=False, want=0):
        code, data, err = self.cli(who, *args)
        if code != want:
            self.unexpected.append(f"{label}: exit {code}, expected {want}: {err.strip()}")
        out = normalize(data, sort_key)
        if distinct and isinstance(out, dict) and isinstance(out.get(sort_key), list):
            seen = {json.dumps(x, sort_keys=True): x for x in out[sort_key]}
            out[sort_key] = [seen[k] for k in sorted(seen)]
        self.transcript.append({"step": label, "exit": code, "out": out, "err": normalize_text(err)})
        return code, data

    def note(self, label, value):
        self.transcript.append({"step": label, "value": value})

    def poll(self, tries, fn):
        for _ in range(tries):
            if fn():
                return True
            time.sleep(0.1)
        return False


ID_KEYS = {"id", "request_id", "consent_id", "referral_id", "attachment_id", "time", "created_at",
           "updated_at", "answered_at", "claimed_at", "closed_at", "acknowledged_at", "decided_at",
           "revoked_at", "recorded_at", "sent_at", "expires_at", "index", "cursor", "leaf_hash",
           "root_hash", "tree_size", "signature", "next_page_token", "checkpoint", "proof", "hashes",
           "inclusion_proof", "events_verified", "size", "note", "origin_time", "resource_id",
           "subject", "subject_pseudonym", "first_time", "last_time", "sha256", "checksum"}


def normalize(value, sort_key=None):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ID_KEYS or k.endswith("_id") or k.endswith("_time"):
                continue
            if k == "service":  # actor.service: the gateway in microservices mode
                continue
            if k == "count":  # an aggregate of the racing readers' refusals: their number varies
                continue
            out[k] = normalize(v)
        if sort_key and isinstance(out.get(sort_key), list):
            out[sort_key] = sorted(out[sort_key], key=lambda x: json.dumps(x, sort_keys=True))
        return out
    if isinstance(value, list):
        items = [normalize(v) for v in value]
        return sorted(items, key=lambda x: json.dumps(x, sort_keys=True)) if sort_key == "*" else items
    if isinstance(value, str):
        return normalize_text(value)
    return value


def normalize_text(text):
    text = re.sub(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "<id>", text)
    text = re.sub(r"\b(c|r|k|a|att|ref|con)-[0-9A-Za-z_-]{6,}\b", "<id>", text)
    text = re.sub(r"\b[0-9a-f]{32}\b", "<id>", text)
    text = re.sub(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?", "<time>", text)
    text = re.sub(r"localhost:\d+|127\.0\.0\.1:\d+", "<address>", text)
    return text


def run_story(deployment, s=None):
    s = s or Story(deployment)
    # Consultation: ask, claim, answer, show, close.
    code, c = s.step("consult ask", "kindergarten-staff", "consult", "ask", "--to-type", "bup",
                     "--municipality", "0301", "--age-band", "3-5", "--concern", "sleep",
                     "--text", "Gutten sover dårlig og er urolig i samlingsstund over flere uker.",
                     "--output", "json")
    cid = c["id"] if code == 0 else "none"
    s.step("consult claim", "bup-clinician", "consult", "claim", cid, "--output", "json")
    s.step("consult claim twice", "bup-clinician2", "consult", "claim", cid, "--output", "json", want=3)
    s.step("consult answer", "bup-clinician", "consult", "answer", cid, "--text",
           "Snakk med foreldrene om søvnrutiner.", "--output", "json")
    s.step("consult show", "kindergarten-staff", "consult", "show", cid, "--output", "json")
    s.step("consult close", "kindergarten-staff", "consult", "close", cid, "--output", "json")
    s.step("consult show other agency", "gp-physician", "consult", "show", cid, "--output", "json", want=4)

    # Consent and referral to BUP with an attachment; acknowledge and decide.
    code, consent = s.step("consent record", "gp-physician", "consent", "record", "--subject", CHILD,
                           "--giver", "guardian", "--giver-relation", "mother", "--recipient", "bup-oslo",
                           "--purpose", "Henvisning til BUP for utredning", "--how", "written",
                           "--output", "json")
    consent_id = consent["id"] if code == 0 else "none"
    attachment = os.path.join(tempfile.mkdtemp(), "epikrise.txt")
    with open(attachment, "w") as f:
        f.write("Epikrise: søvnvansker over seks måneder.\n")
    code, ref = s.step("referral send", "gp-physician", "referral", "send", "--to", "bup-oslo",
                       "--subject", CHILD, "--consent", consent_id, "--attach", attachment,
                       "--reason", "Vedvarende angst og søvnvansker.", "--output", "json")
    rid = ref["id"] if code == 0 else "none"
    code, shown = s.step("referral show (BUP)", "bup-clinician", "referral", "show", rid, "--output", "json")
    att_id = (shown.get("attachments") or [{}])[0].get("id", "none") if code == 0 else "none"
    out = os.path.join(tempfile.mkdtemp(), "got.txt")
    s.step("attachment get", "bup-clinician", "attachment", "get", rid, att_id, "--out", out)
    s.note("attachment content", open(out).read() if os.path.exists(out) else None)
    s.step("referral ack", "bup-clinician", "referral", "ack", rid, "--output", "json")
    s.step("referral decide", "bup-clinician", "referral", "decide", rid, "accept", "--output", "json")

    # Revocation racing reads: after Revoke returns, no read of the unacknowledged referral succeeds.
    code, consent2 = s.step("consent record 2", "gp-physician", "consent", "record", "--subject", CHILD,
                            "--giver", "guardian", "--giver-relation", "mother", "--recipient", "bup-oslo",
                            "--purpose", "Ny henvisning", "--how", "digital", "--output", "json")
    c2 = consent2["id"] if code == 0 else "none"
    code, ref2 = s.step("referral send 2", "gp-physician", "referral", "send", "--to", "bup-oslo",
                        "--subject", CHILD, "--consent", c2, "--reason", "Ny vurdering ønskes.",
                        "--output", "json")
    r2 = ref2["id"] if code == 0 else "none"
    reads_after = []
    revoked_at = [None]
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            started = time.monotonic()
            rc, _, _ = s.cli("bup-clinician", "referral", "show", r2, "--output", "json")
            if revoked_at[0] is not None and started > revoked_at[0]:
                reads_after.append(rc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    s.step("consent revoke", "gp-physician", "consent", "revoke", c2, "--reason", "Mor trekker samtykket",
           "--output", "json")
    revoked_at[0] = time.monotonic()
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    s.note("reads started after revoke returned: all refused", bool(reads_after) and all(rc != 0 for rc in reads_after))
    s.step("referral show after revoke", "bup-clinician", "referral", "show", r2, "--output", "json", want=3)
    s.poll(50, lambda: s.cli("gp-physician", "referral", "show", r2, "--output", "json")[1].get("status") == "WITHDRAWN"
           if isinstance(s.cli("gp-physician", "referral", "show", r2, "--output", "json")[1], dict) else False)
    s.step("referral 2 withdrawn (sender)", "gp-physician", "referral", "show", r2, "--output", "json")

    # Statutory duty to child welfare: no consent needed.
    s.step("statutory duty", "kindergarten-staff", "referral", "send", "--to", "barnevern-oslo",
           "--subject", CHILD, "--statutory-duty", "--justification",
           "Barnet har gjentatte blåmerker og forteller om slag hjemme.",
           "--reason", "Bekymringsmelding etter barnevernsloven § 13-2.", "--output", "json")

    # Inbox watch across a restart of the inbox (the whole server in `all` mode).
    def inbox_has(n):
        code, data, _ = s.cli("bup-clinician", "inbox", "watch", "--max-events", str(n), "--output", "json",
                              timeout=10)
        return code == 0
    s.poll(50, lambda: inbox_has(4))
    s.step("inbox watch before restart", "bup-clinician", "inbox", "watch", "--max-events", "4",
           "--output", "json", sort_key="*")
    deployment.restart_inbox()
    s.poll(100, lambda: inbox_has(4))
    s.step("inbox watch after restart", "bup-clinician", "inbox", "watch", "--max-events", "4",
           "--output", "json", sort_key="*")

    # Consumers keep their own positions (issue 20, defect 3): one user's acks
    # neither delete the events nor move another consumer's position.
    def watched(who, n, *extra):
        try:
            code, data, _ = s.cli(who, "inbox", "watch", "--max-events", str(n), *extra, "--output", "json",
                                  timeout=15)
        except subprocess.TimeoutExpired:
            return "timeout"
        if code != 0:
            return f"exit {code}"
        return data if isinstance(data, list) else [data]
    s.step("inbox watch --ack (terapeut1)", "bup-clinician", "inbox", "watch", "--max-events", "4", "--ack",
           "--output", "json", sort_key="*")
    other = watched("bup-clinician2", 4)
    s.note("terapeut2 still gets the 4 events terapeut1 acknowledged", isinstance(other, list) and len(other) == 4)
    desk = watched("bup-clinician", 4, "--consumer", "desk")
    s.note("terapeut1's consumer 'desk' gets the 4 events too", isinstance(desk, list) and len(desk) == 4)
    # Cursors after the restart are above every cursor seen before it.
    seen = max((e["cursor"] for e in desk), default=0) if isinstance(desk, list) else 0
    s.step("consult ask after restart", "kindergarten-staff", "consult", "ask", "--to", "bup-oslo",
           "--age-band", "6-9", "--concern", "language",
           "--text", "Jenta har lite språk og trekker seg unna i lek med andre barn.", "--output", "json")
    fresh = watched("bup-clinician", 1, "--consumer", "desk", "--from", str(seen))
    s.note("a new event after the restart has a higher cursor than all seen before",
           isinstance(fresh, list) and len(fresh) == 1 and fresh[0]["cursor"] > seen)

    # Keys (issue 20, defect 4): two rotations start a background rewrap of bup-oslo's
    # wrapped keys; once it is DONE, version 1 protects nothing and shreds without force,
    # and the story's records still read.
    rotations = [s.cli("admin", "admin", "rotate-key", "bup-oslo", "--output", "json")[0] for _ in range(2)]
    s.note("two rotations of bup-oslo's key", rotations == [0, 0])

    def rewrap_done():
        code, p, _ = s.cli("admin", "admin", "rewrap-progress", "bup-oslo", "--output", "json")
        return code == 0 and isinstance(p, dict) and p.get("state") == "DONE"
    s.note("the rewrap after the rotations is DONE", s.poll(300, rewrap_done))
    code, data, _ = s.cli("admin", "admin", "shred-key", "bup-oslo", "1", "--confirm", "bup-oslo/1",
                          "--output", "json")
    s.note("version 1, rewrapped away, shreds without force", code == 0)
    code, status, _ = s.cli("admin", "admin", "key-status", "bup-oslo", "--output", "json")
    s.note("version 1 is shredded", code == 0 and isinstance(status, dict) and
           str(status.get("versions", [{}])[0].get("state", "")).endswith("SHREDDED"))
    s.step("referral show after the shred", "bup-clinician", "referral", "show", rid, "--output", "json")

    # Audit: every event of the story reaches the log; query with proofs; verify.
    def duty_logged():
        code, data, _ = s.cli("auditor", "audit", "query", "--subject", CHILD, "--action", "referral.send",
                              "--output", "json")
        return code == 0 and "STATUTORY_DUTY" in json.dumps(data)
    s.note("statutory report in the audit log", s.poll(100, duty_logged))
    time.sleep(2.5)  # the next checkpoint covers every event
    # The racing readers above make a varying number of reads: compare the
    # distinct normalized events (each kind of read, allowed and refused).
    s.step("audit query", "auditor", "audit", "query", "--subject", CHILD, "--page-size", "1000",
           "--output", "json", sort_key="items", distinct=True)
    state = os.path.join(tempfile.mkdtemp(), "state.json")
    code, verify = s.step("audit verify", "auditor", "audit", "verify", "--state", state, "--output", "json")
    s.note("audit verify ok", isinstance(verify, dict) and verify.get("ok") is True)
    for line in s.unexpected:
        print(f"modes_e2e ({type(deployment).__name__}): UNEXPECTED {line}")
    s.note("every step exited as expected", not s.unexpected)
    return s.transcript


def run_mode(mode):
    work = tempfile.mkdtemp(prefix=f"modes-e2e-{mode}-")
    deployment = AllInOne(work) if mode == "all" else Cluster(work)
    try:
        return run_story(deployment)
    finally:
        deployment.stop()


def main():
    global CHILD
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["all", "cluster"])
    p.add_argument("--out")
    p.add_argument("--compare", action="store_true")
    a = p.parse_args()
    CHILD = synthetic_id(3, 9, 2016)
    if a.compare:
        results = {m: run_mode(m) for m in ("all", "cluster")}
        for m, t in results.items():
            with open(os.path.join(tempfile.gettempdir(), f"modes-e2e-{m}.json"), "w") as f:
                json.dump(t, f, indent=1, ensure_ascii=False, sort_keys=True)
        a_steps, c_steps = results["all"], results["cluster"]
        diffs = [(x, y) for x, y in zip(a_steps, c_steps) if x != y]
        print(f"modes_e2e: {len(a_steps)} steps in all-in-one, {len(c_steps)} in microservices mode, "
              f"{len(diffs)} different")
        for x, y in diffs:
            print("--- all-in-one:\n" + json.dumps(x, ensure_ascii=False, sort_keys=True))
            print("--- microservices:\n" + json.dumps(y, ensure_ascii=False, sort_keys=True))
        failed_checks = [t for t in a_steps if t.get("value") is False]
        for t in failed_checks:
            print("check failed (both modes):", t["step"])
        return 0 if not diffs and len(a_steps) == len(c_steps) and not failed_checks else 1
    transcript = run_mode(a.mode)
    text = json.dumps(transcript, indent=1, ensure_ascii=False, sort_keys=True)
    if a.out:
        open(a.out, "w").write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
