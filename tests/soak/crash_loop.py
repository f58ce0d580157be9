#!/usr/bin/python3
"""Crash loop (issue 20, "Build and prove" point 2): kill -9 under mixed load, restart on
the same data, and prove that nothing acknowledged was lost, half-written or audited twice.

  tests/soak/crash_loop.py --mode all     --rounds 50    one budstikke-server (--target all)
  tests/soak/crash_loop.py --mode cluster --rounds 50    every service its own process
  tests/soak/crash_loop.py --rounds-all 5 --rounds-cluster 3   both modes, one after the other

Each round: worker threads with distinct identities run mixed load through the Python SDK
(clients/python) -- Ask consultations (kindergarten, school), record consents + upload
attachments + Send referrals + sometimes Revoke (two GP threads, one child each), the BUP
clinician acknowledging referrals and reading/acking its inbox under its own consumer, the
auditor querying the audit log. Every ACKNOWLEDGED write goes into a ledger (id, request id,
SHA-256 of its content); a write whose call failed with UNAVAILABLE/DEADLINE_EXCEEDED is
"in flight" (it may or may not have happened). At a random moment the server (all-in-one) or
a random service process, sometimes every process (microservices), is killed with SIGKILL,
the load stops, and the killed processes start again on the same data dirs. Then, with no
load running, every acknowledged write since round 1 is checked:

- present with the expected content (decrypted by the server: text/purpose/reason hashes
  and the attachments' SHA-256 match), found through its index (the sender's mailbox list,
  the consents of the child), revocations and acknowledgements kept;
- its audit event (consultation.create, consent.record, attachment.upload, referral.send,
  consent.revoke, referral.acknowledge) present exactly once, with the call's request id;
- an in-flight write that is present is complete (content matches) and audited exactly
  once; one that is absent has no audit event; nothing unknown is stored;
- each acknowledged consultation and referral reached the BUP inbox exactly once; the
  consumer's acknowledged position never goes back (a read from 0 returns nothing at or
  below it) and new cursors are above every cursor seen before;
- `budstikke audit verify --state FILE` exits 0, with one state file for the whole run, so
  every round also proves the log consistent with (never forked from) the last round's.

Exit status 0 when every round passed; 1 with the failures listed. A summary line per mode:
rounds passed/run, acknowledged writes checked, lost, duplicate audit events, time.

Environment: BUDSTIKKE_BIN_DIR (default build/bin), BUDSTIKKE_SOURCE_DIR (default: this
repository). SOAK_ROUNDS_ALL / SOAK_ROUNDS_CLUSTER set the default round counts.
"""
import argparse
import collections
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.environ.get("BUDSTIKKE_SOURCE_DIR",
                     os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.path.abspath(os.environ.get("BUDSTIKKE_BIN_DIR", os.path.join(SRC, "build", "bin")))
PY_DIR = os.path.join(SRC, "clients", "python")
if not os.path.isdir(os.path.join(PY_DIR, "budstikke", "_gen")):
    subprocess.run([sys.executable, os.path.join(PY_DIR, "generate.py")], check=True,
                   stdout=subprocess.DEVNULL)
sys.path.insert(0, PY_DIR)

import budstikke  # noqa: E402
from budstikke.pb import consent_pb2, inbox_pb2, referral_pb2  # noqa: E402

SERVICES = ["directory", "audit", "inbox", "consultation", "consent", "referral", "admin",
            "gateway"]
IN_FLIGHT = (budstikke.errors.Unavailable,)  # DeadlineExceeded is a subclass
# The write actions checked for exactly one ALLOWED audit event per resource.
WRITE_ACTIONS = ["consultation.create", "consent.record", "attachment.upload", "referral.send",
                 "consent.revoke", "referral.acknowledge"]
ASKERS = ["kindergarten-staff", "school-staff"]
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def synthetic_id(day, month, year):
    """A checksum-valid synthetic (month + 80) national id, as scripts/demo.d/lib.py makes."""
    out = subprocess.run([sys.executable, os.path.join(SRC, "scripts/demo.d/lib.py"), "id",
                          str(day), str(month), str(year)], capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def sha(data):
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def token(rng):
    """A marker of lowercase letters (no digits: the PII scanner screens numbers)."""
    return "".join(rng.choice(LETTERS) for _ in range(10))


# -----------------------------------------------------------------------------------------
# Deployments
# -----------------------------------------------------------------------------------------

class AllInOne:
    """One budstikke-server on a fixed loopback port, durable (the default), no rate limit."""
    name = "all-in-one"

    def __init__(self, work):
        self.work = work
        self.certs = os.path.join(work, "certs")
        subprocess.run(["bash", os.path.join(SRC, "certs/dev-certs.sh"), self.certs],
                       check=True, capture_output=True)
        self.port = 0
        self.proc = None
        self.start()

    def start(self):
        out = os.path.join(self.work, "server.out")
        c = self.certs
        argv = [os.path.join(BIN, "budstikke-server"), "--listen", "127.0.0.1:%d" % self.port,
                "--data-dir", os.path.join(self.work, "data"), "--rate-limit", "0",
                "--tls-cert", c + "/server.pem", "--tls-key", c + "/server.key",
                "--tls-ca", c + "/ca.pem", "--master-key-file", c + "/master.key",
                "--audit-signing-key-file", c + "/audit-signing.key",
                "--audit-anchor-file", os.path.join(self.work, "audit.anchor"),
                "--seed-directory", os.path.join(SRC, "certs/dev-directory.json")]
        with open(out, "w") as o, open(os.path.join(self.work, "server.log"), "a") as e:
            self.proc = subprocess.Popen(argv, stdout=o, stderr=e, stdin=subprocess.DEVNULL,
                                         cwd=SRC)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(out) as f:
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                self.address = "localhost:%d" % self.port
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("the server did not start: " + tail(os.path.join(self.work,
                                                                           "server.log")))

    def crash(self, rng):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        return ["server"]

    def restart(self, killed):
        self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Cluster:
    """Microservices mode through scripts/cluster.sh (one process per service)."""
    name = "microservices"

    def __init__(self, work):
        self.dir = os.path.join(work, "cluster")
        self.env = dict(os.environ, CLUSTER_DIR=self.dir, BUILD_DIR=os.path.dirname(BIN),
                        CLUSTER_SERVER_FLAGS="--rate-limit 0")
        self.certs = os.path.join(self.dir, "certs")
        r = self.cluster("start")
        self.address = re.search(r"gateway on (\S+)", r.stdout).group(1)

    def cluster(self, *args):
        r = subprocess.run(["bash", os.path.join(SRC, "scripts/cluster.sh"), *args],
                           env=self.env, cwd=SRC, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("cluster.sh %s failed:\n%s%s" % (" ".join(args), r.stdout,
                                                               r.stderr))
        return r

    def crash(self, rng):
        """kill -9 of one random process, or (one round in six) of every process."""
        victims = list(SERVICES) if rng.random() < 1 / 6 else [rng.choice(SERVICES)]
        for name in victims:
            self.cluster("kill", name)
        return victims

    def restart(self, killed):
        for name in killed:
            self.cluster("restart", name)

    def stop(self):
        subprocess.run(["bash", os.path.join(SRC, "scripts/cluster.sh"), "stop"], env=self.env,
                       cwd=SRC, capture_output=True)


def tail(path, n=2000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


# -----------------------------------------------------------------------------------------
# The ledger of what the clients were told
# -----------------------------------------------------------------------------------------

class Ledger:
    """Acknowledged writes (must be there) and in-flight ones (may be there, but whole)."""

    def __init__(self):
        self.lock = threading.Lock()
        # kind -> {resource id: record}; kinds: consultation, consent, attachment, referral
        self.acked = collections.defaultdict(dict)
        # kind -> {marker: record}: calls that failed with UNAVAILABLE / DEADLINE_EXCEEDED
        self.maybe = collections.defaultdict(dict)
        self.revoked = {}       # consent id -> round (Revoke acknowledged)
        self.maybe_revoked = set()
        self.acknowledged = {}  # referral id -> round (Acknowledge acknowledged)
        self.maybe_acknowledged = set()
        self.unexpected = []    # errors other than "in flight"

    def ack(self, kind, rid, rec):
        with self.lock:
            self.acked[kind][rid] = rec

    def in_flight(self, kind, marker, rec):
        with self.lock:
            self.maybe[kind][marker] = rec

    def error(self, what, e):
        with self.lock:
            self.unexpected.append("%s: %s" % (what, e))

    def count(self):
        with self.lock:
            return (sum(len(v) for v in self.acked.values()) + len(self.revoked)
                    + len(self.acknowledged))


class Clients:
    def __init__(self, dep):
        self.dep = dep
        self.cache = {}

    def __call__(self, who):
        if who not in self.cache:
            c = self.dep.certs
            self.cache[who] = budstikke.Client(self.dep.address, ca=c + "/ca.pem",
                                               cert="%s/%s.pem" % (c, who),
                                               key="%s/%s.key" % (c, who), timeout=8,
                                               connect_timeout=3, retries=3)
        return self.cache[who]

    def close(self):
        for c in self.cache.values():
            c.close()
        self.cache = {}


# -----------------------------------------------------------------------------------------
# Load
# -----------------------------------------------------------------------------------------

class Inbox:
    """BUP's inbox under the consumer "soak": what arrived, and the acknowledged position."""

    def __init__(self, ledger):
        self.ledger = ledger
        self.lock = threading.Lock()
        self.last_cursor = 0     # highest cursor delivered
        self.acked = 0           # highest position an acknowledged Ack returned
        self.by_cursor = {}      # cursor -> (type, resource id)
        self.violations = []

    def poll(self, client, wait=0.3):
        with self.lock:
            after = self.last_cursor
        events = client.inbox.read(after, consumer="soak", wait=wait, max_events=500)
        with self.lock:
            for e in events:
                if e.cursor <= self.acked:
                    self.violations.append("inbox: event at cursor %d, at or below the "
                                           "acknowledged position %d" % (e.cursor, self.acked))
                key = (e.type, e.resource.id)
                if e.cursor in self.by_cursor and self.by_cursor[e.cursor] != key:
                    self.violations.append("inbox: cursor %d reused (%s, then %s)"
                                           % (e.cursor, self.by_cursor[e.cursor], key))
                if e.cursor <= self.last_cursor and e.cursor not in self.by_cursor:
                    self.violations.append("inbox: new event at cursor %d, not above %d"
                                           % (e.cursor, self.last_cursor))
                self.by_cursor[e.cursor] = key
                self.last_cursor = max(self.last_cursor, e.cursor)
            upto = self.last_cursor
        if events:
            position = client.inbox.ack(upto, consumer="soak")
            with self.lock:
                if position < self.acked:
                    self.violations.append("inbox: acknowledged position went back from %d to "
                                           "%d" % (self.acked, position))
                self.acked = max(self.acked, position)
        return len(events)

    def check_from_zero(self, client):
        """A read from 0 starts after the consumer's position: nothing at or below it."""
        with self.lock:
            acked = self.acked
        events = client.inbox.read(0, consumer="soak", wait=0.5, max_events=1)
        if events and events[0].cursor <= acked:
            with self.lock:
                self.violations.append("inbox: after the restart a read from 0 returned cursor "
                                       "%d, at or below the acknowledged position %d"
                                       % (events[0].cursor, acked))

    def received(self):
        """(type, resource id) -> number of distinct cursors that delivered it."""
        with self.lock:
            return collections.Counter(self.by_cursor.values())


class Load:
    def __init__(self, clients, ledger, inbox, children, rng_seed, round_no):
        self.clients = clients
        self.ledger = ledger
        self.inbox = inbox
        self.children = children
        self.round = round_no
        self.seed = rng_seed
        self.stop = threading.Event()
        self.ops = collections.Counter()
        self.threads = []

    def start(self):
        workers = [(self.ask, "kindergarten-staff"), (self.ask, "school-staff"),
                   (self.refer, 0), (self.refer, 1), (self.bup, None), (self.audit, None)]
        for i, (fn, arg) in enumerate(workers):
            rng = random.Random("%s-%d-%d" % (self.seed, self.round, i))
            t = threading.Thread(target=self.guard, args=(fn, arg, rng), daemon=True)
            t.start()
            self.threads.append(t)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)
            if t.is_alive():
                self.ledger.error("load", "a worker did not stop within 60 s")

    def guard(self, fn, arg, rng):
        while not self.stop.wait(rng.uniform(0.02, 0.15)):
            try:
                fn(arg, rng)
            except IN_FLIGHT:
                time.sleep(0.05)
            except Exception as e:  # noqa: BLE001 - reported, fails the run
                self.ledger.error(fn.__name__, repr(e))
                time.sleep(0.1)

    def write(self, kind, marker, rec, call):
        """Runs call(); on success records (kind, id) as acknowledged, on UNAVAILABLE or
        DEADLINE_EXCEEDED as in flight, and re-raises."""
        rec = dict(rec, round=self.round)
        try:
            result = call()
        except IN_FLIGHT:
            self.ledger.in_flight(kind, marker, dict(rec, call=call))
            raise
        self.ledger.ack(kind, result.id, dict(rec, id=result.id))
        self.ops[kind] += 1
        return result

    def ask(self, who, rng):
        c = self.clients(who)
        mark = token(rng)
        text = "Barnet sover dårlig og er urolig i samlingsstund, merke %s." % mark
        rid = budstikke.new_request_id()
        self.write("consultation", mark, {"who": who, "request_id": rid, "sha": sha(text)},
                   lambda: c.consultations.ask(text, age_band="3-5", concerns=["sleep"],
                                               to="bup-oslo", request_id=rid))

    def refer(self, n, rng):
        c = self.clients("gp-physician")
        child = self.children[n]
        mark = token(rng)
        purpose = "Henvisning til BUP for utredning, merke %s" % mark
        rid = budstikke.new_request_id()
        consent = self.write(
            "consent", mark, {"request_id": rid, "sha": sha(purpose), "child": child},
            lambda: c.consents.record(child, giver="guardian", giver_relation="mother",
                                      recipient="bup-oslo", purpose=purpose, scope="alt",
                                      method="written", request_id=rid))
        data = ("Epikrise %s: søvnvansker over seks måneder.\n" % mark).encode() * \
            rng.randint(1, 2000)
        rid = budstikke.new_request_id()
        att = self.write("attachment", mark, {"request_id": rid, "sha": sha(data)},
                         lambda: c.referrals.upload_attachment(
                             data, filename="epikrise-%s.txt" % mark, request_id=rid))
        reason = "Vedvarende angst og søvnvansker, merke %s." % mark
        rid = budstikke.new_request_id()
        self.write("referral", mark, {"request_id": rid, "sha": sha(reason),
                                      "consent": consent.id, "attachment": att.id,
                                      "attachment_sha": sha(data)},
                   lambda: c.referrals.send("bup-oslo", child, reason, consent_id=consent.id,
                                            attachment_ids=[att.id], request_id=rid))
        if rng.random() < 0.3:
            try:
                c.consents.revoke(consent.id, "Mor trekker samtykket")
            except IN_FLIGHT:
                with self.ledger.lock:
                    self.ledger.maybe_revoked.add(consent.id)
                raise
            with self.ledger.lock:
                self.ledger.revoked[consent.id] = self.round
            self.ops["revoke"] += 1

    def bup(self, _, rng):
        c = self.clients("bup-clinician")
        self.ops["inbox events"] += self.inbox.poll(c)
        with self.ledger.lock:
            todo = [r for r in self.ledger.acked["referral"]
                    if r not in self.ledger.acknowledged and r not in
                    self.ledger.maybe_acknowledged and r not in self.ledger.revoked_referrals()]
        for rid in rng.sample(todo, min(2, len(todo))):
            try:
                c.referrals.acknowledge(rid)
            except IN_FLIGHT:
                with self.ledger.lock:
                    self.ledger.maybe_acknowledged.add(rid)
                raise
            except budstikke.errors.BudstikkeError as e:
                # A revoke in flight may have withdrawn it: FAILED_PRECONDITION, not acked.
                if e.code_name != "FAILED_PRECONDITION":
                    raise
                continue
            with self.ledger.lock:
                self.ledger.acknowledged[rid] = self.round
            self.ops["acknowledge"] += 1

    def audit(self, _, rng):
        c = self.clients("auditor")
        page = next(c.audit.query(actor_agency=rng.choice(["bhg-solsikken", "legekontor-sentrum",
                                                           "bup-oslo", "skole-oslo"]),
                                  action=rng.choice(WRITE_ACTIONS), page_size=50))
        self.ops["audit queries"] += 1
        del page
        self.stop.wait(0.3)


def _revoked_referrals(self):
    """Referrals whose consent a Revoke may have touched (not acknowledged by BUP on purpose)."""
    gone = set(self.revoked) | self.maybe_revoked
    return {r for r, rec in self.acked["referral"].items() if rec["consent"] in gone}


Ledger.revoked_referrals = _revoked_referrals


# -----------------------------------------------------------------------------------------
# Verification
# -----------------------------------------------------------------------------------------

def marker_of(text):
    m = re.search(r"merke ([a-z]+)", text)
    return m.group(1) if m else None


class Verifier:
    def __init__(self, dep, clients, ledger, inbox, children, state_file, stats, rng, sample):
        self.dep = dep
        self.rng = rng
        self.sample = sample
        self.full = False
        self.found_in_flight = set()  # in-flight writes found stored and whole
        self.found_marker = {}  # (kind, marker) -> id of the in-flight write found stored
        self.c = clients
        self.ledger = ledger
        self.inbox = inbox
        self.children = children
        self.state = state_file
        self.stats = stats
        self.problems = []

    def fail(self, msg):
        self.problems.append(msg)

    def run(self, round_no):
        self.problems = []
        self.times = []
        self.timed("ready", self.wait_ready)
        with self.ledger.lock:
            acked = {k: dict(v) for k, v in self.ledger.acked.items()}
            maybe = {k: dict(v) for k, v in self.ledger.maybe.items()}
            revoked = dict(self.ledger.revoked)
            maybe_revoked = set(self.ledger.maybe_revoked)
            acknowledged = dict(self.ledger.acknowledged)
            maybe_ack = set(self.ledger.maybe_acknowledged)
        present = {}  # kind -> set of ids stored (acked or found in flight)
        present["consultation"] = self.timed(
            "consultations", self.check_consultations, acked, maybe, round_no)
        present["consent"] = self.timed(
            "consents", self.check_consents, acked, maybe, revoked, round_no)
        present["referral"], present["attachment"] = self.timed(
            "referrals", self.check_referrals, acked, maybe, acknowledged, round_no)
        present["attachment"] |= set(acked.get("attachment", {}))
        self.timed("withdrawals", self.check_withdrawals, acked, revoked, acknowledged,
                   maybe_ack, round_no)
        self.timed("audit", self.check_audit, acked, maybe, present, revoked, maybe_revoked,
                   acknowledged, maybe_ack)
        self.timed("inbox", self.check_inbox, acked, present)
        self.timed("verify", self.audit_verify)
        lost = [p for p in self.problems if p.startswith("LOST")]
        self.stats["lost"] += len(lost)
        self.stats["checked"] = sum(len(v) for v in acked.values()) + len(revoked) + \
            len(acknowledged)
        return self.problems

    def timed(self, what, fn, *args):
        t = time.monotonic()
        try:
            return fn(*args)
        finally:
            self.times.append("%s %.1f" % (what, time.monotonic() - t))

    def wait_ready(self):
        """Until one read of every service the load uses succeeds (through the gateway in
        microservices mode): the time a restart takes to be served again."""
        gp, bup = self.c("gp-physician"), self.c("bup-clinician")
        probes = [lambda: gp.whoami(timeout=5),
                  lambda: self.c(ASKERS[0]).consultations.list(mailbox="sent", page_size=1,
                                                               timeout=5),
                  lambda: gp.consents.list(subject=self.children[0], page_size=1, timeout=5),
                  lambda: gp.referrals.list(mailbox="sent", page_size=1, timeout=5),
                  lambda: bup.inbox.read(0, consumer="soak-probe", wait=0.2, max_events=1),
                  lambda: self.c("auditor").audit.checkpoint(timeout=5)]
        t0 = time.monotonic()
        deadline = t0 + 90
        for probe in probes:
            while True:
                try:
                    probe()
                    break
                except budstikke.errors.BudstikkeError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        self.stats["max ready ms"] = max(self.stats["max ready ms"],
                                         int((time.monotonic() - t0) * 1000))

    def content_set(self, records, round_no, extra=()):
        """Which stored records to read back in full this round: this round's writes, the
        in-flight ones found stored, a sample of older ones, and all of them in the last
        round (each read is itself audited, so reading everything every round would make
        the log grow with the square of the rounds)."""
        ids = set(extra)
        older = []
        for rid, rec in records.items():
            if self.full or rec["round"] == round_no:
                ids.add(rid)
            else:
                older.append(rid)
        ids.update(self.rng.sample(sorted(older), min(self.sample, len(older))))
        return ids

    def unknown(self, kind, maybe, rid, text):
        """A stored record no client saw acknowledged: must be a whole in-flight write.
        Returns its in-flight record, or None (reported)."""
        rec = maybe.get(kind, {}).get(marker_of(text))
        if rec is None:
            self.fail("UNKNOWN %s %s stored (marker %r): no call wrote it"
                      % (kind, rid, marker_of(text)))
            return None
        if rec["sha"] != sha(text):
            self.fail("PARTIAL %s %s: in-flight write stored with other content" % (kind, rid))
            return None
        self.found_in_flight.add(rid)
        self.found_marker[(kind, marker_of(text))] = rid
        return rec

    def check_consultations(self, acked, maybe, round_no):
        mine = acked.get("consultation", {})
        seen = set()
        for who in ASKERS:
            c = self.c(who)
            listed = {x.id for x in c.consultations.iter(mailbox="sent", page_size=500)}
            ours = {cid: rec for cid, rec in mine.items() if rec["who"] == who}
            for cid, rec in ours.items():
                if cid not in listed:
                    self.fail("LOST consultation %s (round %d): not in the sender's list"
                              % (cid, rec["round"]))
            strangers = listed - set(mine)
            for cid in sorted(self.content_set(ours, round_no, strangers) & listed):
                try:
                    x = c.consultations.get(cid)
                except budstikke.errors.BudstikkeError as e:
                    self.fail("LOST consultation %s: listed, but Get failed: %s" % (cid, e))
                    continue
                self.stats["content reads"] += 1
                if cid in mine:
                    if sha(x.text) != mine[cid]["sha"]:
                        self.fail("CORRUPT consultation %s: content differs" % cid)
                elif self.unknown("consultation", maybe, cid, x.text) is None:
                    continue
                seen.add(cid)
            seen |= listed & set(mine)
        return seen

    def check_consents(self, acked, maybe, revoked, round_no):
        mine = acked.get("consent", {})
        seen = set()
        gp = self.c("gp-physician")
        for child in self.children:
            listed = {x.id: x for x in gp.consents.iter(subject=child, page_size=500)}
            ours = {cid: rec for cid, rec in mine.items() if rec["child"] == child}
            for cid, rec in ours.items():
                if cid not in listed:
                    self.fail("LOST consent %s (round %d): not in the child's consents"
                              % (cid, rec["round"]))
            for cid, x in listed.items():
                if cid in revoked and x.status != consent_pb2.CONSENT_STATUS_REVOKED:
                    self.fail("LOST revocation of consent %s (round %d): status %s"
                              % (cid, revoked[cid], consent_pb2.ConsentStatus.Name(x.status)))
            strangers = set(listed) - set(mine)
            for cid in sorted(self.content_set(ours, round_no, strangers) & set(listed)):
                try:
                    x = gp.consents.get(cid)
                except budstikke.errors.BudstikkeError as e:
                    self.fail("LOST consent %s: listed, but Get failed: %s" % (cid, e))
                    continue
                self.stats["content reads"] += 1
                if x.subject_national_id != child:
                    self.fail("CORRUPT consent %s: another subject" % cid)
                if cid in mine:
                    if sha(x.purpose) != mine[cid]["sha"]:
                        self.fail("CORRUPT consent %s: purpose differs" % cid)
                elif self.unknown("consent", maybe, cid, x.purpose) is None:
                    continue
                seen.add(cid)
            seen |= set(listed) & set(mine)
        return seen

    def check_referrals(self, acked, maybe, acknowledged, round_no):
        mine = acked.get("referral", {})
        seen, attachments = set(), set()
        gp = self.c("gp-physician")
        listed = {x.id: x for x in gp.referrals.iter(mailbox="sent", page_size=500)}
        for rid, rec in mine.items():
            if rid not in listed:
                self.fail("LOST referral %s (round %d): not in the sender's list"
                          % (rid, rec["round"]))
        for rid, x in listed.items():
            if rid in acknowledged and x.status in (referral_pb2.REFERRAL_STATUS_SENT,
                                                    referral_pb2.REFERRAL_STATUS_WITHDRAWN):
                self.fail("LOST acknowledgement of referral %s (round %d): status %s"
                          % (rid, acknowledged[rid], referral_pb2.ReferralStatus.Name(x.status)))
        strangers = set(listed) - set(mine)
        for rid in sorted(self.content_set(mine, round_no, strangers) & set(listed)):
            try:
                x = gp.referrals.get(rid)
            except budstikke.errors.BudstikkeError as e:
                self.fail("LOST referral %s: listed, but Get failed: %s" % (rid, e))
                continue
            self.stats["content reads"] += 1
            rec = mine.get(rid)
            if rec is not None:
                if sha(x.reason) != rec["sha"]:
                    self.fail("CORRUPT referral %s: reason differs" % rid)
            else:
                rec = self.unknown("referral", maybe, rid, x.reason)
                if rec is None:
                    continue
            seen.add(rid)
            want = [(rec["attachment"], rec["attachment_sha"])]
            got = [(a.id, a.sha256.hex()) for a in x.attachments]
            if got != want:
                self.fail("CORRUPT referral %s: attachments %s, expected %s" % (rid, got, want))
                continue
            attachments.add(rec["attachment"])
            try:
                data = gp.referrals.download_attachment(rid, rec["attachment"]).data
            except budstikke.errors.BudstikkeError as e:
                self.fail("LOST attachment %s of referral %s: %s" % (rec["attachment"], rid, e))
                continue
            if sha(data) != rec["attachment_sha"]:
                self.fail("CORRUPT attachment %s: content differs" % rec["attachment"])
        seen |= set(listed) & set(mine)
        return seen, attachments

    def check_withdrawals(self, acked, revoked, acknowledged, maybe_ack, round_no):
        """A consent revoked (acknowledged) before BUP acknowledged the referral leaves it
        WITHDRAWN -- in microservices mode through the consent.revoked event, which a kill
        must not lose -- and BUP's reads of it refused (FAILED_PRECONDITION)."""
        want = {rid for rid, rec in acked.get("referral", {}).items()
                if rec["consent"] in revoked and rid not in acknowledged and rid not in maybe_ack}
        gp = self.c("gp-physician")
        deadline = time.monotonic() + 30
        while True:
            status = {x.id: x.status for x in gp.referrals.iter(mailbox="sent", page_size=500)}
            late = {r for r in want if status.get(r) != referral_pb2.REFERRAL_STATUS_WITHDRAWN}
            if not late or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        for rid in sorted(late):
            self.fail("LOST withdrawal of referral %s: consent %s revoked in round %d, status %s"
                      % (rid, acked["referral"][rid]["consent"],
                         revoked[acked["referral"][rid]["consent"]],
                         referral_pb2.ReferralStatus.Name(status.get(rid, 0))))
        self.stats["withdrawals checked"] = len(want)
        bup = self.c("bup-clinician")
        recent = sorted(r for r in want if self.full or
                        revoked[acked["referral"][r]["consent"]] == round_no)
        for rid in recent:
            try:
                bup.referrals.get(rid)
                self.fail("LEAK: BUP read referral %s after its consent was revoked" % rid)
            except budstikke.errors.BudstikkeError as e:
                if e.code_name != "FAILED_PRECONDITION":
                    self.fail("BUP's read of withdrawn referral %s: %s, expected "
                              "FAILED_PRECONDITION" % (rid, e))
            self.stats["content reads"] += 1

    def audit_counts(self, action):
        """resource id -> [request ids of its ALLOWED events with this action]."""
        out = collections.defaultdict(list)
        for r in self.c("auditor").audit.events(action=action, page_size=1000):
            if r.event.outcome == 1:  # AUDIT_OUTCOME_ALLOWED
                out[r.event.resource.id].append(r.event.request_id)
        return out

    def check_audit(self, acked, maybe, present, revoked, maybe_revoked, acknowledged, maybe_ack):
        kinds = {"consultation.create": "consultation", "consent.record": "consent",
                 "attachment.upload": "attachment", "referral.send": "referral"}
        # Every acknowledged write must show up; the outboxes drain asynchronously.
        expected = {a: set(acked.get(k, {})) for a, k in kinds.items()}
        expected["consent.revoke"] = set(revoked)
        expected["referral.acknowledge"] = set(acknowledged)
        deadline = time.monotonic() + 30
        while True:
            counts = {a: self.audit_counts(a) for a in WRITE_ACTIONS}
            missing = {a: ids - set(counts[a]) for a, ids in expected.items()}
            if not any(missing.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        for a, ids in missing.items():
            for rid in sorted(ids):
                self.fail("LOST audit event %s of %s" % (a, rid))
        for a, kind in kinds.items():
            for rid, rids in counts[a].items():
                if len(rids) > 1:
                    self.stats["duplicates"] += len(rids) - 1
                    self.fail("DUPLICATE audit: %d %s events for %s" % (len(rids), a, rid))
                if rid in acked.get(kind, {}) and rids[0] != acked[kind][rid]["request_id"]:
                    self.fail("audit %s of %s has request id %r, the call sent %r"
                              % (a, rid, rids[0], acked[kind][rid]["request_id"]))
                # An upload in flight is not listed anywhere: known by its request id.
                in_flight = {r["request_id"] for r in maybe.get(kind, {}).values()}
                if rid not in present[kind] and rids[0] not in in_flight:
                    self.fail("GHOST audit: %s event for %s, which is not stored" % (a, rid))
        for a, ok_ids in (("consent.revoke", set(revoked) | maybe_revoked),
                          ("referral.acknowledge", set(acknowledged) | maybe_ack)):
            for rid, rids in counts[a].items():
                if len(rids) > 1:
                    self.stats["duplicates"] += len(rids) - 1
                    self.fail("DUPLICATE audit: %d %s events for %s" % (len(rids), a, rid))
                if rid not in ok_ids:
                    self.fail("GHOST audit: %s event for %s, never called" % (a, rid))

    def check_inbox(self, acked, present):
        bup = self.c("bup-clinician")
        self.inbox.check_from_zero(bup)
        want = {(inbox_pb2.INBOX_EVENT_TYPE_CONSULTATION_RECEIVED, x)
                for x in acked.get("consultation", {})}
        want |= {(inbox_pb2.INBOX_EVENT_TYPE_REFERRAL_RECEIVED, x)
                 for x in acked.get("referral", {})}
        deadline = time.monotonic() + 30
        while True:
            self.inbox.poll(bup, wait=0.5)
            got = self.inbox.received()
            missing = want - set(got)
            if not missing or time.monotonic() > deadline:
                break
        for t, rid in sorted(missing):
            self.fail("LOST inbox event %s of %s" % (inbox_pb2.InboxEventType.Name(t), rid))
        allowed = present["consultation"] | present["referral"]
        for (t, rid), n in got.items():
            if t in (inbox_pb2.INBOX_EVENT_TYPE_CONSULTATION_RECEIVED,
                     inbox_pb2.INBOX_EVENT_TYPE_REFERRAL_RECEIVED):
                if n > 1:
                    self.fail("DUPLICATE inbox: %s of %s at %d cursors"
                              % (inbox_pb2.InboxEventType.Name(t), rid, n))
                if rid not in allowed:
                    self.fail("GHOST inbox: %s of %s, which is not stored"
                              % (inbox_pb2.InboxEventType.Name(t), rid))
        with self.inbox.lock:
            self.problems.extend(self.inbox.violations)
            self.inbox.violations = []

    def replay_in_flight(self, round_no):
        """What a client does after an outage: retry about half of the failed creates with
        the same request id. The retry must succeed and, when the first attempt was stored,
        return that record (no second record, no second audit event: the next round
        checks). Retried writes become acknowledged; the others stay in flight for good."""
        with self.ledger.lock:
            todo = [(k, m, r) for k, d in sorted(self.ledger.maybe.items())
                    for m, r in sorted(d.items(), key=lambda kv: kv[0])]
        replayed = 0
        for kind, mark, rec in todo:
            if self.rng.random() < 0.5:
                continue
            try:
                result = rec["call"]()
            except budstikke.errors.BudstikkeError as e:
                self.fail("retry of an in-flight %s with its request id failed: %s" % (kind, e))
                continue
            earlier = self.found_marker.get((kind, mark))
            if earlier is not None and result.id != earlier:
                self.fail("DUPLICATE %s: the retry of request %s made %s, the first attempt "
                          "stored %s" % (kind, rec["request_id"], result.id, earlier))
            with self.ledger.lock:
                del self.ledger.maybe[kind][mark]
                self.ledger.acked[kind][result.id] = dict(rec, id=result.id, round=round_no + 1)
            replayed += 1
        self.stats["in-flight retried"] += replayed
        return replayed

    def audit_verify(self):
        c = self.dep.certs
        env = dict(os.environ, BUDSTIKKE_SERVER=self.dep.address, BUDSTIKKE_CA=c + "/ca.pem",
                   BUDSTIKKE_CERT=c + "/auditor.pem", BUDSTIKKE_KEY=c + "/auditor.key")
        # The newest events may not be in a checkpoint yet: verify covers what is signed.
        r = subprocess.run([os.path.join(BIN, "budstikke"), "audit", "verify", "--state",
                            self.state, "--output", "json"], env=env, capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            self.fail("audit verify --state exited %d: %s %s" % (r.returncode, r.stdout.strip(),
                                                                 r.stderr.strip()))
            return
        out = json.loads(r.stdout)
        self.stats["tree size"] = out.get("tree_size")


# -----------------------------------------------------------------------------------------
# Rounds
# -----------------------------------------------------------------------------------------

def run_mode(mode, rounds, seed, load_min, load_max, keep, sample=20):
    work = tempfile.mkdtemp(prefix="crash-loop-%s-" % mode)
    rng = random.Random("%s-%s" % (seed, mode))
    children = [synthetic_id(d, 5, 2015) for d in (11, 12)]
    t0 = time.monotonic()
    dep = AllInOne(work) if mode == "all" else Cluster(work)
    clients = Clients(dep)
    ledger = Ledger()
    inbox = Inbox(ledger)
    stats = collections.Counter()
    verifier = Verifier(dep, clients, ledger, inbox, children,
                        os.path.join(work, "audit-state.json"), stats, rng, sample)
    passed, ran, failures = 0, 0, []
    ops = collections.Counter()
    try:
        for n in range(1, rounds + 1):
            r0 = time.monotonic()
            ran = n
            load = Load(clients, ledger, inbox, children, seed, n)
            load.start()
            time.sleep(rng.uniform(load_min, load_max))
            killed = dep.crash(rng)
            load.finish()
            t0r = t1 = time.monotonic()
            verifier.full = n == rounds
            verifier.times = []
            aborted = None
            try:
                dep.restart(killed)
                t1 = time.monotonic()
                problems = verifier.run(n)
                if n < rounds:
                    verifier.problems = []
                    verifier.replay_in_flight(n)
                    problems += verifier.problems
            except Exception as e:  # noqa: BLE001 - a restart or a check that cannot finish
                aborted = "round aborted: %r" % e
                problems = verifier.problems + [aborted]
            t2 = time.monotonic()
            with ledger.lock:
                problems += ["unexpected error in the load: " + e for e in ledger.unexpected]
                ledger.unexpected = []
            ops.update(load.ops)
            status = "ok" if not problems else "FAILED"
            print("crash_loop %s round %d/%d: killed %s; %s; %d acknowledged writes checked; "
                  "%.1f s (restart %.1f s, checks %.1f s: %s) %s"
                  % (dep.name, n, rounds, ",".join(killed),
                     ", ".join("%s %d" % kv for kv in sorted(load.ops.items())),
                     stats["checked"], time.monotonic() - r0, t1 - t0r, t2 - t1,
                     ", ".join(verifier.times), status),
                  flush=True)
            if problems:
                for p in problems[:30]:
                    print("  " + p, flush=True)
                failures.append((n, problems))
                if aborted:
                    break
            else:
                passed += 1
    finally:
        clients.close()
        dep.stop()
    elapsed = time.monotonic() - t0
    summary = {"mode": dep.name, "rounds_passed": passed, "rounds_run": ran,
               "rounds_planned": rounds,
               "acknowledged_writes_checked": stats["checked"], "lost": stats["lost"],
               "audit_duplicates": stats["duplicates"],
               "in_flight_found_whole": len(verifier.found_in_flight),
               "in_flight_retried": stats["in-flight retried"],
               "content_reads": stats["content reads"],
               "withdrawals_checked": stats["withdrawals checked"],
               "max_seconds_to_serve_after_restart": stats["max ready ms"] / 1000,
               "audit_tree_size": stats["tree size"], "seconds": round(elapsed, 1),
               "operations": dict(ops)}
    print("crash_loop summary: " + json.dumps(summary, sort_keys=True), flush=True)
    if failures:
        print("crash_loop: data kept in %s" % work)
    elif not keep:
        shutil.rmtree(work, ignore_errors=True)
    return not failures


def self_test(seed):
    """Proves the checks can fail: one round of load and a kill, then the ledger is
    falsified -- a consultation that was never stored, a consent whose recorded content
    differs, a referral and a revocation the clients never made, an inbox position above
    the real one -- and each must be reported; the untouched ledger must pass."""
    work = tempfile.mkdtemp(prefix="crash-loop-self-test-")
    rng = random.Random(seed)
    children = [synthetic_id(d, 5, 2015) for d in (11, 12)]
    dep = AllInOne(work)
    clients = Clients(dep)
    ledger = Ledger()
    inbox = Inbox(ledger)
    verifier = Verifier(dep, clients, ledger, inbox, children,
                        os.path.join(work, "audit-state.json"), collections.Counter(), rng, 20)
    missed = []
    try:
        load = Load(clients, ledger, inbox, children, seed, 1)
        load.start()
        time.sleep(3)
        dep.crash(rng)
        load.finish()
        dep.restart(["server"])
        clean = verifier.run(1)
        if clean or ledger.unexpected:
            missed.append("the untouched ledger did not pass: %s" % (clean + ledger.unexpected))
        verifier.full = True
        with ledger.lock:
            ghost = "f" * 32
            ledger.acked["consultation"][ghost] = {"who": ASKERS[0], "request_id": "x",
                                                   "sha": sha(""), "round": 1, "id": ghost}
            consent = sorted(ledger.acked["consent"])[0]
            ledger.acked["consent"][consent] = dict(ledger.acked["consent"][consent],
                                                    sha=sha("other"))
            referral = sorted(ledger.acked["referral"])[0]
            del ledger.acked["referral"][referral]
            revoked = sorted(ledger.revoked)[0]
            del ledger.revoked[revoked]
        # A consultation after the falsified position, so that a read from 0 returns one.
        clients(ASKERS[0]).consultations.ask("Barnet sover dårlig, merke selvtest.",
                                             age_band="3-5", concerns=["sleep"], to="bup-oslo")
        time.sleep(1)
        with inbox.lock:
            inbox.acked = 2 ** 62  # cursors are about start time in ms x 1000
        got = verifier.run(2)
        expected = ["LOST consultation %s" % ghost, "CORRUPT consent %s" % consent,
                    "UNKNOWN referral %s" % referral,
                    "GHOST audit: referral.send event for %s" % referral,
                    "GHOST audit: consent.revoke event for %s, never called" % revoked,
                    "inbox: after the restart a read from 0 returned cursor"]
        for want in expected:
            if not any(p.startswith(want) for p in got):
                missed.append("not reported: " + want)
        print("crash_loop self-test: %d falsifications, %d reported"
              % (len(expected), len(expected) - len([m for m in missed
                                                     if m.startswith("not reported")])))
        if missed:
            for p in got:
                print("  found: " + p)
    finally:
        clients.close()
        dep.stop()
    for m in missed:
        print("crash_loop self-test FAILED: " + m)
    if not missed:
        shutil.rmtree(work, ignore_errors=True)
    return not missed


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mode", choices=["all", "cluster", "both"], default="both")
    p.add_argument("--rounds", type=int, help="rounds for --mode all or cluster")
    p.add_argument("--rounds-all", type=int,
                   default=int(os.environ.get("SOAK_ROUNDS_ALL", "5")))
    p.add_argument("--rounds-cluster", type=int,
                   default=int(os.environ.get("SOAK_ROUNDS_CLUSTER", "3")))
    p.add_argument("--load-seconds", default="1.5-4",
                   help="load before each kill: a random time in MIN-MAX seconds")
    p.add_argument("--seed", default=str(int(time.time())))
    p.add_argument("--keep", action="store_true", help="keep the work dir")
    p.add_argument("--self-test", action="store_true",
                   help="first prove the checks report a falsified ledger")
    a = p.parse_args()
    lo, hi = (float(x) for x in a.load_seconds.split("-"))
    print("crash_loop: seed %s" % a.seed, flush=True)
    plan = []
    if a.mode in ("all", "both"):
        plan.append(("all", a.rounds if a.rounds is not None and a.mode == "all"
                     else a.rounds_all))
    if a.mode in ("cluster", "both"):
        plan.append(("cluster", a.rounds if a.rounds is not None and a.mode == "cluster"
                     else a.rounds_cluster))
    ok = self_test(a.seed) if a.self_test else True
    for mode, rounds in plan:
        if rounds > 0:
            ok = run_mode(mode, rounds, a.seed, lo, hi, a.keep) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
