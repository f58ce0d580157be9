"""ConsentService and ReferralService (with attachments) through the SDK."""

import datetime as dt
import hashlib

import pytest

import budstikke
from budstikke.pb import consent_pb2, referral_pb2, types_pb2
from support import child_id


def _consent(c, subject, recipient="bup-oslo", giver="guardian", relation="mother"):
    return c.consents.record(subject, giver=giver, giver_relation=relation,
                             recipient=recipient, purpose="henvisning til BUP",
                             scope="bekymring og tiltak", method="written")


def test_record_get_list_revoke_consent(client_for):
    gp = client_for("gp-physician")
    fnr = child_id(8, 510)
    rid = budstikke.new_request_id()
    con = gp.consents.record(fnr, giver="guardian", giver_relation="father",
                             recipient_type="bup", purpose="henvisning", scope="alt",
                             method="verbal", valid_until=dt.date.today() + dt.timedelta(30),
                             request_id=rid)
    assert con.status == consent_pb2.CONSENT_STATUS_ACTIVE
    assert con.subject_national_id == fnr
    assert con.recipient.agency_type == types_pb2.AGENCY_TYPE_BUP
    assert con.recording_agency == "legekontor-sentrum"
    # A retry (same request_id, same request) returns the first consent ...
    assert gp.consents.record(fnr, giver="guardian", giver_relation="father",
                              recipient_type="bup", purpose="henvisning", scope="alt",
                              method="verbal", valid_until=dt.date.today() + dt.timedelta(30),
                              request_id=rid).id == con.id
    # ... and the same request_id for another request is ALREADY_EXISTS.
    with pytest.raises(budstikke.AlreadyExists) as ei:
        gp.consents.record(fnr, giver="guardian", giver_relation="father",
                           recipient_type="bup", purpose="henvisning", scope="alt",
                           method="verbal", request_id=rid)
    assert f"request_id '{rid}' was already used for a different request" in str(ei.value)
    assert gp.consents.get(con.id).subject_national_id == fnr
    listed = [x for x in gp.consents.iter(subject=fnr)]
    assert [x.id for x in listed] == [con.id]
    assert listed[0].subject_national_id == ""  # lists never carry the national id
    revoked = gp.consents.revoke(con.id, "mor trakk samtykket")
    assert revoked.status == consent_pb2.CONSENT_STATUS_REVOKED
    assert revoked.revoke_reason == "mor trakk samtykket"
    assert [x.id for x in gp.consents.iter(subject=fnr, statuses=["revoked"])] == [con.id]


def test_guardian_consent_for_16_year_old_is_refused(client_for):
    with pytest.raises(budstikke.PolicyViolation) as ei:
        _consent(client_for("gp-physician"), child_id(16, 520))
    assert ei.value.rules == ["consent.giver.child_from_16"]


def test_malformed_national_id_is_invalid_argument(client_for):
    with pytest.raises(budstikke.InvalidArgument) as ei:
        _consent(client_for("gp-physician"), "12345678901")
    assert "subject_national_id" in ei.value.message


def test_staff_referral_to_bup_is_refused_with_rule(client_for):
    kg = client_for("kindergarten-staff")
    fnr = child_id(4, 530)
    con = _consent(kg, fnr)
    with pytest.raises(budstikke.PolicyViolation) as ei:
        kg.referrals.send("bup-oslo", fnr, "Bekymring for søvn", consent_id=con.id)
    assert ei.value.rules == ["referral.bup.sender_role"]
    assert ei.value.exit_code == 3


def test_statutory_duty_justification_too_short(client_for):
    with pytest.raises(budstikke.PolicyViolation) as ei:
        client_for("kindergarten-staff").referrals.send(
            "barnevern-oslo", child_id(4, 540), "Bekymring", statutory_duty="for kort")
    assert ei.value.rules == ["referral.child_welfare.justification"]


def test_purpose_must_match_the_consent(client_for):
    gp = client_for("gp-physician")
    fnr = child_id(10, 545)
    con = _consent(gp, fnr)
    with pytest.raises(budstikke.PolicyViolation) as ei:
        gp.referrals.send("bup-oslo", fnr, "Bekymring", consent_id=con.id,
                          purpose="forskning")
    assert ei.value.rules == ["consent.purpose_mismatch"]
    ref = gp.referrals.send("bup-oslo", fnr, "Bekymring", consent_id=con.id,
                            purpose="  Henvisning   til bup ")
    assert ref.purpose == "henvisning til BUP"
    with pytest.raises(budstikke.InvalidArgument):
        gp.referrals.send("barnevern-oslo", fnr, "Bekymring", purpose="x",
                          statutory_duty="Barnet forteller om vold hjemme og har blåmerker")


def test_referral_with_attachment_end_to_end(client_for, tmp_path):
    gp = client_for("gp-physician")
    bup = client_for("bup-clinician")
    fnr = child_id(10, 550)
    con = _consent(gp, fnr)
    content = b"%PDF-1.4\n" + bytes(range(256)) * 20  # 5129 bytes: 6 chunks below
    src = tmp_path / "epikrise.pdf"
    src.write_bytes(content)
    info = gp.referrals.upload_attachment(src, kind="other", chunk_size=1000)
    assert info.filename == "epikrise.pdf"
    assert info.content_type == "application/pdf"
    assert info.size == len(content)
    assert info.sha256 == hashlib.sha256(content).digest()
    note = gp.referrals.upload_attachment(b"Notat fra lege", filename="notat.txt")
    assert note.content_type == "text/plain" and note.kind == referral_pb2.ATTACHMENT_KIND_OTHER

    ref = gp.referrals.send("bup-oslo", fnr, "Vedvarende angst og søvnvansker",
                            consent_id=con.id, attachment_ids=[info.id, note.id],
                            bup={"referral_question": "Utredning av angst", "urgent": False})
    assert ref.status == referral_pb2.REFERRAL_STATUS_SENT
    assert ref.legal_basis == types_pb2.LEGAL_BASIS_CONSENT
    assert ref.bup.referral_question == "Utredning av angst"

    got = bup.referrals.get(ref.id)
    assert got.subject_national_id == fnr
    assert {a.id for a in got.attachments} == {info.id, note.id}
    listed = [r for r in bup.referrals.iter() if r.id == ref.id]
    assert len(listed) == 1 and listed[0].subject_national_id == ""

    dest = tmp_path / "lastet-ned.pdf"
    d = bup.referrals.download_attachment(ref.id, info.id, dest)
    assert d.path == str(dest) and dest.read_bytes() == content
    assert bup.referrals.download_attachment(ref.id, note.id).data == b"Notat fra lege"

    acked = bup.referrals.acknowledge(ref.id)
    assert acked.status == referral_pb2.REFERRAL_STATUS_ACKNOWLEDGED
    decided = bup.referrals.decide(ref.id, "accept")
    assert decided.status == referral_pb2.REFERRAL_STATUS_ACCEPTED
    with pytest.raises(budstikke.PolicyViolation) as ei:
        gp.referrals.withdraw(ref.id)
    assert ei.value.rules == ["referral.already_decided"]


def test_revocation_before_ack_withdraws(client_for):
    gp = client_for("gp-physician")
    bup = client_for("bup-clinician")
    fnr = child_id(9, 560)
    con = _consent(gp, fnr)
    ref = gp.referrals.send("bup-oslo", fnr, "Bekymring", consent_id=con.id)
    gp.consents.revoke(con.id, "far trakk samtykket")
    assert gp.referrals.get(ref.id).status == referral_pb2.REFERRAL_STATUS_WITHDRAWN
    with pytest.raises(budstikke.PolicyViolation) as ei:
        bup.referrals.get(ref.id)
    assert ei.value.rules == ["consent.revoked"]


def test_sender_withdraws(client_for):
    kg = client_for("kindergarten-staff")
    fnr = child_id(5, 570)
    ref = kg.referrals.send("barnevern-oslo", fnr, "Barnet forteller om vold hjemme",
                            statutory_duty="Barnet forteller om vold hjemme og har "
                                           "synlige blåmerker på armene")
    assert ref.legal_basis == types_pb2.LEGAL_BASIS_STATUTORY_DUTY
    w = kg.referrals.withdraw(ref.id, "sendt ved en feil")
    assert w.status == referral_pb2.REFERRAL_STATUS_WITHDRAWN


def test_referral_of_other_agency_is_not_found(client_for):
    with pytest.raises(budstikke.NotFound):
        client_for("ppt-psychologist").referrals.get("ref-does-not-exist")
