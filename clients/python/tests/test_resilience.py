"""Retries, request ids across retries, and inbox resume across a SIGKILLed server."""

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


def test_inbox_resumes_after_server_sigkill(tmp_path, cert_dir):
    """The server dies with SIGKILL while a subscription has acked some events and
    not others; after the restart the same subscription carries on: every event
    once, in order; a new subscription gets exactly the unacked ones again."""
    srv = Server(str(tmp_path), cert_dir)
    srv.start()
    try:
        with srv.client("kindergarten-staff") as kg, srv.client("bup-clinician") as bup:
            def ask(text):
                return kg.consultations.ask(text, to="bup-oslo", age_band="0-2",
                                            concerns=["social"]).id
            ids = [ask("Barnet gråter mye ved levering, dag %d." % i) for i in range(5)]
            sub = bup.inbox.subscribe(duration=60.0)
            before = [next(sub) for _ in range(5)]
            assert [e.cursor for e in before] == [1, 2, 3, 4, 5]
            assert [e.resource.id for e in before] == ids
            assert sub.ack(3) == 3  # 1-3 acked, 4-5 not
            srv.restart(kill=True)
            ids += [ask("Barnet spiser lite, uke %d." % i) for i in range(3)]
            after = [next(sub) for _ in range(3)]
            sub.cancel()
            # Cursors never go back: after the restart they jump forward (the
            # start floor) and go on by one.
            c6 = after[0].cursor
            assert c6 > 5
            assert [e.cursor for e in after] == [c6, c6 + 1, c6 + 2]
            assert [e.resource.id for e in after] == ids[5:]
            assert sub.acked_cursor == 3
            # A new subscriber: exactly the unacked events 4-8, in order.
            again = bup.inbox.subscribe(auto_ack=True, duration=30.0)
            redelivered = [next(again) for _ in range(5)]
            again.cancel()
            assert [e.cursor for e in redelivered] == [4, 5, c6, c6 + 1, c6 + 2]
            assert [e.resource.id for e in redelivered] == ids[3:]
            # auto_ack acks an event when the next one is asked for: 4-7 here.
            assert bup.inbox.ack(0) == c6 + 1
            assert bup.inbox.ack(c6 + 2) == c6 + 2
            # Another consumer of the agency still gets all eight.
            desk = bup.inbox.subscribe(consumer="desk", duration=30.0)
            assert [next(desk).resource.id for _ in range(8)] == ids
            assert desk.ack() == c6 + 2
            desk.cancel()
            assert bup.inbox.ack(0, consumer="desk") == c6 + 2
            assert bup.inbox.ack(0, consumer="other") == 0
    finally:
        srv.stop()
