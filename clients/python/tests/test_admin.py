"""AdminService through the SDK."""

import datetime as dt

import grpc
import pytest

import budstikke
from budstikke.pb import admin_pb2


def test_server_info_for_any_caller(client_for):
    info = client_for("kindergarten-staff").admin.server_info()
    assert info.version == "0.1.0"
    assert set(info.targets) == {"admin", "audit", "consent", "consultation", "directory",
                                 "inbox", "referral"}
    assert info.trust_domain == "budstikke.test"
    assert info.operator_agency == "budstikke-drift"
    assert info.start_time.seconds > 0


def test_rotate_key_and_status(client_for):
    admin = client_for("admin")
    before = admin.admin.key_status("ppt-oslo")
    assert before.agency == "ppt-oslo"
    rid = budstikke.new_request_id()
    after = admin.admin.rotate_key("ppt-oslo", request_id=rid)
    assert after.current_version == before.current_version + 1
    current = [v for v in after.versions if v.state == admin_pb2.KEY_VERSION_STATE_CURRENT]
    assert [v.version for v in current] == [after.current_version]
    # The same request id returns the first result instead of rotating again.
    again = admin.admin.rotate_key("ppt-oslo", request_id=rid)
    assert again.current_version == after.current_version
    assert admin.admin.key_status("ppt-oslo").current_version == after.current_version
    progress = admin.admin.rewrap_progress("ppt-oslo")
    assert progress.agency == "ppt-oslo"


def test_key_status_refused_for_clinician(client_for):
    with pytest.raises(budstikke.PermissionDenied) as ei:
        client_for("bup-clinician").admin.key_status("bup-oslo")
    assert ei.value.rules == ["authz.role"]


def test_agency_admin_limited_to_own_agency(client_for):
    bup_admin = client_for("bup-admin")
    assert bup_admin.admin.key_status("bup-oslo").agency == "bup-oslo"
    with pytest.raises(budstikke.PermissionDenied):
        bup_admin.admin.key_status("ppt-oslo")


def test_shred_current_version_is_policy_violation(client_for):
    admin = client_for("admin")
    status = admin.admin.rotate_key("barnevern-oslo")
    v = status.current_version
    with pytest.raises(budstikke.PolicyViolation) as ei:
        admin.admin.shred_key("barnevern-oslo", v, confirm="barnevern-oslo/%d" % v)
    assert ei.value.rules == ["key.shred.current_version"]
    assert ei.value.code == grpc.StatusCode.FAILED_PRECONDITION


def test_shred_wrong_confirm_is_invalid_argument(client_for):
    with pytest.raises(budstikke.InvalidArgument):
        client_for("admin").admin.shred_key("barnevern-oslo", 1, confirm="yes")


def test_backup(client_for, tmp_path):
    dest = tmp_path / "backup1"
    b = client_for("admin").admin.backup(str(dest))
    assert b.id != ""
    assert b.dest_dir == str(dest)
    assert dest.is_dir()
