"""The exceptions of the Budstikke SDK.

Every failure raised by :class:`budstikke.Client` is a :class:`BudstikkeError`.
Errors from the server map one-to-one from the gRPC status code::

    INVALID_ARGUMENT    -> InvalidArgument        (CLI exit 2)
    ALREADY_EXISTS      -> AlreadyExists          (2)
    FAILED_PRECONDITION -> PolicyViolation        (3)  .violations lists every rule
    UNAUTHENTICATED     -> Unauthenticated        (4)
    PERMISSION_DENIED   -> PermissionDenied       (4)
    NOT_FOUND           -> NotFound               (4)
    UNAVAILABLE         -> Unavailable            (5)
    DEADLINE_EXCEEDED   -> DeadlineExceeded       (5)  (a subclass of Unavailable)
    UNIMPLEMENTED       -> Unimplemented
    anything else       -> BudstikkeError

Local problems (no certificate configured, unreadable files) raise
:class:`ConfigurationError`; a checksum or proof that does not verify raises
:class:`VerificationError`.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Type

import grpc

__all__ = [
    "Violation", "Finding", "BudstikkeError", "ConfigurationError", "VerificationError",
    "InvalidArgument", "AlreadyExists", "PolicyViolation", "Unauthenticated",
    "PermissionDenied", "NotFound", "Unavailable", "DeadlineExceeded", "Unimplemented",
    "from_rpc_error",
]

_DETAILS_KEY = "grpc-status-details-bin"
_ERROR_DETAILS_TYPE = "budstikke.v1.ErrorDetails"


@dataclass(frozen=True)
class Violation:
    """One violated policy rule, e.g. ``referral.bup.sender_role``."""
    rule: str
    description: str


@dataclass(frozen=True)
class Finding:
    """A PII finding: kind (``NATIONAL_ID``, ``NAME``...), severity (``WARN``/``REFUSE``)
    and byte offsets into the UTF-8 text (``end`` exclusive). Never the matched text."""
    id: int
    kind: str
    severity: str
    start: int
    end: int


class BudstikkeError(Exception):
    """Base class. ``code`` is a :class:`grpc.StatusCode` (None for local errors)."""

    exit_code = 1

    def __init__(self, message: str, code: Optional[grpc.StatusCode] = None,
                 violations: Sequence[Violation] = (), findings: Sequence[Finding] = ()):
        super().__init__(message)
        self.message = message
        self.code = code
        self.violations: List[Violation] = list(violations)
        self.findings: List[Finding] = list(findings)

    @property
    def code_name(self) -> str:
        """The canonical code as a string, e.g. ``"FAILED_PRECONDITION"`` ("LOCAL" if none)."""
        return self.code.name if self.code is not None else "LOCAL"

    @property
    def rules(self) -> List[str]:
        """The violated rule ids."""
        return [v.rule for v in self.violations]

    def to_dict(self) -> Dict[str, object]:
        """The CLI's ``--output json`` error object: ``{"error": {...}}``."""
        return {"error": {
            "code": self.code_name, "message": self.message,
            "violations": [{"rule": v.rule, "description": v.description}
                           for v in self.violations],
            "findings": [{"id": f.id, "kind": f.kind, "severity": f.severity,
                          "start": f.start, "end": f.end} for f in self.findings]}}

    def __str__(self) -> str:
        s = "%s: %s" % (self.code_name, self.message)
        if self.violations:
            s += " [" + ", ".join(v.rule for v in self.violations) + "]"
        return s


class ConfigurationError(BudstikkeError):
    """A local configuration problem (missing certificate, unreadable file, bad address)."""
    exit_code = 2


class VerificationError(BudstikkeError):
    """A checksum, signature or proof did not verify: the data must not be trusted."""
    exit_code = 1


class InvalidArgument(BudstikkeError):
    exit_code = 2


class AlreadyExists(BudstikkeError):
    exit_code = 2


class PolicyViolation(BudstikkeError):
    """FAILED_PRECONDITION: an allowed caller broke a domain rule; see ``violations``."""
    exit_code = 3


class Unauthenticated(BudstikkeError):
    exit_code = 4


class PermissionDenied(BudstikkeError):
    exit_code = 4


class NotFound(BudstikkeError):
    exit_code = 4


class Unavailable(BudstikkeError):
    """Server down, TLS handshake failed, or retries exhausted: retry later."""
    exit_code = 5


class DeadlineExceeded(Unavailable):
    exit_code = 5


class Unimplemented(BudstikkeError):
    exit_code = 1


_BY_CODE: Dict[grpc.StatusCode, Type[BudstikkeError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: PolicyViolation,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
}


def _strip(enum_name: str, prefix: str) -> str:
    return enum_name[len(prefix):] if enum_name.startswith(prefix) else enum_name


def decode_details(blob: bytes):
    """Decodes a ``grpc-status-details-bin`` value into (violations, findings).

    Unknown detail types are ignored; a malformed blob gives empty lists."""
    from budstikke.pb import status_pb2, types_pb2
    from google.protobuf.message import DecodeError

    violations: List[Violation] = []
    findings: List[Finding] = []
    status = status_pb2.Status()
    try:
        status.ParseFromString(blob)
    except DecodeError:
        return violations, findings
    for any_msg in status.details:
        if any_msg.type_url.rsplit("/", 1)[-1] != _ERROR_DETAILS_TYPE:
            continue
        details = types_pb2.ErrorDetails()
        try:
            any_msg.Unpack(details)
        except DecodeError:
            continue
        violations.extend(Violation(v.rule, v.description) for v in details.violations)
        findings.extend(
            Finding(f.id, _strip(types_pb2.PiiKind.Name(f.kind), "PII_KIND_"),
                    _strip(types_pb2.Severity.Name(f.severity), "SEVERITY_"), f.start, f.end)
            for f in details.findings)
    return violations, findings


def from_rpc_error(err: grpc.RpcError, hint: str = "") -> BudstikkeError:
    """Converts a :class:`grpc.RpcError` (a failed call) into a BudstikkeError."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    message = (err.details() if hasattr(err, "details") else None) or str(code)
    violations: List[Violation] = []
    findings: List[Finding] = []
    trailing = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    for key, value in trailing or ():
        if key == _DETAILS_KEY and isinstance(value, bytes):
            violations, findings = decode_details(value)
    if hint:
        message = "%s (%s)" % (message, hint)
    cls = _BY_CODE.get(code, BudstikkeError)
    return cls(message, code=code, violations=violations, findings=findings)
