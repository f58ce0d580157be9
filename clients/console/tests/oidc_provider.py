"""A small local OpenID Connect provider: the test double for the identity provider
(HelseID, ID-porten, a municipality's IdP), the console's true boundary.

It implements what the console uses: discovery, /authorize (a page with one button
per test user, standing in for the IdP's own login), /token (authorization code with
client_secret_basic and PKCE S256) and /jwks (one RS256 key made at start). Each
user is (sub, agency, role); the ID token carries them as the claims
budstikke_agency / budstikke_role / sub, plus the nonce from /authorize.
"""

import base64
import hashlib
import html
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


def _b64url_int(n: int) -> str:
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class OidcProvider:
    def __init__(self, users, client_id="budstikke-console", client_secret=None):
        self.users = dict(users)  # sub -> (agency, role)
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-" + secrets.token_hex(4)
        self.codes = {}
        self.token_requests = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = "http://127.0.0.1:%d" % self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()

    def jwks(self):
        pub = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                          "n": _b64url_int(pub.n), "e": _b64url_int(pub.e)}]}

    def id_token(self, sub, nonce, **overrides):
        agency, role = self.users[sub]
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id, "sub": sub, "iat": now,
                  "exp": now + 300, "nonce": nonce, "budstikke_agency": agency,
                  "budstikke_role": role}
        claims.update(overrides)
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, body, ctype="application/json", headers=()):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/.well-known/openid-configuration":
                    base = provider.issuer
                    return self._send(200, json.dumps({
                        "issuer": base, "authorization_endpoint": base + "/authorize",
                        "token_endpoint": base + "/token", "jwks_uri": base + "/jwks",
                        "response_types_supported": ["code"],
                        "id_token_signing_alg_values_supported": ["RS256"]}))
                if url.path == "/jwks":
                    return self._send(200, json.dumps(provider.jwks()))
                if url.path == "/authorize":
                    return self._authorize_page(q)
                if url.path == "/login":
                    return self._login(q)
                return self._send(404, "{}")

            def _authorize_page(self, q):
                if q.get("client_id") != provider.client_id or \
                        q.get("code_challenge_method") != "S256":
                    return self._send(400, "bad authorization request", "text/plain")
                buttons = "".join(
                    '<li><a id="user-%s" href="/login?%s">%s</a></li>' % (
                        html.escape(sub), html.escape(urllib.parse.urlencode(
                            dict(q, user=sub))), html.escape(sub))
                    for sub in provider.users)
                page = ('<!doctype html><html lang="nb"><head><title>Test-IdP</title></head>'
                        '<body><main><h1>Test-IdP: velg bruker</h1><ul>%s</ul></main>'
                        '</body></html>' % buttons)
                return self._send(200, page, "text/html; charset=utf-8")

            def _login(self, q):
                sub = q.get("user")
                if sub not in provider.users:
                    return self._send(400, "unknown user", "text/plain")
                code = secrets.token_urlsafe(24)
                provider.codes[code] = {"sub": sub, "nonce": q.get("nonce", ""),
                                        "challenge": q.get("code_challenge", ""),
                                        "redirect_uri": q.get("redirect_uri", "")}
                target = q["redirect_uri"] + "?" + urllib.parse.urlencode(
                    {"code": code, "state": q.get("state", "")})
                return self._send(302, "", "text/plain", [("Location", target)])

            def do_POST(self):
                if urllib.parse.urlsplit(self.path).path != "/token":
                    return self._send(404, "{}")
                provider.token_requests += 1
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                auth = self.headers.get("Authorization", "")
                expected = "Basic " + base64.b64encode(("%s:%s" % (
                    provider.client_id, provider.client_secret)).encode()).decode()
                if auth != expected:
                    return self._send(401, json.dumps({"error": "invalid_client"}))
                grant = provider.codes.pop(form.get("code", ""), None)
                if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
                    return self._send(400, json.dumps({"error": "invalid_grant"}))
                verifier = form.get("code_verifier", "")
                challenge = base64.urlsafe_b64encode(
                    hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if challenge != grant["challenge"]:
                    return self._send(400, json.dumps({"error": "invalid_grant"}))
                return self._send(200, json.dumps({
                    "access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": provider.id_token(grant["sub"], grant["nonce"])}))

        return Handler
