"""Login methods. A login method turns a person's sign-in into a ``Person``
(agency, role, user), whose SPIFFE ID the console asserts to Budstikke with the
``budstikke-on-behalf-of`` metadata.

Interface (pluggable; ``make_login(cfg)`` picks one by ``login.method``):
  start(session) -> redirect URL            begins a login; may keep state in session
  finish(session, args) -> Person           completes it from the callback's query
                                            arguments; raises LoginError
Only "oidc" is implemented (OpenID Connect authorization code flow with PKCE, as
HelseID, ID-porten and municipal IdPs offer). TLS client certificates are the
other option (docs/CONSOLE.md); they are not implemented.

OIDC settings (config "login"):
  issuer, client_id, client_secret_file   the client registered at the IdP
  scopes        default "openid profile"
  claims        {"agency": CLAIM, "role": CLAIM, "user": CLAIM}: which ID-token
                claims name the person's agency id, Budstikke role and user id
                (defaults "budstikke_agency", "budstikke_role", "sub")
  discovery     optional: explicit endpoints {"authorization_endpoint",
                "token_endpoint", "jwks_uri"}; default: fetched from
                ISSUER/.well-known/openid-configuration
The ID token must be RS256 (or ES256/PS256) signed by a key of the IdP's JWKS, with
our client id as audience, the configured issuer and the nonce we sent. A user id
that looks like a national id (11 digits) is refused: the console never carries one.
"""

import base64
import hashlib
import json
import re
import secrets
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict

import jwt

ROLES = ("staff", "physician", "psychologist", "child_welfare_leader", "clinician", "leader",
         "auditor", "admin")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class LoginError(Exception):
    """A login that cannot complete; the message is safe to log (no token content)."""


@dataclass(frozen=True)
class Person:
    agency: str
    role: str
    user: str

    def spiffe_id(self, trust_domain: str) -> str:
        return "spiffe://%s/agency/%s/role/%s/user/%s" % (trust_domain, self.agency, self.role,
                                                           self.user)


def person_from_claims(claims: Dict[str, Any], names: Dict[str, str]) -> Person:
    """Maps ID-token claims to a Person; raises LoginError on a missing or bad value."""
    values = {}
    for part in ("agency", "role", "user"):
        value = claims.get(names[part])
        if not isinstance(value, str) or not _ID_RE.match(value):
            raise LoginError("claim %s (%s) missing or not a valid id" % (names[part], part))
        values[part] = value
    if values["role"] not in ROLES:
        raise LoginError("claim %s: unknown role" % names["role"])
    if re.fullmatch(r"[0-9]{11}", values["user"]):
        raise LoginError("claim %s looks like a national id; map a pseudonymous claim"
                         % names["user"])
    return Person(**values)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class OidcLogin:
    """OpenID Connect authorization code flow with PKCE (S256), state and nonce."""

    def __init__(self, settings: Dict[str, Any], redirect_uri: str):
        for k in ("issuer", "client_id", "client_secret_file"):
            if not settings.get(k):
                raise LoginError("login.%s is required for oidc" % k)
        self.issuer = settings["issuer"].rstrip("/")
        self.client_id = settings["client_id"]
        path = settings["client_secret_file"]
        try:
            with open(path) as f:
                self._secret = f.read().strip()
        except OSError as e:
            raise LoginError("login.client_secret_file: %s" % e.strerror) from None
        self.scopes = settings.get("scopes", "openid profile")
        self.claims = {"agency": "budstikke_agency", "role": "budstikke_role", "user": "sub"}
        self.claims.update(settings.get("claims") or {})
        self.redirect_uri = redirect_uri
        self._endpoints = settings.get("discovery")
        self._jwks = None

    def endpoints(self) -> Dict[str, str]:
        if self._endpoints is None:
            url = self.issuer + "/.well-known/openid-configuration"
            with urllib.request.urlopen(url, timeout=5) as r:
                self._endpoints = json.load(r)
        return self._endpoints

    def start(self, session: Dict[str, Any]) -> str:
        state, nonce, verifier = (secrets.token_urlsafe(24), secrets.token_urlsafe(24),
                                  secrets.token_urlsafe(48))
        session["oidc"] = {"state": state, "nonce": nonce, "verifier": verifier}
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": self.client_id,
            "redirect_uri": self.redirect_uri, "scope": self.scopes, "state": state,
            "nonce": nonce, "code_challenge_method": "S256",
            "code_challenge": _b64url(hashlib.sha256(verifier.encode()).digest())})
        return self.endpoints()["authorization_endpoint"] + "?" + query

    def finish(self, session: Dict[str, Any], args: Dict[str, str]) -> Person:
        pending = session.pop("oidc", None)
        if not pending or not secrets.compare_digest(args.get("state", ""), pending["state"]):
            raise LoginError("state missing or does not match")
        if args.get("error") or not args.get("code"):
            raise LoginError("the identity provider refused the login")
        tokens = self._token(args["code"], pending["verifier"])
        claims = self._verify(tokens.get("id_token", ""), pending["nonce"])
        return person_from_claims(claims, self.claims)

    def _token(self, code: str, verifier: str) -> Dict[str, Any]:
        body = urllib.parse.urlencode({
            "grant_type": "authorization_code", "code": code,
            "redirect_uri": self.redirect_uri, "code_verifier": verifier}).encode()
        basic = base64.b64encode(("%s:%s" % (urllib.parse.quote(self.client_id),
                                             urllib.parse.quote(self._secret))).encode())
        req = urllib.request.Request(self.endpoints()["token_endpoint"], data=body, headers={
            "Authorization": "Basic " + basic.decode(),
            "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.load(r)
        except (OSError, ValueError) as e:
            raise LoginError("token request failed: %s" % type(e).__name__) from None

    def _verify(self, id_token: str, nonce: str) -> Dict[str, Any]:
        try:
            if self._jwks is None:
                self._jwks = jwt.PyJWKClient(self.endpoints()["jwks_uri"])
            key = self._jwks.get_signing_key_from_jwt(id_token).key
            claims = jwt.decode(id_token, key, algorithms=["RS256", "ES256", "PS256"],
                                audience=self.client_id, issuer=self.issuer,
                                options={"require": ["exp", "iat", "aud", "iss", "sub"]})
        except jwt.PyJWTError as e:
            raise LoginError("ID token rejected: %s" % type(e).__name__) from None
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise LoginError("ID token nonce does not match")
        return claims


def make_login(settings: Dict[str, Any], redirect_uri: str):
    method = settings.get("method")
    if method == "oidc":
        return OidcLogin(settings, redirect_uri)
    raise LoginError("login.method %r is not supported (oidc)" % method)
