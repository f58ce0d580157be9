#!/usr/bin/env python3
"""Docs stay true to the code: docs/API.md names every RPC of every service in
proto/budstikke/v1, and docs/GETTING-STARTED.md shows the C++ consumer that
tests/sdk_install_test.cc builds, verbatim."""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
failures = []
checks = 0

api = (root / "docs/API.md").read_text()
for proto in sorted((root / "proto/budstikke/v1").glob("*.proto")):
    text = proto.read_text()
    for service, body in re.findall(r"service (\w+) \{(.*?)\n\}", text, re.S):
        checks += 1
        if service not in api:
            failures.append(f"docs/API.md does not mention {service}")
        for rpc in re.findall(r"rpc (\w+)\(", body):
            checks += 1
            if not re.search(rf"\b{rpc}\b", api):
                failures.append(f"docs/API.md does not mention {service}.{rpc}")

guide = (root / "docs/GETTING-STARTED.md").read_text()
for name in ["main.cc", "CMakeLists.txt"]:
    checks += 1
    if (root / "tests/sdk_consumer" / name).read_text() not in guide:
        failures.append(f"docs/GETTING-STARTED.md does not show tests/sdk_consumer/{name} verbatim")

for f in failures:
    print(f)
print(f"{checks - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
