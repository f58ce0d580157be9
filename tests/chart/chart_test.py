#!/usr/bin/python3
"""Tests of the Helm chart helm/budstikke (issue 18, acceptance 1 and 2).

  chart_test.py lint        helm lint --strict for both modes and every ci/*-values.yaml
  chart_test.py schema      wrong types and unknown keys in values are refused (schema),
                            and so are values that cannot work (template checks)
  chart_test.py validate    helm template renders every case; every object validates
                            with kubernetes-models, every key name is known
                            (tests/chart/validate.cjs)
  chart_test.py manifests   the checks of tests/chart/manifest_checks.py on every render
  chart_test.py docs        docs/DEPLOY.md's tested commands: the "tested: chart" block is
                            run (helm from .tools), and covers both modes and every ci file;
                            every line of the "tested: systemd" block is in
                            tests/deploy/systemd_test.sh

helm comes from .tools/bin/helm and the schemas from .tools/node (both made by
scripts/install-deps.sh); a missing tool fails the test, it is never skipped.
"""
import json
import pathlib
import re
import shlex
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "helm/budstikke"
TOOLS = ROOT / ".tools"
HELM = TOOLS / "bin/helm"
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import manifest_checks  # noqa: E402


def cases():
    """(name, helm args) of every case: both modes, then every ci values file."""
    out = [("allInOne", []), ("microservices", ["--set", "mode=microservices"])]
    for f in sorted((CHART / "ci").glob("*-values.yaml")):
        out.append((f.name, ["-f", str(f)]))
    return out


def helm(*args, check=True):
    if not HELM.exists():
        sys.exit(f"FAIL: {HELM} is missing: run scripts/install-deps.sh")
    r = subprocess.run([str(HELM), *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"FAIL: helm {' '.join(args)}:\n{r.stdout}{r.stderr}")
    return r


def render(args, namespace="budstikke"):
    out = helm("template", "bs", str(CHART), "--namespace", namespace, *args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def cmd_lint():
    for name, args in cases():
        r = helm("lint", "--strict", str(CHART), *args)
        print(f"ok   helm lint --strict {name}: {r.stdout.strip().splitlines()[-1]}")


def cmd_schema():
    refused = [
        (["--set", "gateway.replicas=two"], "at '/gateway/replicas': got string, want integer"),
        (["--set", "mode=distributed"], "at '/mode'"),
        (["--set", "podSecurityContext.runAsNonRoot=false"], "at '/podSecurityContext/runAsNonRoot'"),
        (["--set", "containerSecurityContext.readOnlyRootFilesystem=false"],
         "at '/containerSecurityContext/readOnlyRootFilesystem'"),
        (["--set", "directory.persistence.size=1Gi", "--set", "gatway.replicas=2"],
         "additional properties 'gatway' not allowed"),
        (["--set", "backup.keep=0"], "at '/backup/keep'"),
        (["--set", "secrets.tls.existingSecrets.gateways=x"], "additional properties 'gateways' not allowed"),
        (["--set", "certManager.enabled=true"], "certManager.issuerRef.name: the Issuer"),
        (["--set", "mode=microservices", "--set", "backup.enabled=true"],
         "backup.persistence.accessModes must include ReadWriteMany in microservices mode"),
        (["--set", "console.enabled=true"], "console.publicUrl: the https URL people open"),
        (["--set", "console.publicUrl=http://konsoll.example"], "at '/console/publicUrl'"),
        (["--set", "console.replicas=2"], "additional properties 'replicas' not allowed"),
        (["--set", "console.login.scopes=profile"], "at '/console/login/scopes'"),
        (["-f", str(CHART / "ci/console-values.yaml"), "--set", "console.networkPolicy.idpTo=null"],
         "console.networkPolicy.idpTo: where the OIDC provider answers"),
        (["-f", str(CHART / "ci/console-values.yaml"), "--set", "console.login.clientSecret.existingSecret="],
         "console.login.clientSecret.existingSecret: the Secret with the OIDC client secret"),
    ]
    failures = 0
    for args, want in refused:
        r = helm("template", "bs", str(CHART), *args, check=False)
        if r.returncode == 0 or want not in r.stderr:
            print(f"FAIL values {args} should be refused with {want!r}; got rc {r.returncode}: {r.stderr}")
            failures += 1
        else:
            print(f"ok   refused {' '.join(args)}: {want}")
    # And the same values with the right type render.
    r = helm("template", "bs", str(CHART), "--set", "mode=microservices", "--set", "gateway.replicas=3")
    print("ok   gateway.replicas=3 renders")
    return failures


def cmd_validate():
    with tempfile.TemporaryDirectory() as d:
        files = []
        for name, args in cases():
            objects = render(args)
            path = pathlib.Path(d) / f"{name}.json"
            path.write_text(json.dumps(objects))
            files.append(str(path))
            print(f"ok   helm template {name}: {len(objects)} objects")
        r = subprocess.run(["node", str(ROOT / "tests/chart/validate.cjs"), str(TOOLS / "node"), *files],
                           capture_output=True, text=True)
        print(r.stdout + r.stderr, end="")
        return 0 if r.returncode == 0 else 1


def cmd_manifests():
    failures = 0
    for name, args in cases():
        problems = manifest_checks.check(render(args), ROOT)
        for p in problems:
            print(f"FAIL {name}: {p}")
        failures += len(problems)
        if not problems:
            print(f"ok   manifest checks {name}")
    # The checks can fail: a broken render is reported.
    broken = manifest_checks.check(manifest_checks.break_for_selftest(render(["--set", "mode=microservices"])), ROOT)
    expected = manifest_checks.SELFTEST_EXPECTED
    missing = [e for e in expected if not any(e in p for p in broken)]
    for e in missing:
        print(f"FAIL self-test: a broken render was not reported: {e}")
    if not missing:
        print(f"ok   self-test: {len(broken)} problems found in a deliberately broken render")
    broken = manifest_checks.check(manifest_checks.break_console_for_selftest(
        render(["-f", str(CHART / "ci/cert-manager-values.yaml")])), ROOT)
    console_missing = [e for e in manifest_checks.CONSOLE_SELFTEST_EXPECTED
                       if not any(e in p for p in broken)]
    for e in console_missing:
        print(f"FAIL console self-test: a broken render was not reported: {e}")
    if not console_missing:
        print(f"ok   console self-test: {len(broken)} problems found in a deliberately broken render")
    return failures + len(missing) + len(console_missing)


def tested_block(doc, name):
    m = re.search(rf"<!-- tested: {name} -->\n```sh\n(.*?)```", doc, re.S)
    if not m:
        sys.exit(f"FAIL: docs/DEPLOY.md has no block marked <!-- tested: {name} -->")
    return [line for line in m.group(1).splitlines() if line.strip()]


def cmd_docs():
    doc = (ROOT / "docs/DEPLOY.md").read_text()
    failures = 0
    commands = tested_block(doc, "chart")
    for line in commands:
        words = shlex.split(line)
        if words[0] != "helm":
            print(f"FAIL not a helm command: {line}")
            failures += 1
            continue
        r = subprocess.run([str(HELM), *words[1:]], cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL {line}: {r.stderr}")
            failures += 1
        else:
            print(f"ok   {line}")
    for name, args in cases():
        want = " ".join(["helm lint --strict helm/budstikke"] +
                        [a if not a.startswith("/") else str(pathlib.Path(a).relative_to(ROOT)) for a in args])
        if want not in commands:
            print(f"FAIL docs/DEPLOY.md does not show `{want}`")
            failures += 1
    script = (ROOT / "tests/deploy/systemd_test.sh").read_text()
    for line in tested_block(doc, "systemd"):
        if line not in script:
            print(f"FAIL tests/deploy/systemd_test.sh does not run `{line}`")
            failures += 1
        else:
            print(f"ok   systemd_test.sh runs: {line}")
    return failures


def main():
    steps = {"lint": cmd_lint, "schema": cmd_schema, "validate": cmd_validate,
             "manifests": cmd_manifests, "docs": cmd_docs}
    if len(sys.argv) != 2 or sys.argv[1] not in steps:
        sys.exit(__doc__)
    failures = steps[sys.argv[1]]()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
