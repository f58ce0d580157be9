"""Code generation and the pip-install smoke test (venv --system-site-packages)."""

import os
import shutil
import subprocess
import sys

from conftest import PY_DIR, SOURCE_DIR


def test_generated_modules_importable_as_subpackage():
    from budstikke._gen.budstikke.v1 import directory_pb2, types_pb2  # noqa: F401
    from budstikke.pb import health_pb2, status_pb2  # noqa: F401
    assert directory_pb2.Agency.DESCRIPTOR.full_name == "budstikke.v1.Agency"
    assert status_pb2.Status.DESCRIPTOR.full_name == "google.rpc.Status"


def test_generate_script_rewrites_imports(tmp_path):
    out = tmp_path / "_gen"
    res = subprocess.run([sys.executable, os.path.join(PY_DIR, "generate.py"), "--out",
                          str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    found = 0
    for root, _, files in os.walk(out):
        for f in files:
            if f.endswith(".py"):
                text = open(os.path.join(root, f), encoding="utf-8").read()
                for bad in ("from budstikke.v1 import", "from google.rpc import",
                            "from grpc.health.v1 import"):
                    assert bad not in text, (f, bad)
                found += 1
    assert found >= 8 * 2 + 2 * 2
    assert (out / "budstikke" / "v1" / "referral_pb2_grpc.py").is_file()


def test_generate_script_reports_missing_protos(tmp_path):
    res = subprocess.run([sys.executable, os.path.join(PY_DIR, "generate.py"), "--proto-dir",
                          str(tmp_path), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True)
    assert res.returncode == 1
    assert res.stderr.startswith("generate.py: no protos in ")


def test_pip_install_in_venv_and_whoami(server, tmp_path):
    # Copy the package and the protos so the build does not write into the tree.
    src = tmp_path / "src"
    shutil.copytree(PY_DIR, src / "clients" / "python",
                    ignore=shutil.ignore_patterns("_gen", "build", "*.egg-info", "__pycache__",
                                                  ".gen-*", "tests", "examples"))
    shutil.copytree(os.path.join(SOURCE_DIR, "proto"), src / "proto")
    venv = tmp_path / "venv"
    # --without-pip saves ~20 s: the venv sees Debian's pip through the system site
    # packages, and `venv/bin/python -m pip` installs into the venv.
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True)
    res = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                          "--no-build-isolation", "--no-index",
                          str(src / "clients" / "python")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    code = ("import budstikke, sys\n"
            "assert 'site-packages' in budstikke.__file__, budstikke.__file__\n"
            "with budstikke.Client.from_env() as c:\n"
            "    print(c.whoami().actor.agency)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(server.env("bup-clinician"))
    res = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True,
                         text=True, env=env, cwd=str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert res.stdout == "bup-oslo\n"
