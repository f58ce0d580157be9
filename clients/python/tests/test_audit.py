"""AuditService through the SDK, verified offline with budstikke.verify."""

import time

import pytest

import budstikke
from budstikke import verify
from budstikke.pb import audit_pb2
from support import child_id


def _wait_for_checkpoint(c, min_size, timeout=6.0):
    deadline = time.monotonic() + timeout
    while True:
        cp = c.audit.verify_checkpoint()
        if cp.size >= min_size or time.monotonic() > deadline:
            return cp
        time.sleep(0.2)


def test_public_key_and_signed_checkpoint(client_for):
    c = client_for("kindergarten-staff")
    pk = c.audit.public_key()
    key = verify.parse_verifier_key(pk.verifier_key)
    assert key.name == pk.name == "budstikke.test/audit"
    cp = c.audit.verify_checkpoint(pk.verifier_key)
    assert cp.origin == "budstikke.test/audit"
    raw = c.audit.checkpoint()
    assert raw.signed_note.endswith("\n") and "\r" not in raw.signed_note
    # A tampered note does not verify.
    lines = raw.signed_note.split("\n")
    lines[1] = str(int(lines[1]) + 1)
    with pytest.raises(budstikke.VerificationError):
        verify.verify_checkpoint("\n".join(lines), pk.verifier_key)


def test_events_are_proven_and_consistent(client_for):
    gp = client_for("gp-physician")
    auditor = client_for("auditor")
    fnr = child_id(7, 580)
    first = _wait_for_checkpoint(auditor, 0)
    con = gp.consents.record(fnr, giver="guardian", giver_relation="other",
                             recipient="bup-oslo", purpose="henvisning", scope="alt",
                             method="digital")
    gp.consents.get(con.id)
    second = _wait_for_checkpoint(auditor, first.size + 2)
    assert second.size >= first.size + 2
    # Consistency with the earlier checkpoint, checked offline.
    assert auditor.audit.verify_checkpoint(previous=first).size >= second.size

    records = list(auditor.audit.events(subject=fnr, with_proofs=True))
    actions = [r.event.action for r in records]
    assert actions[:2] == ["consent.record", "consent.read"]
    assert all(r.event.subject and r.event.subject != fnr for r in records)
    for page in auditor.audit.query(subject=fnr, with_proofs=True):
        cp = verify.parse_checkpoint(page.checkpoint.signed_note.split("\n\n")[0] + "\n")
        for r in page.records:
            verify.verify_inclusion(verify.leaf_hash(r.leaf_data), r.event.index, cp.size,
                                    list(r.inclusion_proof.inclusion_path), cp.root_hash)
    ev = auditor.audit.verify_event(records[0].event.index, second)
    assert ev.event.action == "consent.record"
    assert fnr.encode() not in ev.leaf_data


def test_subject_access_report(client_for):
    gp = client_for("gp-physician")
    fnr = child_id(6, 590)
    gp.consents.record(fnr, giver="guardian", giver_relation="mother", recipient="bup-oslo",
                       purpose="henvisning", scope="alt", method="written")
    deadline = time.monotonic() + 6
    while True:
        entries = client_for("auditor").audit.subject_access_report(fnr)
        if entries or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [(e.agency, e.agency_name, e.user, e.action) for e in entries][:1] == [
        ("legekontor-sentrum", "Sentrum legekontor", "lege1", "consent.record")]
    assert entries[0].outcome == audit_pb2.AUDIT_OUTCOME_ALLOWED


def test_staff_may_not_query(client_for):
    with pytest.raises(budstikke.PermissionDenied):
        list(client_for("kindergarten-staff").audit.query())


def test_consistency_proof_from_server_verifies(client_for):
    c = client_for("auditor")
    cp = _wait_for_checkpoint(c, 3)
    proof = c.audit.consistency_proof(1, cp.size)
    ev0 = c.audit.get_event(0)
    verify.verify_consistency(1, cp.size, list(proof.path), verify.leaf_hash(ev0.leaf_data),
                              cp.root_hash)
