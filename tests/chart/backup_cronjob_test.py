#!/usr/bin/python3
"""The chart's backup CronJob does what it says (issue 18: "an optional CronJob that
calls the server's online backup and keeps N copies"):

  backup_cronjob_test.py BIN_DIR

renders the chart in allInOne mode with backup.enabled and backup.keep=2, runs
the server StatefulSet as a local process (tests/chart/chart_cluster.py's plan:
same arguments, development certificates with the kubelet's modes, the backup
volume a local folder), then runs the CronJob container's own script with
/bin/sh three times, one second apart, as the operator's admin: each run must
print the backup as JSON, and afterwards exactly the two newest backup folders
remain, each restorable with `budstikke-server restore`."""
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import yaml

BIN = pathlib.Path(sys.argv[1]).resolve()
TMP = pathlib.Path(tempfile.mkdtemp(prefix="backup_cronjob_test."))
os.environ["BUILD_DIR"] = str(BIN.parent)
os.environ["CLUSTER_DIR"] = str(TMP)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import chart_cluster as cc  # noqa: E402


def fail(msg):
    print(f"FAIL: {msg}")
    cc.cmd_stop()
    sys.exit(1)


def main():
    r = subprocess.run([str(cc.HELM), "template", cc.RELEASE, str(cc.CHART), "--namespace", cc.NAMESPACE,
                        "--set", "backup.enabled=true", "--set", "backup.keep=2",
                        "--set", "server.trustDomain=budstikke.test", "--set", "server.refuseSyntheticIds=false",
                        "--set-file", f"seedDirectory={cc.ROOT / 'certs/dev-directory.json'}"],
                       capture_output=True, text=True, check=True)
    objects = [d for d in yaml.safe_load_all(r.stdout) if d]
    subprocess.run(["/bin/bash", str(cc.ROOT / "certs/dev-certs.sh"), str(cc.CERTS)], capture_output=True, check=True)
    plan = cc.plan(objects)
    (TMP / "plan.json").write_text(json.dumps(plan))
    cc.start_one("server", plan["server"])
    if not cc.wait_listening("server"):
        fail("the server did not start")

    cron = next(o for o in objects if o["kind"] == "CronJob")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    backups_mount = next(m["mountPath"] for m in c["volumeMounts"] if m["name"] == "backups")
    # The same claim as the server's: the folder the plan gave the server's mount.
    server_backups = TMP / "volumes/server/backups"
    script = c["args"][0].replace(backups_mount, str(server_backups))
    env = {e["name"]: e["value"] for e in c["env"]}
    if not re.fullmatch(rf"{cc.RELEASE}-budstikke\.{cc.NAMESPACE}\.svc\.cluster\.local:7443", env["BUDSTIKKE_SERVER"]):
        fail(f"the CronJob calls {env['BUDSTIKKE_SERVER']}, not the client Service")
    env.update({"BUDSTIKKE_SERVER": f"localhost:{plan['server']['ports']['grpc']}",
                "BUDSTIKKE_CA": str(cc.CERTS / "ca.pem"), "BUDSTIKKE_CERT": str(cc.CERTS / "admin.pem"),
                "BUDSTIKKE_KEY": str(cc.CERTS / "admin.key"),
                "PATH": f"{BIN}:/usr/bin:/bin"})
    for run in range(3):
        r = subprocess.run([*c["command"], script], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"run {run + 1} of the CronJob script exited {r.returncode}: {r.stdout}{r.stderr}")
        backup = json.loads(r.stdout.splitlines()[0])
        print(f"ok   run {run + 1}: backup {backup['dest_dir']}" + "".join(f"; {line}" for line in r.stdout.splitlines()[1:]))
        time.sleep(1.1)
    left = sorted(p.name for p in server_backups.iterdir())
    if len(left) != 2:
        fail(f"keep=2 left {left}")
    print(f"ok   keep=2: {left} remain")
    for name in left:
        r = subprocess.run([str(BIN / "budstikke-server"), "restore", "--backup-dir", str(server_backups / name),
                            "--data-dir", str(TMP / f"restored-{name}")], capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"restore of {name}: {r.stderr}")
        print(f"ok   budstikke-server restore --backup-dir .../{name}")
    cc.cmd_stop()
    subprocess.run(["rm", "-rf", str(TMP)])


if __name__ == "__main__":
    main()
