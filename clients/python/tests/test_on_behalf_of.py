"""Client.on_behalf_of: a service identity (the web console) calls for a person."""

import budstikke
import pytest

CLINICIAN = "spiffe://budstikke.test/agency/bup-oslo/role/clinician/user/terapeut1"
STAFF = "spiffe://budstikke.test/agency/bhg-solsikken/role/staff/user/kari"


def test_service_acts_for_the_person(client_for):
    svc = client_for("svc-console")
    me = svc.on_behalf_of(CLINICIAN).whoami()
    assert me.spiffe_id == CLINICIAN
    assert me.agency.id == "bup-oslo"


def test_service_without_person_is_refused(client_for):
    with pytest.raises(budstikke.PermissionDenied) as e:
        client_for("svc-console").whoami()
    assert "budstikke-on-behalf-of" in str(e.value)


def test_person_certificate_cannot_assert_another(client_for):
    view = client_for("kindergarten-staff").on_behalf_of(CLINICIAN)
    with pytest.raises(budstikke.PermissionDenied) as e:
        view.whoami()
    assert "only a Budstikke service identity" in str(e.value)


def test_views_share_the_channel_and_do_not_close_it(client_for):
    svc = client_for("svc-console")
    a = svc.on_behalf_of(STAFF)
    b = svc.on_behalf_of(CLINICIAN)
    a.close()
    assert b.whoami().agency.id == "bup-oslo"
    assert svc.on_behalf_of(STAFF).whoami().agency.id == "bhg-solsikken"


def test_audit_names_the_person_and_the_service(client_for):
    svc = client_for("svc-console").on_behalf_of(STAFF)
    c = svc.consultations.ask("Gutten sover dårlig og er sliten i barnehagen.",
                              age_band="3-5", concerns=["sleep"], to="bup-oslo")
    assert c.sender.user == "kari"
    assert c.sender.service == "console"
    auditor = client_for("auditor")
    import time
    deadline = time.monotonic() + 5
    found = []
    while time.monotonic() < deadline and not found:
        found = [r for r in auditor.audit.events(actor_user="kari", action="consultation.create")
                 if r.event.resource.id == c.id]
        time.sleep(0.1)
    assert len(found) == 1
    assert found[0].event.actor.agency == "bhg-solsikken"
    assert found[0].event.actor.service == "console"


def test_bad_spiffe_id_is_a_configuration_error(client_for):
    svc = client_for("svc-console")
    for bad in ("kari", "spiffe://x\nevil", None):
        with pytest.raises(budstikke.ConfigurationError):
            svc.on_behalf_of(bad)
