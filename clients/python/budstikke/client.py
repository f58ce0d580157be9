"""budstikke.Client: the Python SDK for the Budstikke API (gRPC over mTLS).

    import budstikke

    with budstikke.Client.from_env() as c:          # BUDSTIKKE_SERVER/CA/CERT/KEY
        me = c.whoami()
        print(me.spiffe_id, me.agency.name)

Contract:
- Every call has a deadline (``timeout=`` per call, default the client's
  ``timeout``, 10 s); a retry never extends it.
- Reads, and writes that carry a ``request_id``, are retried on UNAVAILABLE with
  exponential backoff (``retries`` attempts more, default 3). Every create call
  generates a ``request_id`` when none is given, so its retries are idempotent.
  Other state changes (claim, close, acknowledge, ...) are never retried.
- A server that is down or refuses the TLS handshake raises
  :class:`budstikke.Unavailable` within ``connect_timeout`` (default 3 s).
- Errors are :class:`budstikke.BudstikkeError` subclasses (see budstikke.errors);
  policy refusals carry ``.violations`` and ``.findings``.
- Results are the generated protobuf messages (see budstikke.pb); enum arguments
  take the message's int value, its full name, or the command-line form
  (``"bup"``, ``"3-5"``, ``"suspected_neglect"``).
- Thread safety: a Client may be shared by threads (gRPC channels are);
  a :class:`Subscription` belongs to one consumer thread.
- A client with a service certificate (``spiffe://TD/service/NAME``, e.g. the web
  console) calls for a person through :meth:`Client.on_behalf_of`, which sends the
  ``budstikke-on-behalf-of`` metadata on every call; the server then authorizes and
  audits the person (the service is recorded as ``actor.service``).
"""

import datetime as _dt
import hashlib
import io
import mimetypes
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import (Any, BinaryIO, Callable, Dict, Generic, Iterable, Iterator, List,
                    Optional, Sequence, Tuple, TypeVar, Union)

import grpc

from budstikke import _convert as cv
from budstikke import errors
from budstikke.errors import (BudstikkeError, ConfigurationError, DeadlineExceeded,
                              Unavailable, VerificationError)
from budstikke.pb import (admin_pb2, admin_pb2_grpc, audit_pb2, audit_pb2_grpc, consent_pb2,
                          consent_pb2_grpc, consultation_pb2, consultation_pb2_grpc,
                          directory_pb2, directory_pb2_grpc, health_pb2, health_pb2_grpc,
                          inbox_pb2, inbox_pb2_grpc, referral_pb2, referral_pb2_grpc,
                          types_pb2)

__all__ = ["Client", "Page", "Subscription", "DownloadedAttachment", "new_request_id",
           "CHUNK_SIZE"]

T = TypeVar("T")
PathLike = Union[str, "os.PathLike[str]"]

#: Attachment chunk size: the API's maximum, 1 MiB.
CHUNK_SIZE = 1 << 20
_MAX_MESSAGE = 8 << 20
#: Metadata key with which a service identity names the person it calls for.
ON_BEHALF_OF_METADATA = "budstikke-on-behalf-of"
_GROUPS = {"agencies": "Agencies", "consultations": "Consultations", "consents": "Consents",
           "referrals": "Referrals", "inbox": "Inbox", "audit": "Audit", "admin": "Admin"}
_ENV = {"server": "BUDSTIKKE_SERVER", "ca": "BUDSTIKKE_CA", "cert": "BUDSTIKKE_CERT",
        "key": "BUDSTIKKE_KEY"}


def new_request_id() -> str:
    """A fresh client request id (a random UUID, 36 printable ASCII characters)."""
    return str(uuid.uuid4())


@dataclass
class Page(Generic[T]):
    """One page of a List call. Iterate it for its items; ``next_page_token`` is
    empty on the last page."""
    items: List[T]
    next_page_token: str = ""

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class DownloadedAttachment:
    """A downloaded attachment whose SHA-256 matched ``info.sha256``. ``data`` holds
    the bytes when no destination was given; otherwise ``path`` names the file."""
    info: "referral_pb2.AttachmentInfo"
    data: Optional[bytes] = None
    path: Optional[str] = None


def _read_file(path: str, what: str, source: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigurationError("%s: cannot read %s file %s: %s"
                                 % (source, what, path, e.strerror or e)) from None
    if b"-----BEGIN" not in data:
        raise ConfigurationError("%s: %s is not a PEM file (%s)" % (source, path, what))
    return data


class Client:
    """A connection to a Budstikke server, authenticated with a client certificate.

    Args:
        server: ``host:port``, e.g. ``"localhost:8443"`` (env BUDSTIKKE_SERVER).
        ca: PEM file of the CA that signed the server certificate (BUDSTIKKE_CA).
        cert, key: the caller's PEM certificate and private key (BUDSTIKKE_CERT,
            BUDSTIKKE_KEY); the certificate carries the caller's SPIFFE ID.
        timeout: default deadline of each call, in seconds.
        connect_timeout: how long the first call waits for the connection (TCP and
            TLS handshake) before raising Unavailable.
        retries: extra attempts on UNAVAILABLE for retry-safe calls.
        server_name: TLS name to check instead of the host part of ``server``.

    Raises:
        ConfigurationError: a setting is missing or a file cannot be read; the
            message names the argument or environment variable.
    """

    def __init__(self, server: Optional[str] = None, *, ca: Optional[PathLike] = None,
                 cert: Optional[PathLike] = None, key: Optional[PathLike] = None,
                 timeout: float = 10.0, connect_timeout: float = 3.0, retries: int = 3,
                 server_name: Optional[str] = None,
                 _sources: Optional[Dict[str, str]] = None):
        src = {k: "%s=" % k for k in _ENV}
        src.update(_sources or {})
        values = {"server": server, "ca": ca, "cert": cert, "key": key}
        for name, value in values.items():
            if value is None or str(value) == "":
                raise ConfigurationError(
                    "no %s configured: pass %s=... or set %s" % (
                        {"server": "server address", "ca": "CA certificate",
                         "cert": "client certificate", "key": "client private key"}[name],
                        name, _ENV[name]))
        if timeout <= 0 or connect_timeout <= 0:
            raise ConfigurationError("timeout and connect_timeout must be positive")
        server = str(server)
        if ":" not in server:
            raise ConfigurationError("%s: %r is not host:port" % (src["server"], server))
        self.server = server
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.retries = max(0, int(retries))
        creds = grpc.ssl_channel_credentials(
            root_certificates=_read_file(os.fspath(ca), "CA certificate", src["ca"]),
            private_key=_read_file(os.fspath(key), "private key", src["key"]),
            certificate_chain=_read_file(os.fspath(cert), "certificate", src["cert"]))
        # Reconnect soon after a server restart: Debian's gRPC (1.51) can stay in
        # TRANSIENT_FAILURE until the name is resolved again (by default at most
        # every 30 s), so allow that after 500 ms, and keep backoffs short.
        options = [("grpc.max_receive_message_length", _MAX_MESSAGE),
                   ("grpc.max_send_message_length", _MAX_MESSAGE),
                   ("grpc.dns_min_time_between_resolutions_ms", 500),
                   ("grpc.initial_reconnect_backoff_ms", 200),
                   ("grpc.max_reconnect_backoff_ms", 1000)]
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        self._channel = grpc.secure_channel(server, creds, options=options)
        self._ready = False
        self._lock = threading.Lock()
        self._closed = False
        self._owns_channel = True
        self._root = self  # views (on_behalf_of) share their root's connection state
        self.acting_for: Optional[str] = None
        self._metadata: Tuple[Tuple[str, str], ...] = ()
        self._directory = directory_pb2_grpc.DirectoryServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self.agencies = Agencies(self, self._directory)
        self.consultations = Consultations(
            self, consultation_pb2_grpc.ConsultationServiceStub(self._channel))
        self.consents = Consents(self, consent_pb2_grpc.ConsentServiceStub(self._channel))
        self.referrals = Referrals(self, referral_pb2_grpc.ReferralServiceStub(self._channel))
        self.inbox = Inbox(self, inbox_pb2_grpc.InboxServiceStub(self._channel))
        self.audit = Audit(self, audit_pb2_grpc.AuditServiceStub(self._channel))
        self.admin = Admin(self, admin_pb2_grpc.AdminServiceStub(self._channel))

    @classmethod
    def from_env(cls, env: Optional[Dict[str, str]] = None, **kwargs: Any) -> "Client":
        """A client configured from BUDSTIKKE_SERVER, BUDSTIKKE_CA, BUDSTIKKE_CERT and
        BUDSTIKKE_KEY (``env`` defaults to os.environ); keyword arguments override."""
        env = os.environ if env is None else env
        args: Dict[str, Any] = {}
        sources: Dict[str, str] = {}
        for name, var in _ENV.items():
            value = kwargs.pop(name, None)
            if value is not None and str(value) != "":
                args[name] = value
            else:
                args[name] = env.get(var)
                sources[name] = var
        server = args.pop("server")
        return cls(server, _sources=sources, **args, **kwargs)

    def on_behalf_of(self, spiffe_id: str) -> "Client":
        """A view of this client whose every call asserts ``spiffe_id`` (a person's
        SPIFFE ID, ``spiffe://TD/agency/A/role/R/user/U``) as the caller. It shares
        this client's channel (cheap to make per request; closing it does nothing).
        Only a service certificate may do this: the server refuses the metadata from
        a person's certificate with PERMISSION_DENIED."""
        if not isinstance(spiffe_id, str) or not spiffe_id.startswith("spiffe://") or \
                any(ch in spiffe_id for ch in "\r\n\0"):
            raise ConfigurationError("on_behalf_of: %r is not a SPIFFE ID" % (spiffe_id,))
        view = object.__new__(Client)
        view.__dict__.update(self.__dict__)
        view._owns_channel = False
        view.acting_for = spiffe_id
        view._metadata = ((ON_BEHALF_OF_METADATA, spiffe_id),)
        for attr, cls_name in _GROUPS.items():
            group = getattr(self, attr)
            setattr(view, attr, globals()[cls_name](view, group._stub))
        return view

    # -- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled. A view made by
        :meth:`on_behalf_of` leaves the shared channel open."""
        if not self._closed:
            self._closed = True
            if self._owns_channel:
                self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def wait_ready(self, timeout: Optional[float] = None) -> None:
        """Connects (TCP + TLS) now; raises Unavailable after ``timeout`` seconds
        (default ``connect_timeout``)."""
        self._ensure_connected(time.monotonic() + (timeout or self.connect_timeout),
                               force=True)

    # -- top-level calls -----------------------------------------------------------

    def whoami(self, *, timeout: Optional[float] = None) -> "directory_pb2.WhoAmIResponse":
        """The caller's identity (actor, SPIFFE ID) and agency from the directory."""
        return self._unary(self._directory.WhoAmI, directory_pb2.WhoAmIRequest(),
                           retry=True, timeout=timeout)

    def health(self, service: str = "", *, timeout: Optional[float] = None) -> str:
        """gRPC health status of ``service`` ("" = the server): ``"SERVING"``, ..."""
        resp = self._unary(self._health.Check, health_pb2.HealthCheckRequest(service=service),
                           retry=True, timeout=timeout)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)

    # -- plumbing (used by the service groups) --------------------------------------

    def _deadline(self, timeout: Optional[float]) -> float:
        t = self.timeout if timeout is None else float(timeout)
        if t <= 0:
            raise ConfigurationError("timeout must be positive")
        return time.monotonic() + t

    def _hint(self, code: grpc.StatusCode) -> str:
        if code == grpc.StatusCode.UNAVAILABLE:
            return "server %s" % self.server
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return "check the client certificate (BUDSTIKKE_CERT): it needs one SPIFFE ID " \
                   "of the server's trust domain"
        return ""

    def _error(self, e: grpc.RpcError) -> BudstikkeError:
        code = e.code() if hasattr(e, "code") else None
        return errors.from_rpc_error(e, self._hint(code) if code else "")

    def _ensure_connected(self, deadline: float, force: bool = False) -> None:
        root = self._root
        if root._ready and not force:
            return
        if self._closed or root._closed:
            raise ConfigurationError("the client is closed")
        wait = min(self.connect_timeout, deadline - time.monotonic())
        if wait <= 0:
            raise DeadlineExceeded("deadline exceeded before connecting to %s" % self.server,
                                   code=grpc.StatusCode.DEADLINE_EXCEEDED)
        try:
            grpc.channel_ready_future(self._channel).result(timeout=wait)
        except grpc.FutureTimeoutError:
            raise Unavailable(
                "cannot connect to %s within %.1f s: server down, wrong address, or TLS "
                "handshake refused (check BUDSTIKKE_SERVER, BUDSTIKKE_CA, BUDSTIKKE_CERT, "
                "BUDSTIKKE_KEY)" % (self.server, wait),
                code=grpc.StatusCode.UNAVAILABLE) from None
        root._ready = True

    def _retrying(self, attempt_fn: Callable[[float], T], retry: bool,
                  timeout: Optional[float]) -> T:
        """Runs attempt_fn(remaining_seconds) with retries on UNAVAILABLE."""
        deadline = self._deadline(timeout)
        self._ensure_connected(deadline)
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded("deadline exceeded (%s)" % self.server,
                                       code=grpc.StatusCode.DEADLINE_EXCEEDED)
            try:
                return attempt_fn(remaining)
            except grpc.RpcError as e:
                if retry and e.code() == grpc.StatusCode.UNAVAILABLE and \
                        attempt < self.retries:
                    pause = min(0.1 * (2 ** attempt), 2.0) * random.uniform(0.8, 1.2)
                    if time.monotonic() + pause < deadline:
                        time.sleep(pause)
                        attempt += 1
                        continue
                raise self._error(e) from None

    def _unary(self, method: Any, request: Any, *, retry: bool,
               timeout: Optional[float]) -> Any:
        return self._retrying(lambda t: method(request, timeout=t, **self._call_kwargs()),
                              retry, timeout)

    def _call_kwargs(self) -> Dict[str, Any]:
        """Per-call keyword arguments: the on-behalf-of metadata of a view."""
        return {"metadata": self._metadata} if self._metadata else {}


class _Group:
    def __init__(self, client: Client, stub: Any):
        self._c = client
        self._stub = stub

    def _call(self, rpc: str, request: Any, retry: bool, timeout: Optional[float]) -> Any:
        return self._c._unary(getattr(self._stub, rpc), request, retry=retry, timeout=timeout)


def _E(enum: Any, value: cv.EnumLike, prefix: str, fld: str) -> int:
    return cv.enum_value(enum, value, prefix, fld)


# -----------------------------------------------------------------------------------
# DirectoryService
# -----------------------------------------------------------------------------------

class Agencies(_Group):
    """The agency directory (DirectoryService). Reads are open to every caller;
    create needs the operator's admin, update that or the agency's own admin."""

    def list(self, *, type: cv.EnumLike = None, municipality: str = "", page_size: int = 0,
             page_token: str = "",
             timeout: Optional[float] = None) -> Page["directory_pb2.Agency"]:
        req = directory_pb2.ListAgenciesRequest(
            type=_E(types_pb2.AgencyType, type, "AGENCY_TYPE_", "type"),
            municipality=municipality, page_size=page_size, page_token=page_token)
        resp = self._call("ListAgencies", req, True, timeout)
        return Page(list(resp.agencies), resp.next_page_token)

    def iter(self, *, type: cv.EnumLike = None, municipality: str = "", page_size: int = 0,
             timeout: Optional[float] = None) -> Iterator["directory_pb2.Agency"]:
        """Every matching agency, fetching page after page (each page its own deadline)."""
        return _iter_pages(lambda tok: self.list(type=type, municipality=municipality,
                                                 page_size=page_size, page_token=tok,
                                                 timeout=timeout))

    def get(self, id: str, *, timeout: Optional[float] = None) -> "directory_pb2.Agency":
        return self._call("GetAgency", directory_pb2.GetAgencyRequest(id=id), True, timeout)

    def create(self, id: str, name: str, type: cv.EnumLike, municipality: str, *,
               request_id: Optional[str] = None,
               timeout: Optional[float] = None) -> "directory_pb2.Agency":
        req = directory_pb2.CreateAgencyRequest(
            agency=directory_pb2.Agency(
                id=id, name=name, type=_E(types_pb2.AgencyType, type, "AGENCY_TYPE_", "type"),
                municipality=municipality),
            request_id=request_id or new_request_id())
        return self._call("CreateAgency", req, True, timeout)

    def update(self, id: str, name: Optional[str] = None, type: cv.EnumLike = None,
               municipality: Optional[str] = None, *, acute_unit: Optional[str] = None,
               timeout: Optional[float] = None) -> "directory_pb2.Agency":
        """Changes the fields given; the others stay. ``acute_unit`` (BUP only: the
        BUP agency that takes urgent referrals; ``""`` clears it) is set by the
        operator's admin."""
        agency = directory_pb2.Agency(id=id)
        fields = []
        if name is not None:
            agency.name = name
            fields.append("name")
        if type is not None:
            agency.type = _E(types_pb2.AgencyType, type, "AGENCY_TYPE_", "type")
            fields.append("type")
        if municipality is not None:
            agency.municipality = municipality
            fields.append("municipality")
        if acute_unit is not None:
            agency.acute_unit = acute_unit
            fields.append("acute_unit")
        if not fields:
            raise cv._local_invalid("update: give at least one of name=, type=, "
                                    "municipality=, acute_unit=")
        req = directory_pb2.UpdateAgencyRequest(agency=agency, update_fields=fields)
        return self._call("UpdateAgency", req, False, timeout)


def _iter_pages(fetch: Callable[[str], Page[T]]) -> Iterator[T]:
    token = ""
    while True:
        page = fetch(token)
        yield from page.items
        token = page.next_page_token
        if not token:
            return


# -----------------------------------------------------------------------------------
# ConsultationService
# -----------------------------------------------------------------------------------

class Consultations(_Group):
    """Anonymous consultations (ConsultationService): the child is never identified.
    Text is screened by the server; refusals raise PolicyViolation with ``findings``."""

    def check_text(self, text: str, *,
                   timeout: Optional[float] = None) -> "consultation_pb2.CheckTextResponse":
        """Screens ``text`` with the server's rules (stores nothing)."""
        return self._call("CheckText", consultation_pb2.CheckTextRequest(text=text), True,
                          timeout)

    def ask(self, text: str, *, age_band: cv.EnumLike, concerns: Sequence[cv.EnumLike],
            to: Optional[str] = None, to_type: cv.EnumLike = None, municipality: str = "",
            questions: Sequence[str] = (), ack: Iterable[int] = (),
            request_id: Optional[str] = None,
            timeout: Optional[float] = None) -> "consultation_pb2.Consultation":
        """Asks ``to`` (an agency id), or the agency of ``to_type`` (bup, ppt,
        child_welfare) in ``municipality``. ``ack`` lists acknowledged WARN finding ids."""
        if (to is None) == (to_type is None):
            raise cv._local_invalid("recipient: give exactly one of to= or to_type=")
        recipient = consultation_pb2.ConsultationRecipient()
        if to is not None:
            recipient.agency = to
        else:
            recipient.by_type.type = _E(types_pb2.AgencyType, to_type, "AGENCY_TYPE_",
                                        "to_type")
            recipient.by_type.municipality = municipality
        req = consultation_pb2.AskConsultationRequest(
            request_id=request_id or new_request_id(), recipient=recipient,
            age_band=_E(consultation_pb2.AgeBand, age_band, "AGE_BAND_", "age_band"),
            concerns=cv.enum_values(consultation_pb2.Concern, concerns, "CONCERN_",
                                    "concerns"),
            text=text, questions=list(questions), acknowledged_finding_ids=list(ack))
        return self._call("Ask", req, True, timeout)

    def claim(self, id: str, *,
              timeout: Optional[float] = None) -> "consultation_pb2.Consultation":
        return self._call("Claim", consultation_pb2.ClaimConsultationRequest(id=id), False,
                          timeout)

    def answer(self, id: str, text: str, *, ack: Iterable[int] = (),
               request_id: Optional[str] = None,
               timeout: Optional[float] = None) -> "consultation_pb2.Consultation":
        req = consultation_pb2.AnswerConsultationRequest(
            request_id=request_id or new_request_id(), id=id, text=text,
            acknowledged_finding_ids=list(ack))
        return self._call("Answer", req, True, timeout)

    def add_message(self, id: str, text: str, *, ack: Iterable[int] = (),
                    request_id: Optional[str] = None,
                    timeout: Optional[float] = None) -> "consultation_pb2.Consultation":
        req = consultation_pb2.AddConsultationMessageRequest(
            request_id=request_id or new_request_id(), id=id, text=text,
            acknowledged_finding_ids=list(ack))
        return self._call("AddMessage", req, True, timeout)

    def close(self, id: str, *,
              timeout: Optional[float] = None) -> "consultation_pb2.Consultation":
        return self._call("Close", consultation_pb2.CloseConsultationRequest(id=id), False,
                          timeout)

    def get(self, id: str, *,
            timeout: Optional[float] = None) -> "consultation_pb2.Consultation":
        return self._call("Get", consultation_pb2.GetConsultationRequest(id=id), True, timeout)

    def list(self, *, mailbox: cv.EnumLike = "received",
             statuses: Sequence[cv.EnumLike] = (), page_size: int = 0, page_token: str = "",
             timeout: Optional[float] = None) -> Page["consultation_pb2.Consultation"]:
        """One page of the agency's ``"received"`` (default) or ``"sent"`` mailbox."""
        req = consultation_pb2.ListConsultationsRequest(
            mailbox=_E(types_pb2.Mailbox, mailbox, "MAILBOX_", "mailbox"),
            statuses=cv.enum_values(consultation_pb2.ConsultationStatus, statuses,
                                    "CONSULTATION_STATUS_", "statuses"),
            page_size=page_size, page_token=page_token)
        resp = self._call("List", req, True, timeout)
        return Page(list(resp.consultations), resp.next_page_token)

    def iter(self, *, mailbox: cv.EnumLike = "received", statuses: Sequence[cv.EnumLike] = (),
             page_size: int = 0,
             timeout: Optional[float] = None) -> Iterator["consultation_pb2.Consultation"]:
        return _iter_pages(lambda tok: self.list(mailbox=mailbox, statuses=statuses,
                                                 page_size=page_size, page_token=tok,
                                                 timeout=timeout))


# -----------------------------------------------------------------------------------
# ConsentService
# -----------------------------------------------------------------------------------

class Consents(_Group):
    """Consent to disclose information about a named child (ConsentService)."""

    def record(self, subject: str, *, giver: cv.EnumLike, purpose: str, scope: str,
               method: cv.EnumLike, recipient: Optional[str] = None,
               recipient_type: cv.EnumLike = None, giver_relation: cv.EnumLike = None,
               valid_until: cv.DateLike = None, request_id: Optional[str] = None,
               recipients: Sequence[Union[str, Dict[str, Any]]] = (),
               timeout: Optional[float] = None) -> "consent_pb2.Consent":
        """Records a consent given by ``giver`` (``"child"``/``"guardian"``) for the
        child ``subject`` (national id) to disclose to ``recipient`` (agency id) or any
        agency of ``recipient_type``; or to several: ``recipients=["legekontor-sentrum",
        {"type": "bup"}]`` (agency ids, or ``{"agency": id}`` / ``{"type": t}``)."""
        refs = []
        for r in recipients:
            if isinstance(r, str):
                refs.append(consent_pb2.RecipientRef(agency=r))
            elif "agency" in r:
                refs.append(consent_pb2.RecipientRef(agency=r["agency"]))
            else:
                refs.append(consent_pb2.RecipientRef(
                    type=_E(types_pb2.AgencyType, r.get("type"), "AGENCY_TYPE_", "recipients")))
        if refs and (recipient is not None or recipient_type is not None):
            raise cv._local_invalid("recipient: give recipients= or recipient=/recipient_type=")
        if not refs and (recipient is None) == (recipient_type is None):
            raise cv._local_invalid("recipient: give exactly one of recipient= or "
                                    "recipient_type=")
        rcpt = consent_pb2.ConsentRecipient()
        if refs:
            if refs[0].WhichOneof("target") == "agency":
                rcpt.agency = refs[0].agency
            else:
                rcpt.agency_type = refs[0].type
        elif recipient is not None:
            rcpt.agency = recipient
        else:
            rcpt.agency_type = _E(types_pb2.AgencyType, recipient_type, "AGENCY_TYPE_",
                                  "recipient_type")
        req = consent_pb2.RecordConsentRequest(
            request_id=request_id or new_request_id(), subject_national_id=subject,
            giver=_E(consent_pb2.ConsentGiver, giver, "CONSENT_GIVER_", "giver"),
            giver_relation=_E(consent_pb2.GuardianRelation, giver_relation,
                              "GUARDIAN_RELATION_", "giver_relation"),
            recipient=rcpt, recipients=refs, purpose=purpose, scope=scope,
            method=_E(consent_pb2.ConsentMethod, method, "CONSENT_METHOD_", "method"))
        d = cv.to_date(valid_until, "valid_until")
        if d is not None:
            req.valid_until.CopyFrom(d)
        return self._call("Record", req, True, timeout)

    def revoke(self, id: str, reason: str, *,
               timeout: Optional[float] = None) -> "consent_pb2.Consent":
        return self._call("Revoke", consent_pb2.RevokeConsentRequest(id=id, reason=reason),
                          False, timeout)

    def get(self, id: str, *, timeout: Optional[float] = None) -> "consent_pb2.Consent":
        return self._call("Get", consent_pb2.GetConsentRequest(id=id), True, timeout)

    def list(self, *, subject: str = "", statuses: Sequence[cv.EnumLike] = (),
             page_size: int = 0, page_token: str = "",
             timeout: Optional[float] = None) -> Page["consent_pb2.Consent"]:
        req = consent_pb2.ListConsentsRequest(
            subject_national_id=subject,
            statuses=cv.enum_values(consent_pb2.ConsentStatus, statuses, "CONSENT_STATUS_",
                                    "statuses"),
            page_size=page_size, page_token=page_token)
        resp = self._call("List", req, True, timeout)
        return Page(list(resp.consents), resp.next_page_token)

    def iter(self, *, subject: str = "", statuses: Sequence[cv.EnumLike] = (),
             page_size: int = 0,
             timeout: Optional[float] = None) -> Iterator["consent_pb2.Consent"]:
        return _iter_pages(lambda tok: self.list(subject=subject, statuses=statuses,
                                                 page_size=page_size, page_token=tok,
                                                 timeout=timeout))


# -----------------------------------------------------------------------------------
# ReferralService
# -----------------------------------------------------------------------------------

_DETAIL_TYPES = {"bup": referral_pb2.BupReferralDetails,
                 "ppt": referral_pb2.PptReferralDetails,
                 "child_welfare": referral_pb2.ChildWelfareReportDetails}


class Referrals(_Group):
    """Consent-gated referrals of a named child (ReferralService)."""

    def send(self, to: str, subject: str, reason: str, *, consent_id: Optional[str] = None,
             purpose: Optional[str] = None, statutory_duty: Optional[str] = None,
             parent_conversation_date: cv.DateLike = None,
             bup: Union[Dict[str, Any], "referral_pb2.BupReferralDetails", None] = None,
             ppt: Union[Dict[str, Any], "referral_pb2.PptReferralDetails", None] = None,
             child_welfare: Union[Dict[str, Any],
                                  "referral_pb2.ChildWelfareReportDetails", None] = None,
             attachment_ids: Iterable[str] = (), request_id: Optional[str] = None,
             urgent: bool = False, known_patient: bool = False, parent_demand: bool = False,
             parents_informed: bool = False, _cosigner: Optional[str] = None,
             timeout: Optional[float] = None) -> "referral_pb2.Referral":
        """Sends a referral of ``subject`` (national id) to agency ``to``, under
        ``consent_id`` or, towards child welfare only, ``statutory_duty`` (the written
        justification). ``purpose`` (with ``consent_id`` only) must match the consent's
        purpose (``consent.purpose_mismatch``); omitted, the referral is for the
        consent's purpose. ``urgent`` (øyeblikkelig hjelp; ``known_patient``: already a
        patient of that BUP clinic) is routed, see ``recipient_agency`` and
        ``routed_reason``; ``parent_demand``/``parents_informed`` are for PPT. Every
        violated rule comes back at once in PolicyViolation."""
        req = referral_pb2.SendReferralRequest(
            request_id=request_id or new_request_id(), recipient_agency=to,
            subject_national_id=subject, reason=reason, attachment_ids=list(attachment_ids),
            urgent=urgent, known_patient=known_patient, parent_demand=parent_demand,
            parents_informed=parents_informed, cosigner_agency=_cosigner or "")
        if consent_id is not None and statutory_duty is not None:
            raise cv._local_invalid("legal basis: give consent_id= or statutory_duty=, "
                                    "not both")
        if purpose is not None and consent_id is None:
            raise cv._local_invalid("purpose= goes with consent_id=")
        if consent_id is not None:
            req.consent_id = consent_id
        if purpose is not None:
            req.purpose = purpose
        if statutory_duty is not None:
            req.statutory_duty.justification = statutory_duty
        d = cv.to_date(parent_conversation_date, "parent_conversation_date")
        if d is not None:
            req.parent_conversation_date.CopyFrom(d)
        given = [(n, v) for n, v in (("bup", bup), ("ppt", ppt),
                                     ("child_welfare", child_welfare)) if v is not None]
        if len(given) > 1:
            raise cv._local_invalid("details: give at most one of bup=, ppt=, child_welfare=")
        for name, value in given:
            msg = value if not isinstance(value, dict) else _DETAIL_TYPES[name](**value)
            getattr(req, name).CopyFrom(msg)
        return self._call("Draft" if _cosigner else "Send", req, True, timeout)

    def draft(self, to: str, subject: str, reason: str, *, cosigner: str,
              **kwargs: Any) -> "referral_pb2.Referral":
        """A draft (every argument of :meth:`send`) for the ``cosigner`` agency to
        co-sign and send (DRAFT)."""
        if not cosigner:
            raise cv._local_invalid("cosigner= is required for a draft")
        return self.send(to, subject, reason, _cosigner=cosigner, **kwargs)

    def cosign(self, id: str, *, timeout: Optional[float] = None) -> "referral_pb2.Referral":
        """Co-signs a DRAFT of which the caller's agency is the co-signer (-> SENT)."""
        return self._call("Cosign", referral_pb2.CosignReferralRequest(id=id), False, timeout)

    def return_draft(self, id: str, reason: str, *,
                     timeout: Optional[float] = None) -> "referral_pb2.Referral":
        """Returns a DRAFT to its initiator with ``reason`` (-> RETURNED)."""
        return self._call("Return", referral_pb2.ReturnReferralRequest(id=id, reason=reason),
                          False, timeout)

    def message(self, id: str, text: str, *, attachment_ids: Iterable[str] = (),
                timeout: Optional[float] = None) -> "referral_pb2.ReferralMessage":
        """Writes on the referral's thread."""
        req = referral_pb2.PostReferralMessageRequest(referral_id=id, text=text,
                                                      attachment_ids=list(attachment_ids))
        return self._call("PostMessage", req, False, timeout)

    def thread(self, id: str, *,
               timeout: Optional[float] = None) -> List["referral_pb2.ReferralMessage"]:
        """The thread's messages, oldest first."""
        resp = self._call("GetThread", referral_pb2.GetReferralThreadRequest(referral_id=id),
                          True, timeout)
        return list(resp.messages)

    def invite(self, id: str, agency: str, *,
               timeout: Optional[float] = None) -> "referral_pb2.Referral":
        """The recipient invites ``agency`` (covered by the consent) to the thread."""
        req = referral_pb2.InviteToReferralRequest(referral_id=id, agency=agency)
        return self._call("Invite", req, False, timeout)

    def supplement(self, id: str, text: str, *, attachment_ids: Iterable[str] = (),
                   timeout: Optional[float] = None) -> "referral_pb2.Referral":
        """Answers NEED_INFO; the referral returns to ACKNOWLEDGED."""
        req = referral_pb2.SupplementReferralRequest(referral_id=id, text=text,
                                                     attachment_ids=list(attachment_ids))
        return self._call("Supplement", req, False, timeout)

    def get(self, id: str, *, timeout: Optional[float] = None) -> "referral_pb2.Referral":
        return self._call("Get", referral_pb2.GetReferralRequest(id=id), True, timeout)

    def list(self, *, mailbox: cv.EnumLike = "received", statuses: Sequence[cv.EnumLike] = (),
             page_size: int = 0, page_token: str = "",
             timeout: Optional[float] = None) -> Page["referral_pb2.Referral"]:
        req = referral_pb2.ListReferralsRequest(
            mailbox=_E(types_pb2.Mailbox, mailbox, "MAILBOX_", "mailbox"),
            statuses=cv.enum_values(referral_pb2.ReferralStatus, statuses, "REFERRAL_STATUS_",
                                    "statuses"),
            page_size=page_size, page_token=page_token)
        resp = self._call("List", req, True, timeout)
        return Page(list(resp.referrals), resp.next_page_token)

    def iter(self, *, mailbox: cv.EnumLike = "received", statuses: Sequence[cv.EnumLike] = (),
             page_size: int = 0,
             timeout: Optional[float] = None) -> Iterator["referral_pb2.Referral"]:
        return _iter_pages(lambda tok: self.list(mailbox=mailbox, statuses=statuses,
                                                 page_size=page_size, page_token=tok,
                                                 timeout=timeout))

    def acknowledge(self, id: str, *,
                    timeout: Optional[float] = None) -> "referral_pb2.Referral":
        return self._call("Acknowledge", referral_pb2.AcknowledgeReferralRequest(id=id),
                          False, timeout)

    def decide(self, id: str, decision: cv.EnumLike, reason: str = "", *,
               timeout: Optional[float] = None) -> "referral_pb2.Referral":
        """``decision``: ``"accept"``, ``"reject"`` or ``"need_info"`` (reason required
        for the last two)."""
        req = referral_pb2.DecideReferralRequest(
            id=id, decision=_E(referral_pb2.ReferralDecision, decision, "REFERRAL_DECISION_",
                               "decision"), reason=reason)
        return self._call("Decide", req, False, timeout)

    def withdraw(self, id: str, reason: str = "", *,
                 timeout: Optional[float] = None) -> "referral_pb2.Referral":
        return self._call("Withdraw", referral_pb2.WithdrawReferralRequest(id=id, reason=reason),
                          False, timeout)

    def upload_attachment(self, source: Union[PathLike, bytes, bytearray, memoryview], *,
                          filename: Optional[str] = None, content_type: Optional[str] = None,
                          kind: cv.EnumLike = "other", request_id: Optional[str] = None,
                          chunk_size: int = CHUNK_SIZE,
                          timeout: Optional[float] = None) -> "referral_pb2.AttachmentInfo":
        """Uploads a file (path) or bytes in chunks with its SHA-256; ``kind`` is
        ``"action_log"`` (tiltakslogg) or ``"other"``. ``filename`` defaults to the
        path's base name, ``content_type`` to a guess from the file name.
        Returns the AttachmentInfo whose ``id`` goes into ``send(attachment_ids=...)``."""
        if not 0 < chunk_size <= CHUNK_SIZE:
            raise cv._local_invalid("chunk_size: 1..%d" % CHUNK_SIZE)
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            if not filename:
                raise cv._local_invalid("filename: required when uploading bytes")
            size, digest = len(data), hashlib.sha256(data).digest()
            opener: Callable[[], BinaryIO] = lambda: io.BytesIO(data)
        else:
            path = os.fspath(source)
            try:
                h = hashlib.sha256()
                size = 0
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(CHUNK_SIZE), b""):
                        h.update(block)
                        size += len(block)
            except OSError as e:
                raise ConfigurationError("attachment %s: %s" % (path, e.strerror or e)) \
                    from None
            digest = h.digest()
            filename = filename or os.path.basename(path)
            opener = lambda: open(path, "rb")  # noqa: E731
        if not content_type:
            content_type = _guess_type(filename)
        meta = referral_pb2.AttachmentMetadata(
            request_id=request_id or new_request_id(), filename=filename,
            content_type=content_type,
            kind=_E(referral_pb2.AttachmentKind, kind, "ATTACHMENT_KIND_", "kind"),
            size=size, sha256=digest)

        def requests() -> Iterator["referral_pb2.UploadAttachmentRequest"]:
            yield referral_pb2.UploadAttachmentRequest(metadata=meta)
            with opener() as f:
                for block in iter(lambda: f.read(chunk_size), b""):
                    yield referral_pb2.UploadAttachmentRequest(chunk=block)

        return self._c._retrying(lambda t: self._stub.UploadAttachment(
            requests(), timeout=t, **self._c._call_kwargs()),
                                 True, timeout)

    def download_attachment(self, referral_id: str, attachment_id: str,
                            dest: Optional[PathLike] = None, *,
                            timeout: Optional[float] = None) -> DownloadedAttachment:
        """Downloads an attachment and checks its size and SHA-256 (VerificationError
        on mismatch). With ``dest`` the content goes to that file (written aside and
        renamed only once verified), otherwise into ``.data``."""
        req = referral_pb2.DownloadAttachmentRequest(referral_id=referral_id,
                                                     attachment_id=attachment_id)

        def attempt(t: float) -> Tuple[Any, bytes]:
            info = None
            buf = bytearray()
            for msg in self._stub.DownloadAttachment(req, timeout=t,
                                                     **self._c._call_kwargs()):
                if msg.HasField("info"):
                    info = msg.info
                else:
                    buf += msg.chunk
            return info, bytes(buf)

        info, data = self._c._retrying(attempt, True, timeout)
        if info is None:
            raise VerificationError("download: the server sent no attachment info")
        if len(data) != info.size or hashlib.sha256(data).digest() != info.sha256:
            raise VerificationError(
                "attachment %s: content does not match its size/SHA-256 (got %d bytes)"
                % (attachment_id, len(data)))
        if dest is None:
            return DownloadedAttachment(info, data=data)
        path = os.fspath(dest)
        tmp = path + ".part"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return DownloadedAttachment(info, path=path)


_EXTRA_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".odt": "application/vnd.oasis.opendocument.text", ".txt": "text/plain",
    ".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg"}


def _guess_type(filename: str) -> str:
    ext = os.path.splitext(filename)[1].lower()
    return _EXTRA_TYPES.get(ext) or mimetypes.guess_type(filename)[0] or \
        "application/octet-stream"


# -----------------------------------------------------------------------------------
# InboxService
# -----------------------------------------------------------------------------------

class Subscription:
    """An iterator over the agency's inbox events (returned by ``Inbox.subscribe``).

    Replays unacknowledged events, then follows live ones. When the stream breaks
    (UNAVAILABLE, server restart, or the per-stream deadline) it resubscribes from
    the last cursor acknowledged through it, and skips events it already yielded, so
    each cursor is yielded once per Subscription. Iteration ends when ``duration``
    has passed, when :meth:`cancel` is called, or raises Unavailable after
    ``max_reconnects`` consecutive failed attempts.
    """

    def __init__(self, inbox: "Inbox", from_cursor: int, auto_ack: bool,
                 duration: Optional[float], stream_timeout: float, max_reconnects: int,
                 consumer: Optional[str] = None):
        self._inbox = inbox
        self.consumer = consumer
        self.acked_cursor = from_cursor
        self.last_cursor = from_cursor
        self._auto_ack = auto_ack
        self._end = None if duration is None else time.monotonic() + duration
        self._stream_timeout = stream_timeout
        self._max_reconnects = max_reconnects
        self._call: Any = None
        self._cancelled = False
        self._gen = self._run()

    def __iter__(self) -> "Subscription":
        return self

    def __next__(self) -> "inbox_pb2.InboxEvent":
        return next(self._gen)

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cancel()

    def ack(self, cursor: Optional[int] = None, *, timeout: Optional[float] = None) -> int:
        """Acknowledges up to ``cursor`` (default: the last event yielded); later
        resubscriptions start after it. Returns the consumer's acked position."""
        cursor = self.last_cursor if cursor is None else cursor
        acked = self._inbox.ack(cursor, consumer=self.consumer, timeout=timeout)
        self.acked_cursor = max(self.acked_cursor, cursor)
        return acked

    def cancel(self) -> None:
        """Ends the iteration (also from another thread)."""
        self._cancelled = True
        call = self._call
        if call is not None:
            call.cancel()

    def _run(self) -> Iterator["inbox_pb2.InboxEvent"]:
        c = self._inbox._c
        failures = 0
        while not self._cancelled:
            t = self._stream_timeout
            if self._end is not None:
                t = min(t, self._end - time.monotonic())
                if t <= 0:
                    return
            try:
                c._ensure_connected(time.monotonic() + t)
                self._call = self._inbox._stub.Subscribe(
                    inbox_pb2.SubscribeRequest(from_cursor=self.acked_cursor,
                                               consumer=self.consumer or ""), timeout=t,
                    **c._call_kwargs())
                for event in self._call:
                    failures = 0
                    if event.cursor <= self.last_cursor:
                        continue  # already yielded by this subscription
                    self.last_cursor = event.cursor
                    yield event
                    if self._auto_ack:
                        self.ack(event.cursor)
            except grpc.RpcError as e:
                code = e.code()
                if self._cancelled or code == grpc.StatusCode.CANCELLED:
                    return
                if code not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise c._error(e) from None
                if code == grpc.StatusCode.UNAVAILABLE:
                    failures += 1
            except Unavailable:
                failures += 1
            finally:
                call, self._call = self._call, None
                if call is not None:
                    call.cancel()
            if failures > self._max_reconnects:
                raise Unavailable("inbox stream: %s unreachable after %d attempts"
                                  % (c.server, failures), code=grpc.StatusCode.UNAVAILABLE)
            if failures:
                time.sleep(min(0.2 * (2 ** (failures - 1)), 5.0))
                c._root._ready = False


class Inbox(_Group):
    """The agency's ordered event inbox (InboxService)."""

    def subscribe(self, from_cursor: int = 0, *, consumer: Optional[str] = None,
                  auto_ack: bool = False, duration: Optional[float] = None,
                  stream_timeout: float = 900.0, max_reconnects: int = 10) -> Subscription:
        """Events with cursor > ``from_cursor`` the consumer has not yet acknowledged,
        then live ones.

        ``consumer`` names whose acknowledged position to use and move (1-64 of
        a-z, 0-9, '.', '_', '-'; None: the caller's user id), so that several
        readers of the agency's inbox do not take events from each other.
        ``auto_ack`` acknowledges each event once the loop asks for the next one.
        ``duration`` ends the iteration after that many seconds (None: follow until
        cancelled). Each underlying stream has the deadline ``stream_timeout`` and is
        resumed transparently."""
        return Subscription(self, from_cursor, auto_ack, duration, stream_timeout,
                            max_reconnects, consumer)

    def read(self, after_cursor: int = 0, *, consumer: Optional[str] = None,
             wait: float = 0.5, max_events: int = 1000) -> List["inbox_pb2.InboxEvent"]:
        """The events there are now: those with cursor > ``after_cursor`` that
        ``consumer`` has not acknowledged, in cursor order, read through one
        Subscribe stream that ends after ``wait`` seconds (its deadline: the stream
        has no end of its own) or at ``max_events``. Acknowledges nothing, so it
        moves no consumer's position. An event committed while it reads may or may
        not be included; the next read after the last cursor returned gets it.
        Raises Unavailable (also not retried) and the API's errors, e.g.
        InvalidArgument when ``after_cursor`` is beyond the latest event."""
        if wait <= 0 or max_events < 1:
            raise ConfigurationError("inbox.read: wait and max_events must be positive")
        c = self._c
        c._ensure_connected(time.monotonic() + wait)
        call = self._stub.Subscribe(
            inbox_pb2.SubscribeRequest(from_cursor=after_cursor, consumer=consumer or ""),
            timeout=wait, **c._call_kwargs())
        events: List["inbox_pb2.InboxEvent"] = []
        try:
            for event in call:
                events.append(event)
                if len(events) >= max_events:
                    break
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise c._error(e) from None
        finally:
            call.cancel()
        return events

    def ack(self, up_to_cursor: int, *, consumer: Optional[str] = None,
            timeout: Optional[float] = None) -> int:
        """Acknowledges every event up to ``up_to_cursor`` for ``consumer`` (None: the
        caller's user id); returns that consumer's acked position. Removes nothing.
        Idempotent, so retried on UNAVAILABLE."""
        resp = self._call("Ack", inbox_pb2.AckRequest(up_to_cursor=up_to_cursor,
                                                      consumer=consumer or ""), True, timeout)
        return resp.acked_cursor


# -----------------------------------------------------------------------------------
# AuditService
# -----------------------------------------------------------------------------------

class Audit(_Group):
    """The tamper-evident audit log (AuditService). Offline verification helpers are
    in :mod:`budstikke.verify`; :meth:`verify_checkpoint` combines both."""

    def public_key(self, *,
                   timeout: Optional[float] = None) -> "audit_pb2.GetPublicKeyResponse":
        return self._call("GetPublicKey", audit_pb2.GetPublicKeyRequest(), True, timeout)

    def checkpoint(self, *, timeout: Optional[float] = None) -> "audit_pb2.Checkpoint":
        return self._call("GetCheckpoint", audit_pb2.GetCheckpointRequest(), True, timeout)

    def get_event(self, index: int, *,
                  timeout: Optional[float] = None) -> "audit_pb2.GetEventResponse":
        return self._call("GetEvent", audit_pb2.GetEventRequest(index=index), True, timeout)

    def inclusion_proof(self, index: int, tree_size: int = 0, *,
                        timeout: Optional[float] = None) -> "audit_pb2.InclusionProof":
        return self._call("GetInclusionProof",
                          audit_pb2.GetInclusionProofRequest(index=index, tree_size=tree_size),
                          True, timeout)

    def consistency_proof(self, first: int, second: int, *,
                          timeout: Optional[float] = None) -> "audit_pb2.ConsistencyProof":
        return self._call("GetConsistencyProof",
                          audit_pb2.GetConsistencyProofRequest(first=first, second=second),
                          True, timeout)

    def query(self, *, subject: str = "", actor_agency: str = "", actor_user: str = "",
              action: str = "", outcome: cv.EnumLike = None, since: cv.TimeLike = None,
              until: cv.TimeLike = None, with_proofs: bool = False, page_size: int = 0,
              page_token: str = "",
              timeout: Optional[float] = None) -> Iterator["audit_pb2.QueryAuditResponse"]:
        """Pages of matching events, oldest first (each page its own deadline).
        Iterate ``page.records``; with ``with_proofs`` each page carries the
        checkpoint its inclusion proofs are against (see budstikke.verify)."""
        req = audit_pb2.QueryAuditRequest(
            subject_national_id=subject, actor_agency=actor_agency, actor_user=actor_user,
            action=action,
            outcome=_E(audit_pb2.AuditOutcome, outcome, "AUDIT_OUTCOME_", "outcome"),
            with_proofs=with_proofs, page_size=page_size, page_token=page_token)
        for name, value in (("since", since), ("until", until)):
            ts = cv.to_timestamp(value, name)
            if ts is not None:
                getattr(req, name).CopyFrom(ts)

        def pages() -> Iterator["audit_pb2.QueryAuditResponse"]:
            while True:
                resp = self._call("Query", req, True, timeout)
                yield resp
                if not resp.next_page_token:
                    return
                req.page_token = resp.next_page_token
        return pages()

    def events(self, **kwargs: Any) -> Iterator["audit_pb2.AuditRecord"]:
        """Every record of :meth:`query` (same arguments), page after page."""
        for page in self.query(**kwargs):
            yield from page.records

    def subject_access_report(self, subject: str, *, since: cv.TimeLike = None,
                              until: cv.TimeLike = None, page_size: int = 0,
                              timeout: Optional[float] = None
                              ) -> List["audit_pb2.SubjectAccessEntry"]:
        """Who accessed the child's data (innsyn i logg), oldest first; all pages."""
        req = audit_pb2.SubjectAccessReportRequest(subject_national_id=subject,
                                                   page_size=page_size)
        for name, value in (("since", since), ("until", until)):
            ts = cv.to_timestamp(value, name)
            if ts is not None:
                getattr(req, name).CopyFrom(ts)
        entries: List[Any] = []
        while True:
            resp = self._call("SubjectAccessReport", req, True, timeout)
            entries.extend(resp.entries)
            if not resp.next_page_token:
                return entries
            req.page_token = resp.next_page_token

    def verify_checkpoint(self, verifier_key: Optional[str] = None,
                          previous: Optional[Any] = None, *,
                          timeout: Optional[float] = None) -> Any:
        """Fetches the latest checkpoint and verifies it offline: its Ed25519 signature
        under ``verifier_key`` (default: the key the server publishes; pin it for real
        independence) and, given a ``previous`` verified checkpoint, its consistency
        with it. Returns a :class:`budstikke.verify.Checkpoint`; raises
        VerificationError."""
        from budstikke import verify as v
        if verifier_key is None:
            verifier_key = self.public_key(timeout=timeout).verifier_key
        cp = v.verify_checkpoint(self.checkpoint(timeout=timeout).signed_note, verifier_key)
        if previous is not None and previous.size > 0:
            if cp.size < previous.size:
                raise VerificationError("checkpoint shrank from %d to %d"
                                        % (previous.size, cp.size))
            if cp.size == previous.size:
                if cp.root_hash != previous.root_hash:
                    raise VerificationError("same tree size, different root hash")
            else:
                proof = self.consistency_proof(previous.size, cp.size, timeout=timeout)
                v.verify_consistency(previous.size, cp.size, list(proof.path),
                                     previous.root_hash, cp.root_hash)
        return cp

    def verify_event(self, index: int, checkpoint: Any, *,
                     timeout: Optional[float] = None) -> "audit_pb2.GetEventResponse":
        """Fetches event ``index`` (auditor) and proves it is in ``checkpoint`` (a
        verified budstikke.verify.Checkpoint). Returns the event; raises
        VerificationError."""
        from budstikke import verify as v
        ev = self.get_event(index, timeout=timeout)
        proof = self.inclusion_proof(index, checkpoint.size, timeout=timeout)
        v.verify_inclusion(v.leaf_hash(ev.leaf_data), index, checkpoint.size,
                           list(proof.inclusion_path), checkpoint.root_hash)
        return ev


# -----------------------------------------------------------------------------------
# AdminService
# -----------------------------------------------------------------------------------

class Admin(_Group):
    """Keys, backups and server information (AdminService; role admin except
    server_info)."""

    def key_status(self, agency: str, *,
                   timeout: Optional[float] = None) -> "admin_pb2.AgencyKeyStatus":
        return self._call("GetKeyStatus", admin_pb2.GetKeyStatusRequest(agency=agency), True,
                          timeout)

    def rotate_key(self, agency: str, *, request_id: Optional[str] = None,
                   timeout: Optional[float] = None) -> "admin_pb2.AgencyKeyStatus":
        req = admin_pb2.RotateAgencyKeyRequest(request_id=request_id or new_request_id(),
                                               agency=agency)
        return self._call("RotateAgencyKey", req, True, timeout)

    def shred_key(self, agency: str, version: int, *, confirm: str, force: bool = False,
                  timeout: Optional[float] = None) -> "admin_pb2.AgencyKeyStatus":
        """Destroys a non-current key version. ``confirm`` must be exactly
        ``"<agency>/<version>"``: this cannot be undone. A version that still
        protects records is refused (rule ``key.shred.in_use``) unless ``force``;
        with it those records become unreadable for the agency."""
        req = admin_pb2.ShredAgencyKeyVersionRequest(agency=agency, version=version,
                                                     confirm=confirm, force=force)
        return self._call("ShredAgencyKeyVersion", req, False, timeout)

    def rewrap_progress(self, agency: str, *,
                        timeout: Optional[float] = None) -> "admin_pb2.RewrapProgress":
        return self._call("GetRewrapProgress", admin_pb2.GetRewrapProgressRequest(agency=agency),
                          True, timeout)

    def backup(self, dest_dir: str, *, request_id: Optional[str] = None,
               timeout: Optional[float] = None) -> "admin_pb2.Backup":
        req = admin_pb2.CreateBackupRequest(request_id=request_id or new_request_id(),
                                            dest_dir=dest_dir)
        return self._call("CreateBackup", req, True, timeout)

    def server_info(self, *, timeout: Optional[float] = None) -> "admin_pb2.ServerInfo":
        return self._call("GetServerInfo", admin_pb2.GetServerInfoRequest(), True, timeout)
