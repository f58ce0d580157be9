"""Unit tests of the console's small modules (no server, no browser)."""

import json
import os

import pytest

from budstikke_console import config, screening
from budstikke_console.auth import LoginError, Person, person_from_claims
from budstikke_console.sessions import SessionStore

NAMES = {"agency": "a", "role": "r", "user": "u"}


def test_claims_map_to_the_spiffe_id():
    p = person_from_claims({"a": "bup-oslo", "r": "clinician", "u": "terapeut1"}, NAMES)
    assert p == Person("bup-oslo", "clinician", "terapeut1")
    assert p.spiffe_id("budstikke.test") == \
        "spiffe://budstikke.test/agency/bup-oslo/role/clinician/user/terapeut1"


@pytest.mark.parametrize("claims,message", [
    ({"r": "clinician", "u": "x"}, "claim a (agency) missing"),
    ({"a": "bup-oslo", "r": "king", "u": "x"}, "claim r: unknown role"),
    ({"a": "bup-oslo/../x", "r": "clinician", "u": "x"}, "claim a (agency) missing"),
    ({"a": "bup-oslo", "r": "clinician", "u": "01018012345"}, "looks like a national id"),
])
def test_bad_claims_are_refused(claims, message):
    with pytest.raises(LoginError) as e:
        person_from_claims(claims, NAMES)
    assert message in str(e.value)


class F:
    def __init__(self, id, start, end, severity=2, kind=1):
        self.id, self.start, self.end, self.severity, self.kind = id, start, end, severity, kind


def test_segments_cut_at_byte_offsets_of_utf8_text():
    text = "Æøå 12345 og Ola."
    start = len("Æøå ".encode())
    marks = screening.segments(text, [F(0, start, start + 5), F(1, start + 9, start + 12, 1)])
    assert [(m.finding_id, m.text) for m in marks] == [
        (None, "Æøå "), (0, "12345"), (None, " og "), (1, "Ola"), (None, ".")]
    assert [(v.number, v.kind) for v in screening.views([F(0, 1, 2)])] == \
        [(1, "fødselsnummer")]


def test_sessions_expire_when_idle():
    now = [0.0]
    store = SessionStore(10, clock=lambda: now[0])
    sid = store.create()
    now[0] = 9
    assert store.get(sid) is not None
    now[0] = 18  # touched at 9: still alive
    assert store.get(sid) is not None
    now[0] = 29
    assert store.get(sid) is None
    assert store.get(sid) is None and store.count() == 0


def test_config_errors_name_the_problem(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"public_url": "x"}))
    with pytest.raises(config.ConfigError) as e:
        config.load(str(p))
    assert str(e.value).startswith("config: missing trust_domain, server, ca, cert, key")
    good = {"public_url": "http://localhost", "trust_domain": "t", "server": "h:1",
            "ca": "ca", "cert": "c", "key": "k", "assets_dir": str(tmp_path),
            "login": {"method": "oidc", "client_secret_file": "s"}, "colour": "red"}
    p.write_text(json.dumps(good))
    with pytest.raises(config.ConfigError) as e:
        config.load(str(p))
    assert str(e.value) == "config: unknown key(s) colour"
    del good["colour"]
    p.write_text(json.dumps(good))
    cfg = config.load(str(p))
    assert cfg.ca == os.path.join(str(tmp_path), "ca")
    assert cfg.login["client_secret_file"] == os.path.join(str(tmp_path), "s")
    assert cfg.idle_timeout_seconds == 900 and cfg.secure_cookies


def test_polling_does_not_keep_a_session_alive():
    now = [0.0]
    store = SessionStore(10, clock=lambda: now[0])
    sid = store.create()
    for t in (4, 8):
        now[0] = t
        assert store.get(sid, touch=False) is not None
    now[0] = 11
    assert store.get(sid, touch=False) is None


def test_entry_point_refuses_a_bad_config_with_one_line(tmp_path):
    import subprocess
    import sys
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = tmp_path / "c.json"
    p.write_text("{not json")
    res = subprocess.run([sys.executable, os.path.join(here, "budstikke-console"), "--config",
                          str(p)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stderr.startswith("budstikke-console: config: %s is not valid JSON" % p)
    assert res.stderr.count("\n") == 1


def test_received_referrals_urgent_first_then_oldest_first():
    """The sort works on the real message and enum (Referral.priority, field 29)."""
    from budstikke import pb
    from budstikke_console.views_referral import sort_received

    def ref(id, seconds, priority):
        r = pb.referral_pb2.Referral(id=id, priority=priority)
        r.create_time.seconds = seconds
        return r
    urgent = pb.types_pb2.PRIORITY_URGENT
    normal = pb.types_pb2.PRIORITY_NORMAL
    items = [ref("n-old", 100, normal), ref("u-new", 300, urgent), ref("none", 50, 0),
             ref("u-old", 200, urgent), ref("n-new", 400, normal)]
    assert [r.id for r in sort_received(items)] == ["u-old", "u-new", "none", "n-old", "n-new"]


def test_referral_texts():
    from budstikke import pb
    from budstikke_console import texts
    assert texts.PRIORITY_URGENT == pb.types_pb2.PRIORITY_URGENT
    assert texts.AGENCY_TYPE_BUP == pb.types_pb2.AGENCY_TYPE_BUP
    assert texts.routed("urgent.not_a_patient").startswith("Haster: barnet er ikke pasient")
    assert texts.routed("urgent.something_new") == "urgent.something_new"
    a = pb.types_pb2.Actor(agency="legekontor-sentrum", user="lege1",
                           role=pb.types_pb2.ROLE_PHYSICIAN)
    assert texts.actor(a, {"legekontor-sentrum": "Sentrum legekontor"}) == \
        "lege1, lege (Sentrum legekontor)"
    assert texts.actor(a) == "lege1, lege (legekontor-sentrum)"
    assert texts.actor(pb.types_pb2.Actor()) == ""


def test_the_console_reads_the_inbox_under_its_own_consumer_name():
    from budstikke_console import live
    assert live.consumer_name("terapeut1") == "konsoll-terapeut1"
    assert live.consumer_name("u" * 64) == "konsoll-" + "u" * 56  # at most 64 characters
