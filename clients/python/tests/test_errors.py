"""Local configuration errors, connection failures and error-detail decoding."""

import os
import socket
import time

import grpc
import pytest
from google.protobuf import any_pb2

import budstikke
from budstikke import errors
from budstikke.pb import status_pb2, types_pb2


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_from_env_without_cert_names_the_variable(server):
    env = server.env("kindergarten-staff")
    del env["BUDSTIKKE_CERT"]
    with pytest.raises(budstikke.ConfigurationError) as ei:
        budstikke.Client.from_env(env)
    assert ei.value.message == \
        "no client certificate configured: pass cert=... or set BUDSTIKKE_CERT"
    assert ei.value.code is None and ei.value.code_name == "LOCAL"


@pytest.mark.parametrize("var,what", [("BUDSTIKKE_SERVER", "server address"),
                                      ("BUDSTIKKE_CA", "CA certificate"),
                                      ("BUDSTIKKE_KEY", "client private key")])
def test_from_env_each_missing_setting(server, var, what):
    env = server.env("kindergarten-staff")
    env[var] = ""
    with pytest.raises(budstikke.ConfigurationError) as ei:
        budstikke.Client.from_env(env)
    assert what in ei.value.message and var in ei.value.message


def test_missing_key_file_names_variable_and_path(server, tmp_path):
    env = server.env("kindergarten-staff")
    env["BUDSTIKKE_KEY"] = str(tmp_path / "nope.key")
    with pytest.raises(budstikke.ConfigurationError) as ei:
        budstikke.Client.from_env(env)
    msg = ei.value.message
    assert msg.startswith("BUDSTIKKE_KEY: cannot read private key file ")
    assert "nope.key" in msg and "No such file or directory" in msg


def test_missing_file_as_argument_names_the_argument(server, tmp_path):
    c = server.cert_dir
    with pytest.raises(budstikke.ConfigurationError) as ei:
        budstikke.Client(server.address, ca=str(tmp_path / "ca.pem"),
                         cert=c + "/admin.pem", key=c + "/admin.key")
    assert ei.value.message.startswith("ca=: cannot read CA certificate file ")


def test_not_a_pem_file(server, tmp_path):
    bogus = tmp_path / "cert.pem"
    bogus.write_text("hello")
    env = server.env("admin")
    env["BUDSTIKKE_CERT"] = str(bogus)
    with pytest.raises(budstikke.ConfigurationError) as ei:
        budstikke.Client.from_env(env)
    assert "BUDSTIKKE_CERT" in ei.value.message and "not a PEM file" in ei.value.message


def test_keyword_arguments_override_env(server):
    env = server.env("kindergarten-staff")
    env["BUDSTIKKE_SERVER"] = ""
    with budstikke.Client.from_env(env, server=server.address) as c:
        assert c.whoami().actor.agency == "bhg-solsikken"


def test_server_down_raises_unavailable_fast(server):
    env = server.env("kindergarten-staff")
    env["BUDSTIKKE_SERVER"] = "localhost:%d" % _free_port()
    with budstikke.Client.from_env(env, timeout=30.0, connect_timeout=1.0) as c:
        start = time.monotonic()
        with pytest.raises(budstikke.Unavailable) as ei:
            c.whoami()
        elapsed = time.monotonic() - start
    assert elapsed < 5.0
    assert ei.value.code == grpc.StatusCode.UNAVAILABLE
    assert "cannot connect to localhost:" in ei.value.message
    assert ei.value.exit_code == 5


def test_tls_handshake_failure_raises_unavailable_fast(server):
    # The client trusts a CA that did not sign the server certificate.
    env = server.env("kindergarten-staff")
    env["BUDSTIKKE_CA"] = os.path.join(server.cert_dir, "kindergarten-staff.pem")
    with budstikke.Client.from_env(env, timeout=30.0, connect_timeout=1.0) as c:
        start = time.monotonic()
        with pytest.raises(budstikke.Unavailable):
            c.whoami()
        assert time.monotonic() - start < 5.0


def test_service_identity_must_name_on_behalf_of_caller(server):
    with server.client("svc-audit") as c:
        with pytest.raises(budstikke.PermissionDenied) as ei:
            c.whoami()
    assert "must name the caller it acts for" in ei.value.message


def _status_blob(violations=(), findings=(), type_url=None):
    details = types_pb2.ErrorDetails()
    for rule, desc in violations:
        details.violations.add(rule=rule, description=desc)
    for f in findings:
        details.findings.add(**f)
    any_msg = any_pb2.Any()
    any_msg.Pack(details)
    if type_url:
        any_msg.type_url = type_url
    st = status_pb2.Status(code=9, message="refused")
    st.details.append(any_msg)
    return st.SerializeToString()


class _FakeRpcError(grpc.RpcError):
    def __init__(self, code, details, trailing):
        self._c, self._d, self._t = code, details, trailing

    def code(self):
        return self._c

    def details(self):
        return self._d

    def trailing_metadata(self):
        return self._t


def test_decode_policy_violation_details():
    blob = _status_blob([("referral.bup.sender_role", "BUP needs a physician"),
                         ("referral.legal_basis", "no consent")],
                        [dict(id=0, kind=types_pb2.PII_KIND_NAME,
                              severity=types_pb2.SEVERITY_WARN, start=3, end=7)])
    err = errors.from_rpc_error(_FakeRpcError(
        grpc.StatusCode.FAILED_PRECONDITION, "refused by policy",
        (("other", "x"), ("grpc-status-details-bin", blob))))
    assert isinstance(err, budstikke.PolicyViolation)
    assert err.rules == ["referral.bup.sender_role", "referral.legal_basis"]
    assert err.findings == [budstikke.Finding(0, "NAME", "WARN", 3, 7)]
    assert err.exit_code == 3
    assert err.to_dict() == {"error": {
        "code": "FAILED_PRECONDITION", "message": "refused by policy",
        "violations": [{"rule": "referral.bup.sender_role",
                        "description": "BUP needs a physician"},
                       {"rule": "referral.legal_basis", "description": "no consent"}],
        "findings": [{"id": 0, "kind": "NAME", "severity": "WARN", "start": 3, "end": 7}]}}
    assert str(err) == ("FAILED_PRECONDITION: refused by policy "
                        "[referral.bup.sender_role, referral.legal_basis]")


def test_decode_ignores_other_detail_types_and_garbage():
    blob = _status_blob([("a.b", "c")], type_url="type.googleapis.com/other.Type")
    err = errors.from_rpc_error(_FakeRpcError(grpc.StatusCode.NOT_FOUND, "nope",
                                              (("grpc-status-details-bin", blob),)))
    assert isinstance(err, budstikke.NotFound) and err.violations == []
    err = errors.from_rpc_error(_FakeRpcError(grpc.StatusCode.UNKNOWN, "x",
                                              (("grpc-status-details-bin", b"\xff\x00"),)))
    assert type(err) is budstikke.BudstikkeError and err.violations == []


@pytest.mark.parametrize("code,cls", [
    (grpc.StatusCode.INVALID_ARGUMENT, budstikke.InvalidArgument),
    (grpc.StatusCode.ALREADY_EXISTS, budstikke.AlreadyExists),
    (grpc.StatusCode.UNAUTHENTICATED, budstikke.Unauthenticated),
    (grpc.StatusCode.PERMISSION_DENIED, budstikke.PermissionDenied),
    (grpc.StatusCode.UNAVAILABLE, budstikke.Unavailable),
    (grpc.StatusCode.DEADLINE_EXCEEDED, budstikke.DeadlineExceeded),
    (grpc.StatusCode.UNIMPLEMENTED, budstikke.Unimplemented),
    (grpc.StatusCode.INTERNAL, budstikke.BudstikkeError)])
def test_code_mapping(code, cls):
    err = errors.from_rpc_error(_FakeRpcError(code, "m", ()))
    assert type(err) is cls and err.code == code
    assert isinstance(err, budstikke.BudstikkeError)


def test_deadline_exceeded_is_unavailable():
    assert issubclass(budstikke.DeadlineExceeded, budstikke.Unavailable)
