#!/usr/bin/env python3
"""Docs stay true to the code: docs/API.md documents every RPC of every service in
proto/budstikke/v1 in that service's own section ("### <Service>", up to the next
heading of level 2 or 3) as `Method` or `Method(...)`, and docs/GETTING-STARTED.md
shows the C++ consumer that tests/sdk_install_test.cc builds, verbatim.

The check also proves it can fail: for every RPC it removes that RPC's mentions
from its section and expects exactly that RPC to be reported missing."""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent


def services():
    """[(service, [rpc, ...])] from the protos, in file order."""
    out = []
    for proto in sorted((root / "proto/budstikke/v1").glob("*.proto")):
        text = proto.read_text()
        for service, body in re.findall(r"service (\w+) \{(.*?)\n\}", text, re.S):
            out.append((service, re.findall(r"rpc (\w+)\(", body)))
    return out


def sections(api):
    """{service heading: (start, end)} offsets of each "### " section's body."""
    heads = list(re.finditer(r"^(#{2,3}) (.*)$", api, re.M))
    out = {}
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(api)
        if m.group(1) == "###":
            out[m.group(2).strip()] = (m.end(), end)
    return out


def mention(rpc):
    return re.compile(rf"`{rpc}[`(]")


def missing(api, protos):
    """The problems: services without a section, RPCs not in their section."""
    found = sections(api)
    problems = []
    for service, rpcs in protos:
        if service not in found:
            problems.append(f"docs/API.md has no section ### {service}")
            continue
        start, end = found[service]
        for rpc in rpcs:
            if not mention(rpc).search(api, start, end):
                problems.append(f"docs/API.md section {service} does not document {rpc}")
    return problems


def main():
    api = (root / "docs/API.md").read_text()
    protos = services()
    checks = 0
    failures = []

    checks += 1
    if not protos or any(not rpcs for _, rpcs in protos):
        failures.append("no services or a service without RPCs parsed from the protos")
    for service, rpcs in protos:
        checks += 1 + len(rpcs)
    failures += missing(api, protos)

    # Removing one RPC's documentation must be reported, and only that
    # (on docs that pass; otherwise the failures above say what to fix).
    found = sections(api)
    for service, rpcs in protos if not failures else []:
        start, end = found[service]
        for rpc in rpcs:
            checks += 1
            body = mention(rpc).sub("`", api[start:end])
            want = [f"docs/API.md section {service} does not document {rpc}"]
            got = missing(api[:start] + body + api[end:], protos)
            if got != want:
                failures.append(f"removing {service}.{rpc} from docs/API.md reports {got}, want {want}")

    guide = (root / "docs/GETTING-STARTED.md").read_text()
    for name in ["main.cc", "CMakeLists.txt"]:
        checks += 1
        if (root / "tests/sdk_consumer" / name).read_text() not in guide:
            failures.append(f"docs/GETTING-STARTED.md does not show tests/sdk_consumer/{name} verbatim")

    for f in failures:
        print(f)
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
