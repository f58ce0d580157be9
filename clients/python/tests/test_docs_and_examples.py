"""docs/GETTING-STARTED.md snippets and clients/python/examples/ against a real server."""

import os
import re
import subprocess
import sys

import pytest

from conftest import PY_DIR, SOURCE_DIR

DOC = os.path.join(SOURCE_DIR, "docs", "GETTING-STARTED.md")
EXAMPLES = os.path.join(PY_DIR, "examples")


def _python_section():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    start = text.index("\n## Python\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def _snippets():
    """(runnable, code) for every ```python block of the Python section."""
    out = []
    for m in re.finditer(r"(<!-- test: run -->\n)?```python\n(.*?)```", _python_section(),
                         re.S):
        out.append((m.group(1) is not None, m.group(2)))
    return out


def test_doc_has_snippets_for_each_use():
    codes = [c for _, c in _snippets()]
    assert len(codes) >= 7
    for needle in ("whoami()", "consultations.ask(", "inbox.subscribe(", "referrals.send(",
                   "upload_attachment(", "verify_checkpoint(", "audit.query(",
                   "subject_access_report("):
        assert any(needle in c for c in codes), needle


def test_doc_snippets_compile():
    for i, (_, code) in enumerate(_snippets()):
        compile(code, "GETTING-STARTED.md snippet %d" % i, "exec")


def _run(argv, env_extra, timeout=60):
    env = dict(os.environ)
    env.update(env_extra)
    env["PYTHONPATH"] = PY_DIR
    return subprocess.run([sys.executable] + argv, capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_runnable_doc_snippets_run(server, tmp_path):
    runnable = [c for run, c in _snippets() if run]
    assert len(runnable) == 2
    for i, code in enumerate(runnable):
        path = tmp_path / ("snippet%d.py" % i)
        path.write_text(code, encoding="utf-8")
        res = _run([str(path)], server.env("kindergarten-staff"))
        assert res.returncode == 0, res.stderr
        if "whoami" in code:
            assert res.stdout.splitlines() == [
                "spiffe://budstikke.test/agency/bhg-solsikken/role/staff/user/kari",
                "Solsikken barnehage"]
        else:
            assert res.stdout.startswith("budstikke.test/audit ")


@pytest.mark.parametrize("name", ["consult.py", "refer.py", "answer.py", "audit.py"])
def test_example_help(name):
    res = _run([os.path.join(EXAMPLES, name), "--help"], {})
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: %s" % name)
    assert "BUDSTIKKE_SERVER" in res.stdout


def test_examples_consult_answer_audit(server, tmp_path):
    res = _run([os.path.join(EXAMPLES, "consult.py"), "--to", "bup-oslo", "--age-band", "6-9",
                "--concern", "behaviour", "--text", "Eleven er urolig i timene."],
               server.env("school-staff"))
    assert res.returncode == 0, res.stderr
    m = re.search(r"^asked (\S+) \(to bup-oslo, status OPEN\)$", res.stdout, re.M)
    assert m, res.stdout
    res = _run([os.path.join(EXAMPLES, "answer.py"), "--id", m.group(1), "--text",
                "Snakk med eleven om pauser."], server.env("bup-clinician"))
    assert res.returncode == 0, res.stderr
    assert "answered %s" % m.group(1) in res.stdout
    state = str(tmp_path / "audit-state.json")
    for _ in range(2):
        res = _run([os.path.join(EXAMPLES, "audit.py"), "--state", state],
                   server.env("auditor"))
        assert res.returncode == 0, res.stderr
        assert re.match(r"checkpoint budstikke.test/audit size \d+ verified", res.stdout)
    assert "consistent with size" in res.stdout


def test_example_refused_referral_exit_code(server):
    # Kindergarten staff may not refer to BUP: exit 3 with the rule on stderr.
    from support import child_id
    res = _run([os.path.join(EXAMPLES, "refer.py"), "--to", "bup-oslo", "--subject",
                child_id(4, 600), "--giver", "guardian", "--relation", "mother",
                "--reason", "Bekymring"], server.env("kindergarten-staff"))
    assert res.returncode == 3, res.stderr
    assert "referral.bup.sender_role" in res.stderr
    assert child_id(4, 600) not in res.stderr
