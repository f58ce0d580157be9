#!/usr/bin/python3
"""The chart's microservices render as local processes (issue 18, acceptance 4).

Same commands and files as scripts/cluster.sh, so tests/support/test_cluster
runs the microservices end-to-end test against it unchanged
(BUDSTIKKE_CLUSTER_SCRIPT=tests/chart/chart_cluster.sh):

  chart_cluster.py start|stop|status|kill NAME|restart NAME|env

start renders helm/budstikke in microservices mode (ci/microservices-values.yaml,
the demo trust domain and directory) and turns every Deployment and
StatefulSet into one budstikke-server process with the container's own
arguments. Only what a cluster provides is replaced:
- a listen address 0.0.0.0:PORT by 127.0.0.1 and a free port (per port name);
- a peer address <service>.<namespace>.svc.<domain>:PORT by localhost and the
  port of the process whose pods that Service selects (through the Service's
  targetPort), so a peer that is not a Service of the render fails;
- a file under a volume mount by a local file: Secrets from the development
  certificates (certs/dev-certs.sh) with the mode and group the kubelet would
  give them (defaultMode, plus group read and the fsGroup's group), so the
  server's own key-file rules judge the chart's modes; ConfigMaps from the
  render; a volume claim by a folder in the cluster dir.
Extra flags for every process: $CLUSTER_SERVER_FLAGS (a flag the render
already has gets the new value).
"""
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "helm/budstikke"
HELM = ROOT / ".tools/bin/helm"
BIN = pathlib.Path(os.environ.get("BUILD_DIR", ROOT / "build")) / "bin"
DIR = pathlib.Path(os.environ.get("CLUSTER_DIR", ROOT / "var/chart-cluster"))
CERTS = DIR / "certs"
NAMESPACE = "budstikke"
RELEASE = "bs"


def die(msg):
    print(f"chart_cluster: {msg}", file=sys.stderr)
    sys.exit(1)


def render():
    args = [str(HELM), "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
            "-f", str(CHART / "ci/microservices-values.yaml"),
            "--set", "server.trustDomain=budstikke.test",
            "--set", "server.refuseSyntheticIds=false",
            "--set-file", f"seedDirectory={ROOT / 'certs/dev-directory.json'}"]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        die(f"helm template failed: {r.stderr}")
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def workloads(objects):
    """{component: (pod spec, pod labels)} of every Deployment and StatefulSet."""
    out = {}
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet"):
            t = o["spec"]["template"]
            out[t["metadata"]["labels"]["app.kubernetes.io/component"]] = (t["spec"], t["metadata"]["labels"], o)
    return out


def free_port(held):
    """A port free now. The socket stays open in `held` until the plan is
    written, so one plan never gets the same port twice."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
    return s.getsockname()[1]


def operator_secrets():
    """What the operator puts in each Secret the chart references (docs/DEPLOY.md):
    {secret name: {key: development file}}."""
    full = f"{RELEASE}-budstikke"
    out = {f"{full}-master-key": {"master.key": CERTS / "master.key"},
           f"{full}-audit-signing-key": {"audit-signing.key": CERTS / "audit-signing.key"}}
    out[f"{full}-server-tls"] = {"tls.crt": CERTS / "server.pem", "tls.key": CERTS / "server.key",
                                 "ca.crt": CERTS / "ca.pem"}
    for c in ("directory", "consultation", "consent", "referral", "inbox", "audit", "admin", "gateway"):
        out[f"{full}-{c}-tls"] = {"tls.crt": CERTS / f"svc-{c}.pem", "tls.key": CERTS / f"svc-{c}.key",
                                  "ca.crt": CERTS / "ca.pem"}
    return out


def write_file(path, data, mode, gid):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chown(path, -1, gid)
    os.chmod(path, mode)


def plan(objects):
    """{component: {"args": [...], "ports": {name: port}}} with local addresses and files."""
    work = workloads(objects)
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    configmaps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    secrets = operator_secrets()
    ports = {}
    held = []
    for comp, (spec, _, _) in work.items():
        c = spec["containers"][0]
        ports[comp] = {p["name"]: (p["containerPort"], free_port(held)) for p in c["ports"]}
    for s in held:
        s.close()

    def local_peer(address):
        host, port = address.rsplit(":", 1)
        m = re.fullmatch(rf"([a-z0-9-]+)\.{NAMESPACE}\.svc\.[a-z0-9.-]+", host)
        svc = services.get(m.group(1)) if m else None
        if svc is None:
            die(f"peer {address} is not a Service of the render")
        target = [comp for comp, (_, labels, _) in work.items()
                  if all(labels.get(k) == v for k, v in svc["spec"]["selector"].items())]
        sport = [p for p in svc["spec"]["ports"] if p["port"] == int(port)]
        if len(target) != 1 or not sport:
            die(f"peer {address}: Service {svc['metadata']['name']} selects {target}, ports {svc['spec']['ports']}")
        return f"localhost:{ports[target[0]][sport[0]['targetPort']][1]}"

    out = {}
    for comp, (spec, labels, obj) in work.items():
        c = spec["containers"][0]
        pod_sc = spec.get("securityContext", {})
        egid = {**pod_sc, **c.get("securityContext", {})}.get("runAsGroup")
        fs_group = pod_sc.get("fsGroup")
        # The process's own group stands for runAsGroup; a different fsGroup a different group.
        local_gid = os.getegid() if fs_group == egid else (os.getegid() + 1) % 65536
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        claims = {t["metadata"]["name"] for t in obj["spec"].get("volumeClaimTemplates", [])}
        mounts = {}
        for m in c["volumeMounts"]:
            local = DIR / "volumes" / comp / m["name"]
            v = volumes.get(m["name"])
            if m["name"] in claims:
                local = DIR / comp
                local.mkdir(parents=True, exist_ok=True)
                if fs_group is not None:  # the kubelet's fsGroup on a volume root
                    os.chown(local, -1, local_gid)
                    os.chmod(local, 0o2770)
            elif v and "secret" in v:
                sec = v["secret"]
                given = secrets.get(sec["secretName"])
                if given is None:
                    die(f"{comp}: Secret {sec['secretName']} is not one an operator makes (docs/DEPLOY.md)")
                for item in sec["items"]:
                    mode = item.get("mode", sec.get("defaultMode", 0o644))
                    gid = os.getegid()
                    if fs_group is not None:
                        mode |= 0o440
                        gid = local_gid
                    write_file(local / item["path"], given[item["key"]].read_bytes(), mode, gid)
            elif v and "configMap" in v:
                data = configmaps[v["configMap"]["name"]]["data"]
                for item in v["configMap"].get("items") or [{"key": k, "path": k} for k in data]:
                    text = data[item["key"]]
                    if item["path"] == "peers.json":
                        text = json.dumps({k: local_peer(a) for k, a in json.loads(text).items()})
                    write_file(local / item["path"], text.encode(), v["configMap"].get("defaultMode", 0o644),
                               os.getegid())
            else:
                local.mkdir(parents=True, exist_ok=True)
            mounts[m["mountPath"]] = local
        args = []
        for a in c["args"]:
            m = re.fullmatch(r"0\.0\.0\.0:(\d+)", a)
            if m:
                name = next(n for n, (cp, _) in ports[comp].items() if cp == int(m.group(1)))
                a = f"127.0.0.1:{ports[comp][name][1]}"
            else:
                for mount in sorted(mounts, key=len, reverse=True):
                    if a.startswith(mount + "/"):
                        a = str(mounts[mount]) + a[len(mount):]
                        break
            args.append(a)
        out[comp] = {"command": c["command"], "args": args,
                     "ports": {n: p for n, (_, p) in ports[comp].items()}}
    return out


def apply_flags(args, flags):
    """CLUSTER_SERVER_FLAGS: a flag already present gets the new value."""
    words = flags.split()
    args = list(args)
    i = 0
    while i < len(words):
        flag = words[i]
        value = words[i + 1] if i + 1 < len(words) and not words[i + 1].startswith("--") else None
        if flag in args and value is not None:
            args[args.index(flag) + 1] = value
        else:
            args += [flag] + ([value] if value is not None else [])
        i += 2 if value is not None else 1
    return args


def pid_of(name):
    try:
        return int((DIR / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return 0


def alive(name):
    pid = pid_of(name)
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # A zombie (exited, not yet reaped by anyone) is not alive.
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def start_one(name, entry):
    binary = BIN / pathlib.Path(entry["command"][0]).name
    args = apply_flags(entry["args"], os.environ.get("CLUSTER_SERVER_FLAGS", ""))
    with open(DIR / f"{name}.out", "w") as out, open(DIR / f"{name}.log", "w") as err:
        p = subprocess.Popen([str(binary), *args], stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                             cwd=ROOT, start_new_session=True)
    (DIR / f"{name}.pid").write_text(str(p.pid))


def wait_listening(name):
    for _ in range(300):
        try:
            if "budstikke-server listening on" in (DIR / f"{name}.out").read_text():
                return True
        except OSError:
            pass
        if not alive(name):
            print(f"chart_cluster: {name} did not start:\n{(DIR / f'{name}.out').read_text()}"
                  f"{(DIR / f'{name}.log').read_text()}", file=sys.stderr)
            return False
        time.sleep(0.05)
    print(f"chart_cluster: {name} did not start within 15 s", file=sys.stderr)
    return False


def load_plan():
    return json.loads((DIR / "plan.json").read_text())


def start_all(p):
    for name, entry in p.items():
        if not alive(name):
            start_one(name, entry)
    return all([wait_listening(name) for name in p])


def cmd_start():
    if not (BIN / "budstikke-server").exists():
        die("run make build first")
    if not HELM.exists():
        die(f"{HELM} is missing: run scripts/install-deps.sh")
    DIR.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["/bin/bash", str(ROOT / "certs/dev-certs.sh"), str(CERTS)], capture_output=True)
    if r.returncode != 0:
        die("dev-certs.sh failed")
    # A free port may be taken by another program between the plan and the
    # start (tests run in parallel): then plan again with new ports.
    for attempt in range(3):
        if not (DIR / "plan.json").exists():
            p = plan(render())
            (DIR / "plan.json").write_text(json.dumps(p, indent=1))
            for name, entry in p.items():
                (DIR / f"{name}.port").write_text(str(entry["ports"]["grpc"]))
        p = load_plan()
        if start_all(p):
            break
        cmd_stop()
        if attempt == 2:
            sys.exit(1)
        (DIR / "plan.json").unlink()
        print("chart_cluster: planning again with new ports", file=sys.stderr)
    print(f"budstikke cluster from the chart: gateway on localhost:{p['gateway']['ports']['grpc']} "
          f"(CA {CERTS}/ca.pem)")


def cmd_stop():
    if not (DIR / "plan.json").exists():
        return
    names = list(load_plan())
    for name in names:
        if alive(name):
            os.kill(pid_of(name), signal.SIGTERM)
    for name in names:
        for _ in range(200):
            if not alive(name):
                break
            time.sleep(0.05)
        if alive(name):
            os.kill(pid_of(name), signal.SIGKILL)
        (DIR / f"{name}.pid").unlink(missing_ok=True)


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "start":
        cmd_start()
    elif cmd == "stop":
        cmd_stop()
    elif cmd == "status":
        for name, entry in load_plan().items():
            print(f"{name:<13} pid {pid_of(name):<7} port {entry['ports']['grpc']:<6} "
                  f"{'up' if alive(name) else 'down'}")
    elif cmd == "kill" and len(sys.argv) == 3:
        if alive(sys.argv[2]):
            os.kill(pid_of(sys.argv[2]), signal.SIGKILL)
        (DIR / f"{sys.argv[2]}.pid").unlink(missing_ok=True)
    elif cmd == "restart" and len(sys.argv) == 3:
        name = sys.argv[2]
        if alive(name):
            die(f"{name} is running")
        start_one(name, load_plan()[name])
        sys.exit(0 if wait_listening(name) else 1)
    elif cmd == "env":
        print(f"BUDSTIKKE_SERVER=localhost:{load_plan()['gateway']['ports']['grpc']} BUDSTIKKE_CA={CERTS}/ca.pem")
    else:
        die("usage: chart_cluster.py start|stop|status|kill NAME|restart NAME|env")


if __name__ == "__main__":
    main()
