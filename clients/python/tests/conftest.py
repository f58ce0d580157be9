"""Fixtures: a real budstikke-server with development certificates.

Environment (set by ctest, see tests/CMakeLists.txt):
  BUDSTIKKE_SOURCE_DIR  repository root (default: three levels above this file)
  BUDSTIKKE_BIN_DIR     folder holding budstikke-server (default: $SOURCE/build/bin)

A missing server binary is a test failure, not a skip.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.environ.get("BUDSTIKKE_SOURCE_DIR")
                             or os.path.join(HERE, "..", "..", ".."))
BIN_DIR = os.path.abspath(os.environ.get("BUDSTIKKE_BIN_DIR")
                          or os.path.join(SOURCE_DIR, "build", "bin"))
PY_DIR = os.path.join(SOURCE_DIR, "clients", "python")
if PY_DIR not in sys.path:
    sys.path.insert(0, PY_DIR)

import budstikke  # noqa: E402

_LISTEN_RE = re.compile(r"listening on 127\.0\.0\.1:([0-9]+)")


class Server:
    """A running budstikke-server on a kernel-chosen loopback port."""

    def __init__(self, workdir, cert_dir, extra_args=()):
        self.workdir = workdir
        self.cert_dir = cert_dir
        self.data_dir = os.path.join(workdir, "data")
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.address = None

    def start(self, port=0):
        binary = os.path.join(BIN_DIR, "budstikke-server")
        if not os.access(binary, os.X_OK):
            pytest.fail("%s not found: build it first (cmake --build BUILD --target "
                        "budstikke-server) or set BUDSTIKKE_BIN_DIR" % binary)
        c = self.cert_dir
        argv = [binary, "--listen", "127.0.0.1:%d" % port, "--data-dir", self.data_dir,
                "--tls-cert", c + "/server.pem", "--tls-key", c + "/server.key",
                "--tls-ca", c + "/ca.pem", "--master-key-file", c + "/master.key",
                "--audit-signing-key-file", c + "/audit-signing.key",
                "--seed-directory", os.path.join(SOURCE_DIR, "certs", "dev-directory.json")
                ] + self.extra_args
        self.out_path = os.path.join(self.workdir, "server.out")
        self.err_path = os.path.join(self.workdir, "server.err")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(self.out_path, encoding="utf-8", errors="replace") as f:
                m = _LISTEN_RE.search(f.read())
            if m:
                self.port = int(m.group(1))
                self.address = "localhost:%d" % self.port
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        with open(self.err_path, encoding="utf-8", errors="replace") as f:
            err = f.read()
        self.stop()
        pytest.fail("budstikke-server did not start: %s" % err.strip()[-2000:])

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self):
        """Kills the server with SIGKILL (no graceful shutdown) and reaps it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self, kill=False):
        """Stops (SIGTERM, or SIGKILL with ``kill``) and starts again on the same
        port and data directory."""
        if kill:
            self.kill()
        else:
            self.stop()
        self.start(self.port)

    def env(self, name):
        return {"BUDSTIKKE_SERVER": self.address,
                "BUDSTIKKE_CA": os.path.join(self.cert_dir, "ca.pem"),
                "BUDSTIKKE_CERT": os.path.join(self.cert_dir, name + ".pem"),
                "BUDSTIKKE_KEY": os.path.join(self.cert_dir, name + ".key")}

    def client(self, name, **kwargs):
        kwargs.setdefault("timeout", 10.0)
        return budstikke.Client.from_env(self.env(name), **kwargs)


@pytest.fixture(scope="session")
def cert_dir(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("certs"))
    res = subprocess.run(["/bin/bash", os.path.join(SOURCE_DIR, "certs", "dev-certs.sh"), d],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail("certs/dev-certs.sh failed (%d): %s" % (res.returncode, res.stderr))
    return d


@pytest.fixture(scope="session")
def server(tmp_path_factory, cert_dir):
    s = Server(str(tmp_path_factory.mktemp("server")), cert_dir)
    s.start()
    yield s
    s.stop()


@pytest.fixture
def client_for(server):
    """client_for("bup-clinician") -> a budstikke.Client for that demo identity."""
    made = []

    def make(name, **kwargs):
        c = server.client(name, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
