"""DirectoryService through the SDK against a real server."""

import uuid

import grpc
import pytest

import budstikke
from budstikke.pb import types_pb2


def _new_id():
    return "py-" + uuid.uuid4().hex[:10]


def test_whoami_staff(client_for):
    me = client_for("kindergarten-staff").whoami()
    assert me.spiffe_id == "spiffe://budstikke.test/agency/bhg-solsikken/role/staff/user/kari"
    assert me.actor.agency == "bhg-solsikken"
    assert me.actor.user == "kari"
    assert me.actor.role == types_pb2.ROLE_STAFF
    assert me.agency.id == "bhg-solsikken"
    assert me.agency.name == "Solsikken barnehage"
    assert me.agency.type == types_pb2.AGENCY_TYPE_KINDERGARTEN


def test_whoami_with_context_manager_and_explicit_args(server):
    c = server.cert_dir
    with budstikke.Client(server=server.address, ca=c + "/ca.pem", cert=c + "/admin.pem",
                          key=c + "/admin.key", timeout=5.0) as cl:
        me = cl.whoami()
    assert me.actor.role == types_pb2.ROLE_ADMIN
    assert me.actor.agency == "budstikke-drift"


def test_list_seeded_agencies(client_for):
    c = client_for("kindergarten-staff")
    ids = {a.id for a in c.agencies.iter()}
    assert {"bhg-solsikken", "skole-oslo", "helsestasjon-oslo", "legekontor-sentrum",
            "ppt-oslo", "barnevern-oslo", "bup-oslo", "statsforvalteren",
            "budstikke-drift"} <= ids


def test_list_filters_by_type_and_enum_forms(client_for):
    c = client_for("kindergarten-staff")
    for form in ("bup", "BUP", "AGENCY_TYPE_BUP", types_pb2.AGENCY_TYPE_BUP):
        page = c.agencies.list(type=form, municipality="0301")
        assert [a.id for a in page] == ["bup-oslo", "bup-oslo-akutt"], form
        assert page.next_page_token == ""


def test_list_pages(client_for):
    c = client_for("kindergarten-staff")
    first = c.agencies.list(page_size=2)
    assert len(first) == 2
    assert first.next_page_token != ""
    all_ids = [a.id for a in c.agencies.iter(page_size=2)]
    assert all_ids[:2] == [a.id for a in first]
    assert len(all_ids) == len(set(all_ids)) >= 9


def test_get_agency(client_for):
    a = client_for("gp-physician").agencies.get("bup-oslo")
    assert (a.id, a.name, a.type, a.municipality) == ("bup-oslo", "BUP Oslo",
                                                      types_pb2.AGENCY_TYPE_BUP, "0301")


def test_get_unknown_agency_is_not_found(client_for):
    with pytest.raises(budstikke.NotFound) as ei:
        client_for("gp-physician").agencies.get("no-such-agency")
    assert ei.value.code == grpc.StatusCode.NOT_FOUND
    assert ei.value.exit_code == 4


def test_admin_creates_agency_idempotently(client_for):
    admin = client_for("admin")
    aid = _new_id()
    rid = budstikke.new_request_id()
    a = admin.agencies.create(aid, "Testskolen", "school", "0301", request_id=rid)
    assert (a.id, a.name, a.type, a.municipality) == (aid, "Testskolen",
                                                      types_pb2.AGENCY_TYPE_SCHOOL, "0301")
    again = admin.agencies.create(aid, "Testskolen", "school", "0301", request_id=rid)
    assert again.create_time == a.create_time
    with pytest.raises(budstikke.AlreadyExists):
        admin.agencies.create(aid, "Testskolen", "school", "0301")  # new request id
    assert client_for("kindergarten-staff").agencies.get(aid).name == "Testskolen"


def test_admin_updates_agency(client_for):
    admin = client_for("admin")
    aid = _new_id()
    admin.agencies.create(aid, "Gammelt navn", "kindergarten", "0301")
    u = admin.agencies.update(aid, "Nytt navn", "kindergarten", "4601")
    assert (u.name, u.municipality) == ("Nytt navn", "4601")
    assert admin.agencies.get(aid).name == "Nytt navn"


def test_create_refused_for_staff_with_rule(client_for):
    with pytest.raises(budstikke.PermissionDenied) as ei:
        client_for("kindergarten-staff").agencies.create(_new_id(), "X", "school", "0301")
    e = ei.value
    assert e.code == grpc.StatusCode.PERMISSION_DENIED
    assert e.code_name == "PERMISSION_DENIED"
    assert e.rules == ["authz.role"]
    assert "role 'staff' may not call" in e.violations[0].description
    assert e.to_dict()["error"]["violations"][0]["rule"] == "authz.role"


def test_other_agency_admin_cannot_create(client_for):
    with pytest.raises(budstikke.PermissionDenied):
        client_for("bup-admin").agencies.create(_new_id(), "X", "school", "0301")


def test_create_malformed_id_is_invalid_argument(client_for):
    with pytest.raises(budstikke.InvalidArgument) as ei:
        client_for("admin").agencies.create("Not Valid!", "X", "school", "0301")
    assert ei.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "id" in ei.value.message


def test_unknown_enum_value_is_refused_locally(client_for):
    with pytest.raises(budstikke.InvalidArgument) as ei:
        client_for("admin").agencies.list(type="castle")
    assert "type: unknown value 'castle'" in ei.value.message
    assert "checked locally" in ei.value.message


def test_health_serving(client_for):
    assert client_for("kindergarten-staff").health() == "SERVING"
