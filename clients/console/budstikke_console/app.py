"""The Flask application: sessions, CSRF, security headers, logging, metrics and
error pages; the pages themselves are in views_*.py.

Contract:
- Every page but /logg-inn*, /healthz, /metrics and /static needs a session with a
  logged-in person; without one the browser is redirected to /logg-inn (303).
- Every POST must carry the session's CSRF token (form field ``csrf_token``);
  otherwise 400 and nothing happens.
- Budstikke calls go through ``api()``: the console's service client acting for the
  logged-in person, so the server authorizes and audits the person.
- NotFound from the API is one 404 page whatever the cause (another agency's
  resource and a made-up id look the same); PermissionDenied is 403.
- Log lines are JSON on stderr: method, route pattern (never the path with ids),
  status, duration, agency and role. No content, names, national ids or URLs.
"""

import json
import logging
import secrets
import sys
import time
from typing import Optional

import budstikke
from flask import Flask, abort, g, redirect, request, send_from_directory, url_for
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST

from budstikke_console import texts
from budstikke_console.auth import Person, make_login
from budstikke_console.config import Config
from budstikke_console.sessions import SessionStore

PUBLIC = {"login", "login_start", "login_callback", "healthz", "metrics", "static", "vendor"}
PROFESSIONAL = ("physician", "psychologist", "child_welfare_leader", "clinician")
WRITERS = ("staff", "leader") + PROFESSIONAL

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
               "level": record.levelname.lower(), "msg": record.getMessage()}
        out.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = record.exc_info[0].__name__  # the type only: no content
        return json.dumps(out, ensure_ascii=False)


def _logger() -> logging.Logger:
    log = logging.getLogger("budstikke_console")
    if not log.handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(JsonFormatter())
        log.addHandler(h)
        log.setLevel(logging.INFO)
        log.propagate = False
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # its access log has URLs
    return log


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("budstikke_console_requests_total", "HTTP requests",
                                ["route", "status"], registry=self.registry)
        self.latency = Histogram("budstikke_console_request_seconds", "HTTP request latency",
                                 ["route"], registry=self.registry)
        self.api_errors = Counter("budstikke_console_api_errors_total",
                                  "Budstikke API errors by code", ["code"],
                                  registry=self.registry)
        self.logins = Counter("budstikke_console_logins_total", "Logins by outcome",
                              ["outcome"], registry=self.registry)
        self.sessions = Gauge("budstikke_console_sessions", "Live sessions",
                              registry=self.registry)


def create_app(cfg: Config, service_client: Optional[budstikke.Client] = None) -> Flask:
    app = Flask(__name__)  # /static: the console's own CSS (budstikke_console/static)
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    app.jinja_env.autoescape = True
    app.jinja_env.globals.update(texts=texts)
    client = service_client or budstikke.Client(cfg.server, ca=cfg.ca, cert=cfg.cert,
                                                key=cfg.key)
    store = SessionStore(cfg.idle_timeout_seconds)
    metrics = Metrics()
    metrics.sessions.set_function(store.count)
    log = _logger()
    login = make_login(cfg.login, cfg.public_url.rstrip("/") + "/logg-inn/tilbake")
    cookie = "__Host-budstikke" if cfg.secure_cookies else "budstikke"
    app.extensions["console"] = {"cfg": cfg, "client": client, "store": store,
                                 "metrics": metrics, "log": log, "login": login}

    def set_session_cookie(resp, sid: str) -> None:
        resp.set_cookie(cookie, sid, secure=cfg.secure_cookies, httponly=True,
                        samesite="Lax", path="/")

    app.extensions["console"]["set_cookie"] = set_session_cookie
    app.extensions["console"]["cookie"] = cookie

    _install_hooks(app, cfg, store, metrics, log, cookie)

    @app.context_processor
    def common():
        p = g.get("person")
        return {"person": p, "csrf_token": g.sess["csrf"] if g.get("sess") else "",
                "refresh": cfg.queue_refresh_seconds,
                "nav": _nav(p["role"]) if p else []}

    @app.get("/vendor/<path:name>", endpoint="vendor")
    def vendor(name):
        """The vendored Designsystemet files (setup-assets.sh), cached for a day."""
        return send_from_directory(cfg.assets_dir, name, max_age=86400)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/metrics", endpoint="metrics")
    def metrics_page():
        return generate_latest(metrics.registry), 200, {"Content-Type": CONTENT_TYPE_LATEST}

    from budstikke_console import (error_pages, live, views_admin, views_audit, views_consult,
                                   views_login, views_referral)
    for module in (error_pages, views_login, views_consult, views_referral, live, views_audit,
                   views_admin):
        module.register(app)
    return app


def _install_hooks(app: Flask, cfg: Config, store: SessionStore, metrics: Metrics,
                   log: logging.Logger, cookie: str) -> None:
    """Session and CSRF checks before each request; headers, metrics and the log
    line after it."""

    @app.before_request
    def load_session():
        g.start = time.monotonic()
        g.sid = request.cookies.get(cookie)
        # A page's own polling (htmx) does not count as activity: the idle timeout
        # still logs out a person who left the queue open.
        g.sess = store.get(g.sid, touch=not request.headers.get("HX-Request"))
        g.person = g.sess.get("person") if g.sess else None
        if request.endpoint in PUBLIC:
            return None
        if g.person is None:
            return redirect(url_for("login"), code=303)
        if request.method == "POST":
            token = request.form.get("csrf_token", "")
            if not secrets.compare_digest(token, g.sess["csrf"]):
                abort(400)
        return None

    @app.after_request
    def headers_and_log(resp):
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if request.endpoint not in ("static", "vendor"):
            resp.headers["Cache-Control"] = "no-store"
        if cfg.secure_cookies:
            resp.headers["Strict-Transport-Security"] = "max-age=31536000"
        route = request.url_rule.rule if request.url_rule else "-"
        elapsed = time.monotonic() - g.get("start", time.monotonic())
        metrics.requests.labels(route, str(resp.status_code)).inc()
        metrics.latency.labels(route).observe(elapsed)
        if request.endpoint not in ("static", "vendor", "metrics", "healthz"):
            p = g.get("person")
            log.info("request", extra={"fields": {
                "method": request.method, "route": route, "status": resp.status_code,
                "ms": round(elapsed * 1000, 1), "agency": p["agency"] if p else None,
                "role": p["role"] if p else None}})
        return resp


def _nav(role: str):
    items = []
    if role in PROFESSIONAL:
        items += [("consult_queue", "Drøftingskø"), ("referral_list", "Henvisninger")]
    if role in WRITERS:
        items += [("consult_sent", "Sendte drøftinger"), ("consult_new", "Ny drøfting")]
    if role == "auditor":
        items += [("audit_query", "Søk i loggen"), ("audit_report", "Innsyn"),
                  ("audit_verify", "Verifisering")]
    if role == "admin":
        items += [("admin_directory", "Virksomheter"), ("admin_backup", "Sikkerhetskopi")]
    return items


def ctx() -> dict:
    from flask import current_app
    return current_app.extensions["console"]


def api() -> budstikke.Client:
    """The service client acting for the logged-in person."""
    c = ctx()
    p = g.person
    return c["client"].on_behalf_of(Person(p["agency"], p["role"], p["user"]).spiffe_id(
        c["cfg"].trust_domain))


def require_role(*roles: str) -> None:
    if g.person["role"] not in roles:
        abort(403)
