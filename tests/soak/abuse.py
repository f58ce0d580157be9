#!/usr/bin/python3
"""Abuse (issue 20, "Build and prove" point 5): well-behaved clients keep their latency
while others misbehave, and the server's memory stays bounded.

  tests/soak/abuse.py                      long form: 30 s per phase (make abuse, make soak)
  tests/soak/abuse.py --seconds 8          short form
  tests/soak/abuse.py --phases oversized,streams

Starts the all-in-one budstikke-server (the real binary, mTLS, a fresh data dir, durable
writes and --rate-limit at its default, so the abusers' refusals are exercised). Four
well-behaved clients, each with its own identity and connection, run a paced fixed mix
(Ask to bup-oslo, List of the sent mailbox, WhoAmI; 10 calls/s each) in a process of
their own. The first phase measures them alone (the baseline); then each abuse phase runs
the same load while abusers (other processes, niced so that their own client-side CPU
does not count against the server) misbehave:

  oversized    messages above --max-message-bytes (Ask of 5 MiB), just below it
               (CheckText of 4 MiB - 1 KiB), a 20 KiB and a 1 MiB header, 2,000 headers
  streams      5,000 concurrent Subscribe streams from 96 identities in 8 agencies (most
               refused by the inbox.subscriptions caps 8/64/512: outcomes counted)
  slow-readers Subscribe streams of bup-oslo, where the good clients' Asks land, from
               cursor 0 that never read a message
  stalled-uploads  8 callers of 4 agencies start 2 uploads each and then send nothing
               (all 16 upload slots), 1,000 upload streams send not even their metadata,
               and an outsider of a fifth agency tries to upload every second: it must get
               a slot within the idle timeout (30 s) + 10 s; this phase runs >= 45 s
  churn        a new TLS connection per call (WhoAmI) and bare TCP / TLS connections
               closed at once, as fast as they go
  bad-certs    clients with expired and not-yet-valid certificates of the CA and one of
               an untrusted CA (handshake refused: UNAVAILABLE)

CPUs (--abuser-cpus): the abusers stand for clients on other machines, so by default
(auto, with at least 2 CPUs) they run on the last CPU of this process's affinity mask and
the server, the good clients and the driver on the others, in the baselines too; so the
ratio measures the server's work for the abuse, not the abusers' own. `--abuser-cpus none`
shares every CPU (the abusers only niced), as before 2026-12.

The server's RSS (VmRSS of /proc/PID/status) and thread count are sampled every 100 ms.
Per phase: the good clients' p50/p99 and the p99's ratio to the baseline's, their errors,
the server's peak RSS and threads, and the abusers' outcome counts. A baseline window runs
before the first phase and after every phase (the machine is shared: its load drifts), and
each phase's p99 is compared with the two baselines around it, taken together. Exit status 1
when a good client saw an error,
a p99 ratio exceeds --max-ratio (3), the peak RSS exceeds --rss-bound-mib (512), the
server ran more threads than the caps explain (baseline + 512 streams + 16 uploads + 100),
the server died, or an abuse got through (an oversized call or a bad certificate answered
OK, more streams admitted than the caps allow, the outsider's upload starved); 0 otherwise.

Environment: BUDSTIKKE_BIN_DIR (default build/bin), BUDSTIKKE_SOURCE_DIR (default: this
repository).
"""
import argparse
import collections
import datetime
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid

SRC = os.environ.get("BUDSTIKKE_SOURCE_DIR",
                     os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.path.abspath(os.environ.get("BUDSTIKKE_BIN_DIR", os.path.join(SRC, "build", "bin")))
PY_DIR = os.path.join(SRC, "clients", "python")
if not os.path.isdir(os.path.join(PY_DIR, "budstikke", "_gen")):
    subprocess.run([sys.executable, os.path.join(PY_DIR, "generate.py")], check=True,
                   stdout=subprocess.DEVNULL)
sys.path.insert(0, PY_DIR)

import grpc  # noqa: E402

from budstikke.pb import (consultation_pb2, consultation_pb2_grpc, directory_pb2,  # noqa: E402
                          directory_pb2_grpc, inbox_pb2, inbox_pb2_grpc, referral_pb2,
                          referral_pb2_grpc, types_pb2)

TD = "budstikke.test"
PHASES = ["oversized", "streams", "slow-readers", "stalled-uploads", "churn", "bad-certs"]
MAX_MESSAGE = 4 * 1024 * 1024  # the server's --max-message-bytes default
GOOD = [("good-1", "bhg-solsikken", "staff"), ("good-2", "bhg-solsikken", "staff"),
        ("good-3", "skole-oslo", "staff"), ("good-4", "skole-oslo", "staff")]
# Agencies whose people may Subscribe (professional roles), with such a role.
STREAM_AGENCIES = [("bhg-solsikken", "staff"), ("skole-oslo", "staff"),
                   ("helsestasjon-oslo", "staff"), ("legekontor-sentrum", "physician"),
                   ("ppt-oslo", "psychologist"), ("barnevern-oslo", "child_welfare_leader"),
                   ("bup-oslo", "clinician"), ("bup-oslo-akutt", "clinician")]
STREAM_USERS = 12      # per agency: 96 identities
STREAMS = 5000         # in all
SLOW_USERS = 8         # bup-oslo identities with 8 never-read streams each (64: the agency cap)
CAPS = {"caller": 8, "agency": 64, "total": 512}
# Stalled uploads: 2 identities x 2 uploads in each of 4 agencies hold all 16 upload slots
# (caps 2/4/16); NOMETA_USERS identities open NOMETA_STREAMS upload streams in all that
# never send their metadata; an outsider of a fifth agency tries to upload every second.
STALL_AGENCIES = [("bhg-solsikken", "staff"), ("skole-oslo", "staff"),
                  ("helsestasjon-oslo", "staff"), ("ppt-oslo", "psychologist")]
NOMETA_USERS = 4
NOMETA_STREAMS = 1000
UPLOAD_IDLE_S = 30     # the server's default --stream-idle-seconds
STALL_SECONDS = 45     # the stalled-uploads phase runs at least this long
# Threads the server may add in a phase over the baseline before it: one per admitted
# stream (the sync server's handlers), bounded by the caps, and some slack.
THREADS_BOUND = CAPS["total"] + 16 + 100
ASK_TEXT = "Barnet sover dårlig og er urolig i samlingsstund."
# Unencrypted headers are left to gRPC; let the clients send what the server must refuse.
ABUSE_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1),
                 ("grpc.max_metadata_size", 4 << 20), ("grpc.use_local_subchannel_pool", 1)]


# -----------------------------------------------------------------------------------------
# Certificates
# -----------------------------------------------------------------------------------------

def mint(certs, name, spiffe_id, not_before, not_after, ca_dir=None):
    """Writes certs/NAME.pem and .key: a client certificate with one URI SAN, signed by the
    CA in ca_dir (default certs), valid from not_before to not_after (any dates: openssl
    x509 cannot backdate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    ca_dir = ca_dir or certs
    with open(os.path.join(ca_dir, "ca.pem"), "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(ca_dir, "ca.key"), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(spiffe_id)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    with open(os.path.join(certs, name + ".key"), "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(os.path.join(certs, name + ".pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def person(agency, role, user):
    return "spiffe://%s/agency/%s/role/%s/user/%s" % (TD, agency, role, user)


def stream_identities():
    return ["stream-%s-%d" % (a, u) for a, _ in STREAM_AGENCIES for u in range(STREAM_USERS)]


def make_certs(work):
    certs = os.path.join(work, "certs")
    subprocess.run(["bash", os.path.join(SRC, "certs/dev-certs.sh"), certs], check=True,
                   capture_output=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ok = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=30))
    for name, agency, role in GOOD:
        mint(certs, name, person(agency, role, name), *ok)
    for agency, role in STREAM_AGENCIES:
        for u in range(STREAM_USERS):
            name = "stream-%s-%d" % (agency, u)
            mint(certs, name, person(agency, role, name), *ok)
    for u in range(SLOW_USERS):
        mint(certs, "slow-%d" % u, person("bup-oslo", "clinician", "slow%d" % u), *ok)
    for u in range(4):
        mint(certs, "big-%d" % u, person("bhg-solsikken", "staff", "big%d" % u), *ok)
        mint(certs, "churn-%d" % u, person("skole-oslo", "staff", "churn%d" % u), *ok)
    for agency, role in STALL_AGENCIES:
        for u in range(2):
            name = "stall-%s-%d" % (agency, u)
            mint(certs, name, person(agency, role, name), *ok)
    for u in range(NOMETA_USERS):
        mint(certs, "nometa-%d" % u, person("barnevern-oslo", "child_welfare_leader",
                                            "nometa%d" % u), *ok)
    mint(certs, "outsider", person("legekontor-sentrum", "physician", "outsider"), *ok)
    mint(certs, "expired", person("bhg-solsikken", "staff", "expired"),
         now - datetime.timedelta(days=30), now - datetime.timedelta(days=1))
    mint(certs, "not-yet-valid", person("bhg-solsikken", "staff", "notyet"),
         now + datetime.timedelta(days=1), now + datetime.timedelta(days=30))
    rogue = os.path.join(work, "rogue")
    subprocess.run(["bash", os.path.join(SRC, "certs/mint-cert.sh"), "make-ca", rogue],
                   check=True, capture_output=True)
    mint(certs, "untrusted", person("bhg-solsikken", "staff", "kari"), *ok, ca_dir=rogue)
    return certs


# -----------------------------------------------------------------------------------------
# The server and its memory
# -----------------------------------------------------------------------------------------

class Server:
    """One budstikke-server on a free loopback port: durable, --rate-limit at its default."""

    def __init__(self, work, certs):
        self.work = work
        out = os.path.join(work, "server.out")
        self.log = os.path.join(work, "server.log")
        c = certs
        argv = [os.path.join(BIN, "budstikke-server"), "--listen", "127.0.0.1:0",
                "--data-dir", os.path.join(work, "data"),
                "--tls-cert", c + "/server.pem", "--tls-key", c + "/server.key",
                "--tls-ca", c + "/ca.pem", "--master-key-file", c + "/master.key",
                "--audit-signing-key-file", c + "/audit-signing.key",
                "--audit-anchor-file", os.path.join(work, "audit.anchor"),
                "--seed-directory", os.path.join(SRC, "certs/dev-directory.json")]
        with open(out, "w") as o, open(self.log, "a") as e:
            self.proc = subprocess.Popen(argv, stdout=o, stderr=e, stdin=subprocess.DEVNULL,
                                         cwd=SRC)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(out) as f:
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", f.read())
            if m:
                self.address = "localhost:" + m.group(1)
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("the server did not start: " + self.tail())

    def tail(self, n=2000):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Sampler(threading.Thread):
    """Samples the server's VmRSS and thread count every 100 ms; peaks per window."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.reset()

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.peak_kib = 0
            self.peak_threads = 0
            self.last_kib = 0

    def read(self):
        rss = threads = 0
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        return rss, threads

    def run(self):
        while not self.stopped.wait(0.1):
            try:
                rss, threads = self.read()
            except OSError:
                return
            with self.lock:
                self.last_kib = rss
                self.peak_kib = max(self.peak_kib, rss)
                self.peak_threads = max(self.peak_threads, threads)

    def window(self):
        with self.lock:
            return {"peak_rss_mib": round(self.peak_kib / 1024, 1),
                    "peak_threads": self.peak_threads,
                    "rss_mib": round(self.last_kib / 1024, 1)}


# -----------------------------------------------------------------------------------------
# Client plumbing (used in the child processes)
# -----------------------------------------------------------------------------------------

def read(path):
    with open(path, "rb") as f:
        return f.read()


def credentials(certs, name):
    return grpc.ssl_channel_credentials(read(certs + "/ca.pem"),
                                        read("%s/%s.key" % (certs, name)),
                                        read("%s/%s.pem" % (certs, name)))


def channel(address, certs, name, options=ABUSE_OPTIONS):
    return grpc.secure_channel(address, credentials(certs, name), options=list(options))


def ask_request(text=ASK_TEXT):
    return consultation_pb2.AskConsultationRequest(
        request_id=str(uuid.uuid4()),
        recipient=consultation_pb2.ConsultationRecipient(agency="bup-oslo"),
        age_band=consultation_pb2.AGE_BAND_3_5, concerns=[consultation_pb2.CONCERN_SLEEP],
        text=text)


def outcome(e):
    """A short name for a call's failure: the code and what kind of refusal."""
    code = e.code().name if hasattr(e, "code") and e.code() else "ERROR"
    msg = (e.details() or "") if hasattr(e, "details") else str(e)
    if code != "RESOURCE_EXHAUSTED":
        return code
    for key, words in (("per caller", "caller"), ("per agency", "agency"),
                       ("on this server", "total"), ("rate limit", "rate_limit"),
                       ("larger than max", "too_large"), ("metadata", "metadata")):
        if key in msg.lower():
            return "%s(%s)" % (code, words)
    return code


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.samples = {}

    def add(self, what, detail=""):
        with self.lock:
            self.counts[what] += 1
            if detail and what not in self.samples:
                self.samples[what] = detail[:300]


class Control:
    """An abuser's signals from and to the driver: it writes `ready` when its abuse is in
    place and runs until `stop` exists."""

    def __init__(self, ready, stop):
        self.ready_path, self.stop_path = ready, stop
        self.stopped = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        while not os.path.exists(self.stop_path):
            time.sleep(0.05)
        self.stopped.set()

    def ready(self):
        with open(self.ready_path, "w") as f:
            f.write("ready\n")

    def running(self):
        return not self.stopped.is_set()


def run_threads(n, fn):
    threads = [threading.Thread(target=fn, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# -----------------------------------------------------------------------------------------
# The well-behaved clients
# -----------------------------------------------------------------------------------------

def good_clients(address, certs, seconds, rate):
    """Each good client: its own connection, one call every 1/rate s, cycling through Ask,
    List (sent mailbox, 20) and WhoAmI. Latencies in ms per operation; every error kept."""
    lat = collections.defaultdict(list)
    errors = []
    lock = threading.Lock()
    start = time.monotonic() + 0.5

    def client(i):
        name = GOOD[i][0]
        ch = grpc.secure_channel(address, credentials(certs, name))
        try:
            grpc.channel_ready_future(ch).result(timeout=10)
        except grpc.FutureTimeoutError:
            with lock:
                errors.append("%s: no connection within 10 s" % name)
            return
        cons = consultation_pb2_grpc.ConsultationServiceStub(ch)
        dirs = directory_pb2_grpc.DirectoryServiceStub(ch)
        ops = [("ask", lambda: cons.Ask(ask_request(), timeout=10)),
               ("list", lambda: cons.List(consultation_pb2.ListConsultationsRequest(
                   mailbox=types_pb2.MAILBOX_SENT, page_size=20), timeout=10)),
               ("whoami", lambda: dirs.WhoAmI(directory_pb2.WhoAmIRequest(), timeout=10))]
        period = 1.0 / rate
        t_next = start + i * period / len(GOOD)  # spread the clients over the period
        k = i
        while True:
            now = time.monotonic()
            if now >= start + seconds:
                break
            if t_next > now:
                time.sleep(t_next - now)
            op, call = ops[k % len(ops)]
            k += 1
            t0 = time.perf_counter()
            try:
                call()
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    lat[op].append(ms)
            except grpc.RpcError as e:
                with lock:
                    errors.append("%s %s: %s" % (op, e.code().name, e.details()))
            t_next += period
        ch.close()

    run_threads(len(GOOD), client)
    return {"latencies_ms": lat, "errors": errors}


# -----------------------------------------------------------------------------------------
# The abusers
# -----------------------------------------------------------------------------------------

def abuse_oversized(address, certs, ctl, part):
    c = Counter()
    big_ask = ask_request("a" * (5 * 1024 * 1024))
    near = consultation_pb2.CheckTextRequest(text="a " * ((MAX_MESSAGE - 1024) // 2))
    many = [("x-abuse-%d" % i, "v") for i in range(2000)]
    kinds = [
        ("message_5MiB", lambda s, d: s.Ask(big_ask, timeout=10)),
        ("message_4MiB_minus_1KiB", lambda s, d: s.CheckText(near, timeout=10)),
        ("header_20KiB", lambda s, d: d.WhoAmI(directory_pb2.WhoAmIRequest(), timeout=10,
                                               metadata=[("x-abuse", "h" * 20 * 1024)])),
        ("header_1MiB", lambda s, d: d.WhoAmI(directory_pb2.WhoAmIRequest(), timeout=10,
                                              metadata=[("x-abuse", "h" * (1 << 20))])),
        ("headers_2000", lambda s, d: d.WhoAmI(directory_pb2.WhoAmIRequest(), timeout=10,
                                               metadata=many)),
    ]
    ctl.ready()

    def worker(i):
        ch = channel(address, certs, "big-%d" % i)
        s = consultation_pb2_grpc.ConsultationServiceStub(ch)
        d = directory_pb2_grpc.DirectoryServiceStub(ch)
        k = i
        while ctl.running():
            name, call = kinds[k % len(kinds)]
            k += 1
            try:
                call(s, d)
                c.add(name + " OK")
            except grpc.RpcError as e:
                c.add("%s %s" % (name, outcome(e)), e.details() or "")
        ch.close()

    run_threads(4, worker)
    return {"counts": dict(c.counts), "samples": c.samples}


def abuse_streams(address, certs, ctl, names, per_name, from_cursor=0):
    """Opens per_name Subscribe streams for each identity (all at once, never reading
    them), holds them until told to stop, then cancels them. Counts the refusals by cap and
    the streams still open (admitted)."""
    c = Counter()
    t0 = time.monotonic()
    calls = []
    channels = []
    for name in names:
        ch = channel(address, certs, name)
        channels.append(ch)
        stub = inbox_pb2_grpc.InboxServiceStub(ch)
        for _ in range(per_name):
            calls.append((name, stub.Subscribe(
                inbox_pb2.SubscribeRequest(from_cursor=from_cursor), timeout=3600)))
    # Ready once every call has an answer or is still running after the refusals settled.
    pending = len(calls)
    while True:
        time.sleep(0.5)
        now_pending = sum(1 for _, call in calls if not call.done())
        if now_pending == pending:
            break
        pending = now_pending
    opened_s = time.monotonic() - t0
    ctl.ready()
    ctl.stopped.wait()
    open_by_agency = collections.Counter()
    for name, call in calls:
        if call.done():
            code, details = call.code(), call.details() or ""
            fake = type("E", (), {"code": lambda self: code, "details": lambda self: details})
            c.add(outcome(fake()), details)
        else:
            c.add("open (admitted, never read)")
            open_by_agency[name.rsplit("-", 1)[0]] += 1
    for _, call in calls:
        call.cancel()
    for ch in channels:
        ch.close()
    return {"counts": dict(c.counts), "samples": c.samples, "opened_in_s": round(opened_s, 1),
            "open_by_agency": dict(open_by_agency)}


def abuse_churn(address, certs, ctl, part):
    c = Counter()
    host, port = address.rsplit(":", 1)

    def grpc_worker(i):
        name = "churn-%d" % ((part * 2 + i) % 4)
        creds = credentials(certs, name)
        while ctl.running():
            ch = grpc.secure_channel(address, creds, options=ABUSE_OPTIONS)
            try:
                directory_pb2_grpc.DirectoryServiceStub(ch).WhoAmI(
                    directory_pb2.WhoAmIRequest(), timeout=5)
                c.add("TLS connection + WhoAmI OK")
            except grpc.RpcError as e:
                c.add("TLS connection + WhoAmI " + outcome(e), e.details() or "")
            ch.close()

    def raw_worker(i):
        name = "churn-%d" % (i % 4)
        tls = ssl.create_default_context(cafile=certs + "/ca.pem")
        tls.load_cert_chain("%s/%s.pem" % (certs, name), "%s/%s.key" % (certs, name))
        tls.set_alpn_protocols(["h2"])
        while ctl.running():
            try:
                socket.create_connection((host, int(port)), timeout=5).close()
                c.add("TCP connect + close")
            except OSError as e:
                c.add("TCP connect " + type(e).__name__, str(e))
            try:
                with socket.create_connection((host, int(port)), timeout=5) as s:
                    with tls.wrap_socket(s, server_hostname=host):
                        pass
                c.add("TLS handshake + close")
            except (OSError, ssl.SSLError) as e:
                c.add("TLS handshake " + type(e).__name__, str(e))

    threads = [threading.Thread(target=grpc_worker, args=(i,), daemon=True) for i in range(2)]
    threads += [threading.Thread(target=raw_worker, args=(i,), daemon=True) for i in range(6)]
    t0 = time.monotonic()
    ctl.ready()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"counts": dict(c.counts), "samples": c.samples,
            "connections_per_s": round(sum(c.counts.values()) / (time.monotonic() - t0), 1)}


def abuse_bad_certs(address, certs, ctl, part):
    c = Counter()
    host, port = address.rsplit(":", 1)
    ctl.ready()

    def worker(i):
        name = ["expired", "not-yet-valid", "untrusted"][i % 3]
        creds = credentials(certs, name)
        while ctl.running():
            ch = grpc.secure_channel(address, creds, options=ABUSE_OPTIONS)
            try:
                directory_pb2_grpc.DirectoryServiceStub(ch).WhoAmI(
                    directory_pb2.WhoAmIRequest(), timeout=5)
                c.add(name + " OK")
            except grpc.RpcError as e:
                c.add("%s %s" % (name, e.code().name), e.details() or "")
            ch.close()

    run_threads(6, worker)
    return {"counts": dict(c.counts), "samples": c.samples}


def upload_metadata(data):
    return referral_pb2.AttachmentMetadata(
        request_id=str(uuid.uuid4()), filename="notat.txt", content_type="text/plain",
        kind=referral_pb2.ATTACHMENT_KIND_OTHER, size=len(data),
        sha256=hashlib.sha256(data).digest())


def abuse_stalled_uploads(address, certs, ctl, part):
    """Uploads that send their metadata and then nothing, holding every upload slot;
    upload streams that never send anything; and an outsider who tries to upload a small
    file every second: when does it first get through?"""
    c = Counter()
    data = b"Notat fra legekontoret.\n" * 40
    hold = threading.Event()

    def stalled(with_metadata):
        if with_metadata:
            yield referral_pb2.UploadAttachmentRequest(metadata=upload_metadata(data))
        hold.wait()

    t0 = time.monotonic()
    futures, channels = [], []
    for agency, _ in STALL_AGENCIES:
        for u in range(2):
            ch = channel(address, certs, "stall-%s-%d" % (agency, u))
            channels.append(ch)
            stub = referral_pb2_grpc.ReferralServiceStub(ch)
            futures += [("metadata, then nothing", stub.UploadAttachment.future(
                stalled(True), timeout=3600)) for _ in range(2)]
    for u in range(NOMETA_USERS):
        ch = channel(address, certs, "nometa-%d" % u)
        channels.append(ch)
        stub = referral_pb2_grpc.ReferralServiceStub(ch)
        futures += [("nothing at all", stub.UploadAttachment.future(stalled(False),
                                                                    timeout=3600))
                    for _ in range(NOMETA_STREAMS // NOMETA_USERS)]
    time.sleep(2)
    ctl.ready()
    outsider = referral_pb2_grpc.ReferralServiceStub(channel(address, certs, "outsider"))
    first_ok = None
    while ctl.running():
        try:
            outsider.UploadAttachment(iter([
                referral_pb2.UploadAttachmentRequest(metadata=upload_metadata(data)),
                referral_pb2.UploadAttachmentRequest(chunk=data)]), timeout=10)
            c.add("outsider upload OK")
            if first_ok is None:
                first_ok = time.monotonic() - t0
        except grpc.RpcError as e:
            c.add("outsider upload " + outcome(e), e.details() or "")
        ctl.stopped.wait(1)
    for kind, f in futures:
        if f.done():
            c.add("%s: %s" % (kind, outcome(f)), f.details() or "")
        else:
            c.add("%s: still open" % kind)
    hold.set()
    for _, f in futures:
        f.cancel()
    for ch in channels:
        ch.close()
    return {"counts": dict(c.counts), "samples": c.samples,
            "outsider_first_ok_s": round(first_ok, 1) if first_ok is not None else None}


# Processes per abuse (so that Python's GIL does not cap the abuse).
PROCESSES = {"oversized": 1, "streams": 4, "slow-readers": 1, "stalled-uploads": 1, "churn": 2,
             "bad-certs": 1}


def run_abuser(phase, address, certs, ctl, part):
    if phase == "streams":  # part of the agencies each
        n = PROCESSES[phase]
        names = [x for i, x in enumerate(stream_identities())
                 if (i // STREAM_USERS) % n == part]
        per_name = -(-STREAMS // (STREAM_USERS * len(STREAM_AGENCIES)))
        return abuse_streams(address, certs, ctl, names, per_name)
    if phase == "slow-readers":
        return abuse_streams(address, certs, ctl, ["slow-%d" % u for u in range(SLOW_USERS)],
                             CAPS["caller"])
    return {"oversized": abuse_oversized, "stalled-uploads": abuse_stalled_uploads,
            "churn": abuse_churn, "bad-certs": abuse_bad_certs}[phase](address, certs, ctl,
                                                                       part)


# -----------------------------------------------------------------------------------------
# The driver
# -----------------------------------------------------------------------------------------

ABUSER_NICE = 5  # relative to the driver and the server
# CPU sets (None: every CPU): set by split_cpus() in the driver before anything starts.
CPUS = {"abuser": None, "rest": None}


def split_cpus(spec):
    """--abuser-cpus: "auto" (the last CPU for the abusers if there are 2 or more), "none",
    or a comma-separated list. Pins the driver (and so the server and good clients it starts)
    to the rest."""
    mine = sorted(os.sched_getaffinity(0))
    if spec == "none" or (spec == "auto" and len(mine) < 2):
        return
    abuser = mine[-1:] if spec == "auto" else [int(c) for c in spec.split(",")]
    rest = [c for c in mine if c not in abuser]
    if not rest or not set(abuser) <= set(mine):
        raise SystemExit("--abuser-cpus %s: must be a strict subset of CPUs %s" % (spec, mine))
    CPUS.update(abuser=set(abuser), rest=set(rest))
    os.sched_setaffinity(0, CPUS["rest"])  # inherited by the server and the good clients


def child(role, base, extra=(), nice=0):
    argv = [sys.executable, os.path.abspath(__file__), "--role", role, "--address",
            base["address"], "--certs", base["certs"], *extra]
    cpus = CPUS["abuser"] if role == "abuser" else None

    def setup():
        if nice:
            os.nice(nice)
        if cpus:
            os.sched_setaffinity(0, cpus)
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=setup if (nice or cpus) else None)


def collect(proc, what, timeout):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise RuntimeError("%s did not finish within %d s: %s" % (what, timeout, err[-2000:]))
    if proc.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s" % (what, proc.returncode, err[-2000:]))
    return json.loads(out)


def percentile(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))]


def summarize(good):
    every = [v for vals in good["latencies_ms"].values() for v in vals]
    return {"calls": len(every), "errors": len(good["errors"]), "_latencies": every,
            "error_samples": good["errors"][:5],
            "p50_ms": round(percentile(every, 0.50), 2),
            "p99_ms": round(percentile(every, 0.99), 2),
            "p99_by_op_ms": {op: round(percentile(v, 0.99), 2)
                             for op, v in sorted(good["latencies_ms"].items())}}


def good_run(base, seconds, rate):
    return collect(child("good", base, ["--seconds", str(seconds), "--rate", str(rate)]),
                   "the good clients", seconds + 120)


def run_phase(name, server, sampler, base, seconds, rate, work):
    """The abusers (if any) start first; once each has its abuse in place the good clients
    run for `seconds`; then the abusers are told to stop and report."""
    sampler.reset()
    abusers = []
    stop = os.path.join(work, "stop-" + name)
    t_ready = 0.0
    if name != "baseline":
        readies = []
        t0 = time.monotonic()
        for part in range(PROCESSES[name]):
            readies.append(os.path.join(work, "ready-%s-%d" % (name, part)))
            abusers.append(child("abuser", base, ["--phase", name, "--part", str(part),
                                                  "--ready", readies[-1], "--stop", stop],
                                 nice=ABUSER_NICE))
        while not all(os.path.exists(r) for r in readies):
            if any(p.poll() is not None for p in abusers) or time.monotonic() - t0 > 300:
                open(stop, "w").close()
                for p in abusers:
                    collect(p, "the %s abuser" % name, 60)
                raise RuntimeError("the %s abusers did not get ready" % name)
            time.sleep(0.1)
        t_ready = time.monotonic() - t0
        time.sleep(1)  # the abuse running before the measurement starts
    if name == "stalled-uploads":  # long enough to see the idle timeout free the slots
        seconds = max(seconds, STALL_SECONDS)
    try:
        good = good_run(base, seconds, rate)
    finally:
        open(stop, "w").close()
    results = [collect(p, "the %s abuser" % name, 300) for p in abusers]
    row = {"phase": name, **summarize(good), **sampler.window(), "server_alive": server.alive()}
    if results:
        counts = collections.Counter()
        by_agency = collections.Counter()
        for r in results:
            counts.update(r["counts"])
            by_agency.update(r.get("open_by_agency", {}))
        a = {"counts": dict(sorted(counts.items())), "ready_in_s": round(t_ready, 1),
             "samples": {k: v for r in results for k, v in r["samples"].items()}}
        if name in ("streams", "slow-readers"):
            a["max_open_per_agency"] = max(by_agency.values()) if by_agency else 0
        if name == "stalled-uploads":
            a["outsider_first_ok_s"] = results[0]["outsider_first_ok_s"]
        if name == "churn":
            a["connections_per_s"] = round(sum(r["connections_per_s"] for r in results), 1)
        row["abuser"] = a
    return row


def check(rows, max_ratio, rss_bound_mib):
    """The failures: errors of good clients, p99 ratios (each phase against the baseline
    measured just before it), memory, and abuses that got through."""
    failures = []
    first = rows[0]["p99_ms"]
    for i, r in enumerate(rows):
        if r["phase"] == "baseline":
            base_threads = r["peak_threads"]
            paired = r["p99_ms"]
        else:  # the baselines just before and just after, together
            around = rows[i - 1]["_latencies"] + (rows[i + 1]["_latencies"]
                                                  if i + 1 < len(rows) else [])
            paired = round(percentile(around, 0.99), 2)
            r["paired_baseline_p99_ms"] = paired
        r["p99_ratio_first"] = round(r["p99_ms"] / first, 2) if first else 0
        r["p99_ratio"] = round(r["p99_ms"] / paired, 2) if paired else 0
        if r["errors"]:
            failures.append("%s: the good clients got %d errors: %s" % (r["phase"], r["errors"],
                                                                       r["error_samples"]))
        if r["p99_ratio"] > max_ratio:
            failures.append("%s: good clients' p99 %.2f ms is %.2f x the baseline's %.2f ms "
                            "(at most %g)" % (r["phase"], r["p99_ms"], r["p99_ratio"], paired,
                                              max_ratio))
        if r["peak_rss_mib"] > rss_bound_mib:
            failures.append("%s: server peak RSS %.1f MiB above the bound %d MiB" % (
                r["phase"], r["peak_rss_mib"], rss_bound_mib))
        if not r["server_alive"]:
            failures.append("%s: the server died" % r["phase"])
        a = r.get("abuser", {})
        counts = a.get("counts", {})
        if r["phase"] in ("oversized", "bad-certs"):
            through = [k for k, n in counts.items() if k.endswith(" OK") and n]
            if through:
                failures.append("%s: abuse answered OK: %s" % (r["phase"], through))
        if r["phase"] == "stalled-uploads":
            first_ok = a.get("outsider_first_ok_s")
            if first_ok is None or first_ok > UPLOAD_IDLE_S + 10:
                failures.append("%s: an outsider's upload got no slot within %d s of the "
                                "stall (first OK: %s s)" % (r["phase"], UPLOAD_IDLE_S + 10,
                                                             first_ok))
        if r["phase"] != "baseline" and r["peak_threads"] > base_threads + THREADS_BOUND:
            failures.append("%s: the server ran %d threads, %d more than in the baseline "
                            "before (at most %d more)" % (r["phase"], r["peak_threads"],
                                                          r["peak_threads"] - base_threads,
                                                          THREADS_BOUND))
        if r["phase"] in ("streams", "slow-readers"):
            admitted = counts.get("open (admitted, never read)", 0)
            if admitted > CAPS["total"] or a.get("max_open_per_agency", 0) > CAPS["agency"]:
                failures.append("%s: %d streams admitted (at most %d in all, %d per agency; "
                                "most in one agency: %d)" % (
                                    r["phase"], admitted, CAPS["total"], CAPS["agency"],
                                    a.get("max_open_per_agency", 0)))
            if not admitted:
                failures.append("%s: no stream admitted" % r["phase"])
    return failures


def print_table(rows):
    print("\n%-15s %6s %8s %8s %6s %6s %6s %9s %9s %7s" % (
        "phase", "calls", "p50 ms", "p99 ms", "ratio", "first", "errors", "peak RSS",
        "RSS end", "threads"))
    for r in rows:
        print("%-15s %6d %8.2f %8.2f %6.2f %6.2f %6d %7.1f M %7.1f M %7d" % (
            r["phase"], r["calls"], r["p50_ms"], r["p99_ms"], r["p99_ratio"],
            r["p99_ratio_first"], r["errors"], r["peak_rss_mib"], r["rss_mib"],
            r["peak_threads"]))
    print("(ratio: to the baselines just before and after, together; first: to the first "
          "baseline)")
    for r in rows:
        if "abuser" in r:
            a = r["abuser"]
            extra = ", ".join("%s %s" % (k, a[k]) for k in (
                "ready_in_s", "max_open_per_agency", "connections_per_s",
                "outsider_first_ok_s") if k in a)
            print("%s abusers (%s): %s" % (r["phase"], extra, ", ".join(
                "%s %d" % kv for kv in a["counts"].items())))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30, help="good clients' time per phase")
    ap.add_argument("--rate", type=float, default=10, help="calls per second per good client")
    ap.add_argument("--phases", default=",".join(PHASES))
    ap.add_argument("--max-ratio", type=float, default=3.0)
    ap.add_argument("--rss-bound-mib", type=int, default=512)
    ap.add_argument("--abuser-cpus", default="auto",
                    help="auto (the last CPU, if 2 or more), none (share all), or a list")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    # Child processes.
    ap.add_argument("--role", choices=["good", "abuser"], help=argparse.SUPPRESS)
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--part", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--ready", help=argparse.SUPPRESS)
    ap.add_argument("--stop", help=argparse.SUPPRESS)
    ap.add_argument("--address", help=argparse.SUPPRESS)
    ap.add_argument("--certs", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.role == "good":
        json.dump(good_clients(args.address, args.certs, args.seconds, args.rate), sys.stdout)
        return 0
    if args.role == "abuser":
        ctl = Control(args.ready, args.stop)
        json.dump(run_abuser(args.phase, args.address, args.certs, ctl, args.part),
                  sys.stdout)
        return 0

    phases = [p for p in args.phases.split(",") if p]
    unknown = set(phases) - set(PHASES)
    if unknown:
        ap.error("unknown phases: %s (known: %s)" % (", ".join(sorted(unknown)),
                                                     ", ".join(PHASES)))
    split_cpus(args.abuser_cpus)
    print("CPUs: server, good clients and driver %s; abusers %s" % (
        sorted(CPUS["rest"]) if CPUS["rest"] else "all",
        sorted(CPUS["abuser"]) if CPUS["abuser"] else "all (niced)"), flush=True)
    work = tempfile.mkdtemp(prefix="budstikke-abuse-")
    server = None
    t0 = time.monotonic()
    try:
        certs = make_certs(work)
        server = Server(work, certs)
        sampler = Sampler(server.proc.pid)
        sampler.start()
        base = {"address": server.address, "certs": certs}
        good_run(base, 3, args.rate)  # warm-up (not measured)
        rows = []
        for step in ["baseline"] + [x for name in phases for x in (name, "baseline")]:
            row = run_phase(step, server, sampler, base, args.seconds, args.rate, work)
            rows.append(row)
            print("%-15s p99 %7.2f ms, errors %d, peak RSS %6.1f MiB, threads %4d%s" % (
                step, row["p99_ms"], row["errors"], row["peak_rss_mib"], row["peak_threads"],
                "" if step == "baseline" else
                " (abuse in place after %.1f s)" % row["abuser"]["ready_in_s"]), flush=True)
            if not server.alive():
                break
        failures = check(rows, args.max_ratio, args.rss_bound_mib)
        print_table(rows)
        if args.json:
            with open(args.json, "w") as f:
                json.dump([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
                          f, indent=1)
        print("\nabuse: %d phases, %d failures, %.0f s" % (
            sum(r["phase"] != "baseline" for r in rows), len(failures),
            time.monotonic() - t0))
        for f in failures:
            print("FAIL " + f)
        return 1 if failures else 0
    except Exception:
        if server:
            sys.stderr.write("server log tail:\n" + server.tail() + "\n")
        raise
    finally:
        if server:
            server.stop()
        if args.keep:
            print("work dir kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
