"""ConsultationService and InboxService through the SDK."""

import time

import grpc
import pytest

import budstikke
from budstikke.pb import consultation_pb2 as cpb
from budstikke.pb import inbox_pb2, types_pb2


def test_check_text_refuses_phone_and_email(client_for):
    text = "Ring 41234567 eller kari@example.no"
    r = client_for("kindergarten-staff").consultations.check_text(text)
    assert r.verdict == cpb.SCREENING_VERDICT_REFUSE
    assert [(f.id, f.kind, f.severity) for f in r.findings] == [
        (0, types_pb2.PII_KIND_PHONE, types_pb2.SEVERITY_REFUSE),
        (1, types_pb2.PII_KIND_EMAIL, types_pb2.SEVERITY_REFUSE)]
    assert text.encode()[r.findings[0].start:r.findings[0].end] == b"41234567"


def test_check_text_ok(client_for):
    r = client_for("kindergarten-staff").consultations.check_text("Barnet sover dårlig.")
    assert r.verdict == cpb.SCREENING_VERDICT_OK and len(r.findings) == 0


def test_ask_refused_with_findings(client_for):
    with pytest.raises(budstikke.PolicyViolation) as ei:
        client_for("kindergarten-staff").consultations.ask(
            "Mor kan nås på 41234567.", to="bup-oslo", age_band="3-5", concerns=["sleep"])
    e = ei.value
    assert e.code == grpc.StatusCode.FAILED_PRECONDITION
    assert e.rules == ["consultation.pii.refused"]
    # Byte offsets into the UTF-8 text ("å" is two bytes), never the matched text.
    start = "Mor kan nås på ".encode().__len__()
    assert e.findings == [budstikke.Finding(0, "PHONE", "REFUSE", start, start + 8)]
    assert start == 17


def test_full_consultation_flow(client_for):
    kg = client_for("kindergarten-staff")
    bup = client_for("bup-clinician")
    rid = budstikke.new_request_id()
    c = kg.consultations.ask("Barnet sover dårlig og er trøtt i barnehagen.", to="bup-oslo",
                             age_band="3-5", concerns=["sleep", "behaviour"],
                             questions=["Hva kan vi prøve?"], request_id=rid)
    assert c.status == cpb.CONSULTATION_STATUS_OPEN
    assert c.recipient_agency == "bup-oslo" and c.sender_agency == "bhg-solsikken"
    assert c.age_band == cpb.AGE_BAND_3_5
    assert list(c.concerns) == [cpb.CONCERN_SLEEP, cpb.CONCERN_BEHAVIOUR]
    assert budstikke.enum_name(cpb.ConsultationStatus, c.status,
                               "CONSULTATION_STATUS_") == "OPEN"
    # A retry with the same request id returns the first result.
    assert kg.consultations.ask("Barnet sover dårlig og er trøtt i barnehagen.",
                                to="bup-oslo", age_band="3-5", concerns=["sleep", "behaviour"],
                                questions=["Hva kan vi prøve?"], request_id=rid).id == c.id

    received = [x.id for x in bup.consultations.iter()]
    assert c.id in received
    listed = next(x for x in bup.consultations.list(statuses=["open"]) if x.id == c.id)
    assert listed.text == ""  # lists carry no content
    assert c.id in [x.id for x in kg.consultations.iter(mailbox="sent")]

    claimed = bup.consultations.claim(c.id)
    assert claimed.status == cpb.CONSULTATION_STATUS_CLAIMED
    assert claimed.claimed_by.user == "terapeut1"
    with pytest.raises(budstikke.PolicyViolation) as ei:
        client_for("bup-clinician2").consultations.claim(c.id)
    assert ei.value.rules == ["consultation.already_claimed"]

    answered = bup.consultations.answer(c.id, "Prøv faste leggetider.")
    assert answered.status == cpb.CONSULTATION_STATUS_ANSWERED
    msg = kg.consultations.add_message(c.id, "Takk, vi prøver det.")
    assert [m.kind for m in msg.messages] == [cpb.CONSULTATION_MESSAGE_KIND_ANSWER,
                                              cpb.CONSULTATION_MESSAGE_KIND_MESSAGE]
    got = kg.consultations.get(c.id)
    assert got.text == "Barnet sover dårlig og er trøtt i barnehagen."
    assert list(got.questions) == ["Hva kan vi prøve?"]
    assert got.messages[0].text == "Prøv faste leggetider."
    closed = kg.consultations.close(c.id)
    assert closed.status == cpb.CONSULTATION_STATUS_CLOSED
    assert closed.delete_after.seconds > closed.close_time.seconds


def test_ask_by_type_routes_to_municipality(client_for):
    c = client_for("school-staff").consultations.ask(
        "Eleven strever med lesing.", to_type="ppt", municipality="0301", age_band="6-9",
        concerns=["language"])
    assert c.recipient_agency == "ppt-oslo"


def test_ask_no_recipient(client_for):
    with pytest.raises(budstikke.PolicyViolation) as ei:
        client_for("school-staff").consultations.ask(
            "Eleven strever med lesing.", to_type="ppt", municipality="9999",
            age_band="6-9", concerns=["language"])
    assert ei.value.rules == ["routing.no_recipient"]


def test_ask_needs_one_recipient_locally(client_for):
    with pytest.raises(budstikke.InvalidArgument):
        client_for("school-staff").consultations.ask("x", age_band="6-9", concerns=["other"])


def test_consultation_of_other_agency_is_not_found(client_for):
    c = client_for("kindergarten-staff").consultations.ask(
        "Barnet er ofte lei seg.", to="bup-oslo", age_band="3-5", concerns=["social"])
    with pytest.raises(budstikke.NotFound):
        client_for("ppt-psychologist").consultations.get(c.id)


def test_auditor_may_not_ask(client_for):
    with pytest.raises(budstikke.PermissionDenied):
        client_for("auditor").consultations.check_text("hei")


def test_inbox_subscribe_ack_and_resume(client_for):
    kg = client_for("kindergarten-staff")
    cw = client_for("cw-leader")
    # Start from a clean position: acknowledge what is there.
    with cw.inbox.subscribe(duration=1.0) as sub:
        for _ in sub:
            pass
        if sub.last_cursor:
            sub.ack()
    c1 = kg.consultations.ask("Barnet har mange blåmerker.", to="barnevern-oslo",
                              age_band="3-5", concerns=["injury"])
    c2 = kg.consultations.ask("Barnet kommer ofte sulten.", to="barnevern-oslo",
                              age_band="3-5", concerns=["nutrition"])
    seen = []
    with cw.inbox.subscribe(duration=2.0) as sub:
        for ev in sub:
            seen.append(ev)
            if len(seen) == 2:
                break
    assert [e.resource.id for e in seen] == [c1.id, c2.id]
    assert [e.type for e in seen] == [inbox_pb2.INBOX_EVENT_TYPE_CONSULTATION_RECEIVED] * 2
    assert seen[1].cursor == seen[0].cursor + 1
    # Not acknowledged: delivered again; then acknowledge the first only.
    sub2 = cw.inbox.subscribe(duration=2.0)
    first = next(sub2)
    assert first.cursor == seen[0].cursor
    assert sub2.ack() == seen[0].cursor
    sub2.cancel()
    rest = [e.cursor for e in cw.inbox.subscribe(duration=1.0)]
    assert rest == [seen[1].cursor]
    assert cw.inbox.ack(seen[1].cursor) == seen[1].cursor


def test_inbox_auto_ack(client_for):
    kg = client_for("kindergarten-staff")
    ppt = client_for("ppt-psychologist")
    for _ in ppt.inbox.subscribe(duration=1.0, auto_ack=True):
        pass
    c = kg.consultations.ask("Barnet snakker lite.", to="ppt-oslo", age_band="3-5",
                             concerns=["language"])
    got = []
    for ev in ppt.inbox.subscribe(duration=2.0, auto_ack=True):
        got.append(ev.resource.id)
    assert got == [c.id]
    assert list(ppt.inbox.subscribe(duration=0.5)) == []


def test_inbox_read_returns_what_is_there_now_and_moves_no_position(client_for):
    kg = client_for("kindergarten-staff")
    cw = client_for("cw-leader")
    before = cw.inbox.read(0, consumer="lesing", wait=1.0)
    head = before[-1].cursor if before else 0
    started = time.monotonic()
    assert cw.inbox.read(head, consumer="lesing", wait=0.5) == []
    assert time.monotonic() - started < 3.0  # the deadline ends the stream
    c1 = kg.consultations.ask("Barnet gråter ofte i garderoben.", to="barnevern-oslo",
                              age_band="3-5", concerns=["social"])
    c2 = kg.consultations.ask("Barnet virker redd for å gå hjem.", to="barnevern-oslo",
                              age_band="3-5", concerns=["social"])
    got = cw.inbox.read(head, consumer="lesing", wait=1.0)
    assert [(e.resource.id, e.type) for e in got] == \
        [(c1.id, inbox_pb2.INBOX_EVENT_TYPE_CONSULTATION_RECEIVED),
         (c2.id, inbox_pb2.INBOX_EVENT_TYPE_CONSULTATION_RECEIVED)]
    assert got[0].cursor > head and got[1].cursor == got[0].cursor + 1
    # Nothing was acknowledged: the same read gives the same events, and max_events
    # stops early.
    assert [e.cursor for e in cw.inbox.read(head, consumer="lesing", wait=1.0)] == \
        [got[0].cursor, got[1].cursor]
    assert [e.cursor for e in cw.inbox.read(head, consumer="lesing", max_events=1)] == \
        [got[0].cursor]
    assert cw.inbox.read(got[1].cursor, consumer="lesing", wait=0.3) == []
    assert cw.inbox.ack(0, consumer="lesing") == 0  # the consumer still has no position
    with pytest.raises(budstikke.InvalidArgument):
        cw.inbox.read(got[1].cursor + 1000000, consumer="lesing")
    with pytest.raises(budstikke.ConfigurationError):
        cw.inbox.read(0, wait=0)
