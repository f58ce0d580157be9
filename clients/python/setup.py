"""Packaging of the Budstikke Python SDK (package `budstikke`).

    /usr/bin/python3 -m venv --system-site-packages .venv
    .venv/bin/pip install --no-build-isolation --no-index clients/python

The build step runs generate.py (Debian's /usr/bin/protoc and grpc_python_plugin)
on ../../proto, so the generated modules are never committed. Runtime
dependencies are Debian's python3-grpcio and python3-protobuf (and
python3-cryptography for Ed25519 checkpoint verification); they are declared
without versions so that --no-index installs against the system packages.
"""

import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.egg_info import egg_info

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import generate  # noqa: E402

GEN_PACKAGES = ["budstikke._gen", "budstikke._gen.budstikke", "budstikke._gen.budstikke.v1",
                "budstikke._gen.google", "budstikke._gen.google.rpc", "budstikke._gen.grpc",
                "budstikke._gen.grpc.health", "budstikke._gen.grpc.health.v1"]


def _generate():
    proto_dir = os.environ.get("BUDSTIKKE_PROTO_DIR") or generate.DEFAULT_PROTO_DIR
    if os.path.isdir(os.path.join(proto_dir, "budstikke", "v1")):
        generate.generate(proto_dir)
    elif not os.path.isdir(generate.DEFAULT_OUT):
        raise SystemExit("setup.py: no protos at %s and no generated modules; set "
                         "BUDSTIKKE_PROTO_DIR" % proto_dir)


class BuildPy(build_py):
    def run(self):
        _generate()
        super().run()


class EggInfo(egg_info):
    def run(self):
        if not os.path.isdir(generate.DEFAULT_OUT):
            _generate()
        super().run()


setup(
    name="budstikke",
    version="0.1.0",
    description="Python SDK for Budstikke, secure messaging for the agencies around a child",
    python_requires=">=3.9",
    packages=["budstikke"] + GEN_PACKAGES,
    install_requires=["grpcio", "protobuf"],
    extras_require={"verify": ["cryptography"]},
    cmdclass={"build_py": BuildPy, "egg_info": EggInfo},
)
