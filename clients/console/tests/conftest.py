"""Fixtures for the console's acceptance tests: a real budstikke-server with the
development certificates, the local OIDC test provider, the console itself as a
subprocess (`budstikke-console --config FILE`) and headless Chromium browsers.

Environment (set by ctest, see clients/console/CMakeLists.txt):
  BUDSTIKKE_SOURCE_DIR, BUDSTIKKE_BIN_DIR   as for the Python SDK tests
  BUDSTIKKE_CONSOLE_ASSETS   the vendored assets (default $SOURCE/build/console-assets)
  BUDSTIKKE_SCREENSHOTS      where page screenshots go (default $SOURCE/docs/console)
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CONSOLE_DIR = os.path.dirname(HERE)
SOURCE_DIR = os.path.abspath(os.environ.get("BUDSTIKKE_SOURCE_DIR")
                             or os.path.join(CONSOLE_DIR, "..", ".."))
ASSETS = os.environ.get("BUDSTIKKE_CONSOLE_ASSETS") or os.path.join(SOURCE_DIR, "build",
                                                                    "console-assets")
SHOTS = os.environ.get("BUDSTIKKE_SCREENSHOTS") or os.path.join(SOURCE_DIR, "docs", "console")
sys.path.insert(0, HERE)
sys.path.insert(0, CONSOLE_DIR)

_spec = importlib.util.spec_from_file_location(
    "budstikke_sdk_test_support", os.path.join(SOURCE_DIR, "clients", "python", "tests",
                                               "conftest.py"))
sdk_support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sdk_support)  # puts clients/python on sys.path

from oidc_provider import OidcProvider  # noqa: E402

TD = "budstikke.test"
USERS = {"kari": ("bhg-solsikken", "staff"), "terapeut1": ("bup-oslo", "clinician"),
         "vakt1": ("bup-oslo-akutt", "clinician"),
         "psykolog1": ("ppt-oslo", "psychologist"), "revisor1": ("statsforvalteren", "auditor"),
         "drift1": ("budstikke-drift", "admin")}


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
    s = sdk_support.Server(str(tmp_path_factory.mktemp("server")), cert_dir)
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def idp():
    p = OidcProvider(USERS).start()
    yield p
    p.stop()


class Console:
    def __init__(self, workdir, server, cert_dir, idp):
        if not os.path.isfile(os.path.join(ASSETS, "designsystemet", "index.css")):
            pytest.fail("%s has no vendored assets: run clients/console/setup-assets.sh"
                        % ASSETS)
        secret = os.path.join(workdir, "client-secret")
        with open(secret, "w") as f:
            f.write(idp.client_secret)
        os.chmod(secret, 0o600)
        self.config_path = os.path.join(workdir, "console.json")
        self.config = {
            "listen": "127.0.0.1:0", "public_url": "http://localhost:{port}",
            "trust_domain": TD, "server": server.address,
            "ca": os.path.join(cert_dir, "ca.pem"),
            "cert": os.path.join(cert_dir, "svc-console.pem"),
            "key": os.path.join(cert_dir, "svc-console.key"),
            "assets_dir": ASSETS, "idle_timeout_seconds": 600, "queue_refresh_seconds": 1,
            "login": {"method": "oidc", "issuer": idp.issuer,
                      "client_id": idp.client_id, "client_secret_file": secret}}
        self.log_path = os.path.join(workdir, "console.log")
        self.proc = None
        self.url = None
        self.workdir = workdir

    def start(self):
        # The redirect URI needs the port: pick a free one first.
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cfg = dict(self.config, listen="127.0.0.1:%d" % port,
                   public_url="http://localhost:%d" % port)
        with open(self.config_path, "w") as f:
            json.dump(cfg, f)
        self.out = open(os.path.join(self.workdir, "console.out"), "wb")
        self.err = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(CONSOLE_DIR, "budstikke-console"), "--config",
             self.config_path], stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(os.path.join(self.workdir, "console.out")) as f:
                if re.search(r"listening on", f.read()):
                    self.url = "http://localhost:%d" % port
                    return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        with open(self.log_path) as f:
            pytest.fail("budstikke-console did not start: %s" % f.read()[-2000:])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


@pytest.fixture(scope="session")
def console(tmp_path_factory, server, cert_dir, idp):
    c = Console(str(tmp_path_factory.mktemp("console")), server, cert_dir, idp).start()
    yield c
    c.stop()


@pytest.fixture(scope="session")
def browsers():
    """browsers() -> a new headless Chromium (its own cookie jar: one person each)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    made = []

    def make():
        opts = webdriver.ChromeOptions()
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                  "--disable-gpu", "--window-size=1280,1000", "--lang=nb-NO",
                  "--disable-extensions", "--no-first-run"):
            opts.add_argument(a)
        opts.binary_location = "/usr/bin/chromium"
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        d.set_page_load_timeout(20)
        made.append(d)
        return d

    yield make
    for d in made:
        d.quit()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, show the end of the console's log (it holds no content)."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and "console" in item.funcargs:
        rep.sections.append(("console log", item.funcargs["console"].log()[-3000:]))
