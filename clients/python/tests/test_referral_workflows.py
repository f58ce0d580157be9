"""Issue 19 through the SDK: drafts co-signed by another agency, the thread with
an invited agency, the supplement after NEED_INFO, urgent routing and acute units."""

import pytest

import budstikke
from budstikke.pb import referral_pb2, types_pb2
from support import child_id


def test_draft_cosign_thread_and_supplement(client_for):
    nurse = client_for("helsestasjon-staff")
    gp = client_for("gp-physician")
    bup = client_for("bup-clinician")
    kg = client_for("kindergarten-staff")
    fnr = child_id(9, 610)
    con = nurse.consents.record(fnr, giver="guardian", giver_relation="mother",
                                recipients=["legekontor-sentrum", "bup-oslo",
                                            {"type": "kindergarten"}],
                                purpose="henvisning til BUP", scope="observasjoner",
                                method="written")
    assert con.recipient.agency == "legekontor-sentrum"
    assert [r.WhichOneof("target") for r in con.recipients] == ["agency", "agency", "type"]
    draft = nurse.referrals.draft("bup-oslo", fnr, "Søvnvansker og uro over tid.",
                                  cosigner="legekontor-sentrum", consent_id=con.id)
    assert draft.status == referral_pb2.REFERRAL_STATUS_DRAFT
    assert [r.id for r in gp.referrals.iter(mailbox="cosign")][:1] == [draft.id]
    sent = gp.referrals.cosign(draft.id)
    assert sent.status == referral_pb2.REFERRAL_STATUS_SENT
    assert (sent.initiated_by.user, sent.sender.user) == ("helsesykepleier1", "lege1")
    bup.referrals.acknowledge(sent.id)
    bup.referrals.invite(sent.id, "bhg-solsikken")
    assert kg.referrals.get(sent.id).reason == "Søvnvansker og uro over tid."
    kg.referrals.message(sent.id, "Urolig i samlingsstund.")
    assert [m.author.agency for m in bup.referrals.thread(sent.id)] == ["bhg-solsikken"]
    bup.referrals.decide(sent.id, "need_info", "Trenger somatisk status.")
    back = gp.referrals.supplement(sent.id, "Somatisk status normal.")
    assert back.status == referral_pb2.REFERRAL_STATUS_ACKNOWLEDGED
    assert bup.referrals.thread(sent.id)[-1].supplement


def test_return_and_the_cosigner_role_rule(client_for):
    nurse = client_for("helsestasjon-staff")
    fnr = child_id(9, 611)
    con = nurse.consents.record(fnr, giver="guardian", giver_relation="father",
                                recipients=["legekontor-sentrum", "bup-oslo"],
                                purpose="henvisning til BUP", scope="observasjoner",
                                method="verbal")
    draft = nurse.referrals.draft("bup-oslo", fnr, "Angst.", cosigner="legekontor-sentrum",
                                  consent_id=con.id)
    returned = client_for("gp-physician").referrals.return_draft(draft.id, "Beskriv tiltak.")
    assert returned.status == referral_pb2.REFERRAL_STATUS_RETURNED
    with pytest.raises(budstikke.PolicyViolation) as ei:
        client_for("gp-physician").referrals.cosign(draft.id)
    assert ei.value.rules == ["referral.cosign.state"]
    assert nurse.referrals.withdraw(draft.id).status == referral_pb2.REFERRAL_STATUS_WITHDRAWN


def test_urgent_referral_goes_to_the_acute_unit(client_for):
    gp = client_for("gp-physician")
    fnr = child_id(13, 612)
    con = gp.consents.record(fnr, giver="guardian", giver_relation="mother",
                             recipient="bup-oslo", purpose="akutt", scope="journal",
                             method="verbal")
    r = gp.referrals.send("bup-oslo", fnr, "Akutt.", consent_id=con.id, urgent=True)
    assert r.priority == types_pb2.PRIORITY_URGENT
    assert (r.requested_recipient, r.recipient_agency, r.routed_reason) == (
        "bup-oslo", "bup-oslo-akutt", "urgent.not_a_patient")


def test_the_operator_sets_the_acute_unit(client_for):
    admin = client_for("admin")
    a = admin.agencies.update("bup-oslo", acute_unit="bup-oslo-akutt")
    assert a.acute_unit == "bup-oslo-akutt"
    assert a.name == "BUP Oslo"  # not given: stays
    with pytest.raises(budstikke.PermissionDenied):
        client_for("bup-admin").agencies.update("bup-oslo", acute_unit="")
