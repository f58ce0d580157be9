"""Retries, request ids across retries, and inbox resume across a server restart."""

import grpc
import pytest

import budstikke
from budstikke.pb import directory_pb2
from conftest import Server


class _Unavailable(grpc.RpcError):
    def code(self):
        return grpc.StatusCode.UNAVAILABLE

    def details(self):
        return "connection reset"

    def trailing_metadata(self):
        return ()


def test_read_retried_on_unavailable(client_for):
    c = client_for("kindergarten-staff")
    calls = []

    def attempt(remaining):
        calls.append(remaining)
        if len(calls) < 3:
            raise _Unavailable()
        return "ok"

    assert c._retrying(attempt, True, None) == "ok"
    assert len(calls) == 3
    assert all(0 < t <= 10.0 for t in calls)


def test_non_idempotent_write_not_retried(client_for):
    c = client_for("kindergarten-staff")
    calls = []

    def attempt(remaining):
        calls.append(remaining)
        raise _Unavailable()

    with pytest.raises(budstikke.Unavailable) as ei:
        c._retrying(attempt, False, None)
    assert len(calls) == 1
    assert ei.value.message == "connection reset (server %s)" % c.server


def test_retries_stop_at_the_deadline(client_for):
    c = client_for("kindergarten-staff", retries=50)
    calls = []

    def attempt(remaining):
        calls.append(remaining)
        raise _Unavailable()

    with pytest.raises(budstikke.Unavailable):
        c._retrying(attempt, True, 0.5)
    assert 1 < len(calls) < 10


def test_create_reuses_generated_request_id_on_retry(client_for):
    c = client_for("admin")
    seen = []

    class FlakyStub:
        def CreateAgency(self, request, timeout):
            seen.append(request.request_id)
            if len(seen) == 1:
                raise _Unavailable()
            return request.agency

    c.agencies._stub = FlakyStub()
    a = c.agencies.create("py-flaky", "Flaky", "school", "0301")
    assert a.id == "py-flaky"
    assert len(seen) == 2 and seen[0] == seen[1] and len(seen[0]) == 36


def test_claim_not_retried(client_for):
    c = client_for("bup-clinician")
    seen = []

    class FlakyStub:
        def Claim(self, request, timeout):
            seen.append(request.id)
            raise _Unavailable()

    c.consultations._stub = FlakyStub()
    with pytest.raises(budstikke.Unavailable):
        c.consultations.claim("x")
    assert seen == ["x"]


def test_inbox_resumes_after_server_restart(tmp_path, cert_dir):
    srv = Server(str(tmp_path), cert_dir)
    srv.start()
    try:
        with srv.client("kindergarten-staff") as kg, srv.client("bup-clinician") as bup:
            c1 = kg.consultations.ask("Barnet gråter mye ved levering.", to="bup-oslo",
                                      age_band="0-2", concerns=["social"])
            sub = bup.inbox.subscribe(duration=30.0)
            ev1 = next(sub)
            assert ev1.resource.id == c1.id
            sub.ack()
            srv.restart()
            c2 = kg.consultations.ask("Barnet spiser lite.", to="bup-oslo", age_band="0-2",
                                      concerns=["nutrition"])
            ev2 = next(sub)
            sub.cancel()
            assert ev2.resource.id == c2.id
            assert ev2.cursor == ev1.cursor + 1
            assert sub.acked_cursor == ev1.cursor
    finally:
        srv.stop()
