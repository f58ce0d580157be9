"""Budstikke Python SDK: secure messaging for the agencies around a child.

    import budstikke

    with budstikke.Client(server="localhost:8443", ca="ca.pem",
                          cert="me.pem", key="me.key") as c:
        print(c.whoami().spiffe_id)

See :class:`budstikke.Client` for the contract (deadlines, retries, errors),
:mod:`budstikke.errors` for the exceptions, :mod:`budstikke.verify` for offline
audit-log verification and :mod:`budstikke.pb` for the generated message types.
"""

__version__ = "0.1.0"

from budstikke.errors import (AlreadyExists, BudstikkeError, ConfigurationError,  # noqa: E402
                              DeadlineExceeded, Finding, InvalidArgument, NotFound,
                              PermissionDenied, PolicyViolation, Unauthenticated,
                              Unavailable, Unimplemented, VerificationError, Violation)
from budstikke.client import (CHUNK_SIZE, Client, DownloadedAttachment, Page,  # noqa: E402
                              Subscription, new_request_id)
from budstikke._convert import enum_name  # noqa: E402

__all__ = [
    "Client", "Page", "Subscription", "DownloadedAttachment", "new_request_id", "CHUNK_SIZE",
    "enum_name", "BudstikkeError", "ConfigurationError", "VerificationError",
    "InvalidArgument", "AlreadyExists", "PolicyViolation", "Unauthenticated",
    "PermissionDenied", "NotFound", "Unavailable", "DeadlineExceeded", "Unimplemented",
    "Violation", "Finding", "__version__",
]
