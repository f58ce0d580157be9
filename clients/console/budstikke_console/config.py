"""Console configuration: one JSON file (``budstikke-console --config FILE``).

Keys (paths relative to the file's folder):
  listen            "host:port" the console serves on (default 127.0.0.1:8080)
  public_url        the URL people reach the console at (OIDC redirect URI base)
  trust_domain      the Budstikke trust domain (SPIFFE ids the console asserts)
  server, ca, cert, key   the Budstikke server and the console's service certificate
                    (spiffe://TD/service/console) with its key
  assets_dir        folder with the vendored CSS/JS (scripts: clients/console/setup-assets.sh)
  tls_cert, tls_key optional: serve HTTPS directly (otherwise behind a TLS proxy)
  idle_timeout_seconds  session idle timeout (default 900)
  secure_cookies    default true; only a plain-HTTP localhost test may set false
  audit_verifier_key    optional: the pinned note verifier key of the audit log
                    (default: the key the server publishes)
  queue_refresh_seconds  how often a live list (consultation queue, received
                    referrals) reads the agency's inbox (default 30; a read is not
                    audited; the list is asked for again, one audited List call, only
                    when a new event changes it)
  login             {"method": "oidc", ...} (see auth.py)
Raises ConfigError with a one-line reason on a bad file.
"""

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional


class ConfigError(Exception):
    pass


@dataclass
class Config:
    listen: str
    public_url: str
    trust_domain: str
    server: str
    ca: str
    cert: str
    key: str
    assets_dir: str
    login: Dict[str, Any]
    idle_timeout_seconds: int = 900
    secure_cookies: bool = True
    tls_cert: Optional[str] = None
    tls_key: Optional[str] = None
    audit_verifier_key: Optional[str] = None
    queue_refresh_seconds: int = 30


_REQUIRED = ("public_url", "trust_domain", "server", "ca", "cert", "key", "assets_dir",
             "login")
_PATHS = ("ca", "cert", "key", "assets_dir", "tls_cert", "tls_key")


def from_dict(raw: Dict[str, Any], base_dir: str = ".") -> Config:
    missing = [k for k in _REQUIRED if not raw.get(k)]
    if missing:
        raise ConfigError("config: missing %s" % ", ".join(missing))
    values = dict(raw)
    for k in _PATHS:
        if values.get(k):
            values[k] = os.path.join(base_dir, values[k])
    if not os.path.isdir(values["assets_dir"]):
        raise ConfigError("config: assets_dir %s is not a folder (run "
                          "clients/console/setup-assets.sh)" % values["assets_dir"])
    known = set(Config.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError("config: unknown key(s) %s" % ", ".join(unknown))
    values.setdefault("listen", "127.0.0.1:8080")
    if isinstance(values["login"], dict) and values["login"].get("client_secret_file"):
        values["login"] = dict(values["login"])
        values["login"]["client_secret_file"] = os.path.join(
            base_dir, values["login"]["client_secret_file"])
    cfg = Config(**values)
    if cfg.idle_timeout_seconds <= 0 or cfg.queue_refresh_seconds <= 0:
        raise ConfigError("config: idle_timeout_seconds and queue_refresh_seconds must be "
                          "positive")
    if not isinstance(cfg.login, dict) or not cfg.login.get("method"):
        raise ConfigError("config: login.method is required (\"oidc\")")
    return cfg


def load(path: str) -> Config:
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except OSError as e:
        raise ConfigError("config: cannot read %s: %s" % (path, e.strerror)) from None
    except ValueError as e:
        raise ConfigError("config: %s is not valid JSON: %s" % (path, e)) from None
    if not isinstance(raw, dict):
        raise ConfigError("config: %s must hold a JSON object" % path)
    return from_dict(raw, os.path.dirname(os.path.abspath(path)))
