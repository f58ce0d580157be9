"""Checks on a rendered chart (issue 18, acceptance 2). check(objects, root)
returns a list of problems (empty: all hold):

- every container runs non-root with readOnlyRootFilesystem, no privilege
  escalation, capabilities drop ALL and seccomp RuntimeDefault;
- every Deployment and StatefulSet has startup, liveness and readiness grpc
  probes on the port of its --health-listen (readiness: budstikke.ready);
- no Secret is rendered and no ConfigMap holds key material;
- a default-deny NetworkPolicy, a NetworkPolicy for every component, no
  allow-all rule, and the component-to-component flows are exactly the peers
  table (kNeeds in services/server/topology.cc);
- every address in a rendered --peers file is a Service of the render whose
  port matches and whose selector picks the pods of that component;
- every StatefulSet has a volume claim template and its --data-dir lies below
  that volume's mount;
- key files as the kubelet writes them pass the server's own rule
  (storage/private_file.cc, DESIGN): no bit for others, no group write, group
  read only when the file's group is the process's own group; the data dir is
  a folder the server makes (0700) below its volume, never the volume root
  (group writable with fsGroup). tests/chart/chart_cluster.py lets the real
  server judge the same modes.
- the web console (console.enabled, issue 22): `budstikke-console --config
  FILE` as in deploy/systemd/budstikke-console.service, FILE a mounted
  ConfigMap whose console.json is valid for the console's own config loader
  (clients/console/budstikke_console/config.py: keys and required ones); its
  `server` is a Service of the render that selects the entry component's pods
  on that port; its certificate, key, CA and OIDC client secret are files of
  mounted Secrets; a cert-manager Certificate of its Secret names
  spiffe://<trust_domain>/service/console; startup, liveness and readiness
  probes are GET /healthz on the port it listens on; its Service selects it;
  its NetworkPolicy lets it reach exactly the entry pods on that port and the
  entry's NetworkPolicy admits it.
"""
import copy
import ipaddress
import json
import re

WORKLOADS = ("Deployment", "StatefulSet")


def pod_specs(objects):
    """(object, pod template spec, component) of every workload and CronJob."""
    for o in objects:
        if o["kind"] in WORKLOADS:
            t = o["spec"]["template"]
        elif o["kind"] == "CronJob":
            t = o["spec"]["jobTemplate"]["spec"]["template"]
        else:
            continue
        yield o, t["spec"], t["metadata"]["labels"].get("app.kubernetes.io/component")


def name(o):
    return f"{o['kind']}/{o['metadata']['name']}"


def arg(container, flag):
    args = container.get("args", [])
    return args[args.index(flag) + 1] if flag in args else None


def check_security(objects):
    problems = []
    for o, spec, _ in pod_specs(objects):
        pod = spec.get("securityContext", {})
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{name(o)}: automountServiceAccountToken is not false")
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c.get("securityContext", {})
            merged = {**pod, **sc}
            where = f"{name(o)} container {c['name']}"
            if merged.get("runAsNonRoot") is not True:
                problems.append(f"{where}: runAsNonRoot is not true")
            if merged.get("runAsUser", 0) == 0:
                problems.append(f"{where}: runAsUser is root or unset")
            for key, want in (("readOnlyRootFilesystem", True), ("allowPrivilegeEscalation", False)):
                if sc.get(key) is not want:
                    problems.append(f"{where}: {key} is not {want}")
            if sc.get("privileged"):
                problems.append(f"{where}: privileged")
            caps = sc.get("capabilities", {})
            if "ALL" not in caps.get("drop", []) or caps.get("add"):
                problems.append(f"{where}: capabilities do not drop ALL (or add some)")
            if merged.get("seccompProfile", {}).get("type") != "RuntimeDefault":
                problems.append(f"{where}: seccompProfile is not RuntimeDefault")
            if "resources" not in c or "requests" not in c["resources"] or "limits" not in c["resources"]:
                problems.append(f"{where}: no resource requests and limits")
    return problems


def check_probes(objects):
    problems = []
    for o, spec, comp in pod_specs(objects):
        if o["kind"] not in WORKLOADS or comp == "console":  # HTTP: check_console
            continue
        for c in spec["containers"]:
            health = arg(c, "--health-listen")
            if health is None:
                problems.append(f"{name(o)}: no --health-listen")
                continue
            port = int(health.rsplit(":", 1)[1])
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                p = c.get(probe)
                if not p or "grpc" not in p:
                    problems.append(f"{name(o)}: no grpc {probe}")
                elif p["grpc"].get("port") != port:
                    problems.append(f"{name(o)}: {probe} on port {p['grpc'].get('port')}, health is on {port}")
            ready = c.get("readinessProbe", {}).get("grpc", {}).get("service")
            if ready != "budstikke.ready":
                problems.append(f"{name(o)}: readiness asks service {ready!r}, not budstikke.ready")
            live = c.get("livenessProbe", {}).get("grpc", {}).get("service", "")
            if live != "":
                problems.append(f"{name(o)}: liveness asks service {live!r}, not the empty name")
    return problems


KEY_MATERIAL = re.compile(r"PRIVATE KEY|BEGIN CERTIFICATE")


def check_no_secrets(objects):
    problems = []
    for o in objects:
        if o["kind"] == "Secret":
            problems.append(f"{name(o)}: a Secret is rendered")
        if o["kind"] == "ConfigMap" and KEY_MATERIAL.search(json.dumps(o.get("data", {}))):
            problems.append(f"{name(o)}: key material in a ConfigMap")
    return problems


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pod_labels(objects):
    """{component: pod labels}."""
    return {comp: (o["spec"]["template"] if o["kind"] != "CronJob" else o["spec"]["jobTemplate"]["spec"]["template"])
            ["metadata"]["labels"] for o, _, comp in pod_specs(objects)}


def peers_of(objects):
    """{component: {service: address}} from the rendered --peers ConfigMap."""
    out = {}
    maps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    for o, spec, comp in pod_specs(objects):
        for c in spec["containers"]:
            path = arg(c, "--peers")
            if path is None:
                continue
            mount = next(m for m in c["volumeMounts"] if path.startswith(m["mountPath"] + "/"))
            vol = next(v for v in spec["volumes"] if v["name"] == mount["name"])
            item = next(i for i in vol["configMap"]["items"] if i["path"] == path[len(mount["mountPath"]) + 1:])
            out[comp] = json.loads(maps[vol["configMap"]["name"]]["data"][item["key"]])
    return out


def k_needs(root):
    """kNeeds of services/server/topology.cc as {target: set(needs)}."""
    text = (root / "services/server/topology.cc").read_text()
    table = re.search(r"kNeeds\[\] = \{(.*?)\n\};", text, re.S).group(1)
    return {t: set(re.findall(r'"(\w+)"', needs))
            for t, needs in re.findall(r'\{"(\w+)", \{([^}]*)\}\}', table)}


def peer_selector(peer):
    return peer.get("podSelector", {}).get("matchLabels", {})


def is_allow_all_peer(peer):
    if not peer:
        return True
    if set(peer) <= {"podSelector", "namespaceSelector"} and not any(
            peer.get(k, {}).get("matchLabels") or peer.get(k, {}).get("matchExpressions")
            for k in ("podSelector", "namespaceSelector")):
        return True
    return False


def check_network_policies(objects, root):
    problems = []
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    labels = pod_labels(objects)
    if not policies:
        return ["no NetworkPolicy"]
    deny = [p for p in policies
            if not p["spec"].get("ingress") and not p["spec"].get("egress")
            and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
            and all(selects(p["spec"]["podSelector"]["matchLabels"], l) for l in labels.values())]
    if not deny:
        problems.append("no default-deny NetworkPolicy selecting every pod")
    own = {}
    for comp, l in labels.items():
        mine = [p for p in policies if p["spec"]["podSelector"].get("matchLabels", {}).get(
            "app.kubernetes.io/component") == comp and selects(p["spec"]["podSelector"]["matchLabels"], l)]
        if len(mine) != 1:
            problems.append(f"component {comp}: {len(mine)} NetworkPolicies of its own, want 1")
        else:
            own[comp] = mine[0]
    entry_ports = set()
    for p in policies:
        for direction, key in (("ingress", "from"), ("egress", "to")):
            for rule in p["spec"].get(direction, []) or []:
                where = f"{name(p)} {direction}"
                if not rule.get(key):
                    problems.append(f"{where}: a rule without `{key}` allows every peer")
                if not rule.get("ports"):
                    problems.append(f"{where}: a rule without ports allows every port")
                for peer in rule.get(key, []) or []:
                    if is_allow_all_peer(peer):
                        problems.append(f"{where}: peer {peer} matches everything")
                    cidr = peer.get("ipBlock", {}).get("cidr")
                    if cidr and ipaddress.ip_network(cidr).prefixlen == 0:
                        entry_ports.add((p["metadata"]["name"], direction,
                                         tuple(str(x["port"]) for x in rule.get("ports", []))))
    for pname, direction, ports in entry_ports:
        pol = next(p for p in policies if p["metadata"]["name"] == pname)
        comp = pol["spec"]["podSelector"]["matchLabels"].get("app.kubernetes.io/component")
        if direction != "ingress" or ports != ("grpc",) or comp not in ("server", "gateway"):
            problems.append(f"{pname}: an open ipBlock outside the client port of the entry component")
    # The flows between components are exactly the peers table.
    if "gateway" in labels:
        needs = k_needs(root)
        comps = [c for c in labels if c in needs]
        for a in comps:
            for b in comps:
                if a == b:
                    continue
                want = b in needs[a]
                egress = any(selects(peer_selector(peer), labels[b])
                             for rule in own.get(a, {}).get("spec", {}).get("egress", [])
                             for peer in rule.get("to", []))
                ingress = any(selects(peer_selector(peer), labels[a])
                              for rule in own.get(b, {}).get("spec", {}).get("ingress", [])
                              for peer in rule.get("from", []))
                if egress != want or ingress != want:
                    problems.append(f"flow {a} -> {b}: egress {egress}, ingress {ingress}, table says {want}")
    return problems


def check_peers(objects, root, namespace="budstikke"):
    problems = []
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    labels = pod_labels(objects)
    peers = peers_of(objects)
    needs = k_needs(root)
    for comp, table in peers.items():
        if set(table) != needs.get(comp, set()):
            problems.append(f"{comp}: --peers names {sorted(table)}, kNeeds says {sorted(needs.get(comp, []))}")
        for target, address in table.items():
            host, port = address.rsplit(":", 1)
            m = re.fullmatch(rf"([a-z0-9-]+)\.{namespace}\.svc\.[a-z0-9.-]+", host)
            svc = services.get(m.group(1)) if m else None
            if svc is None:
                problems.append(f"{comp}: peer {target} at {address} is not a Service of the render")
                continue
            if int(port) not in [p["port"] for p in svc["spec"]["ports"]]:
                problems.append(f"{comp}: peer {target} port {port} is not a port of Service {m.group(1)}")
            if target not in labels or not selects(svc["spec"].get("selector"), labels[target]):
                problems.append(f"{comp}: Service {m.group(1)} does not select the pods of {target}")
    return problems


def check_volumes(objects):
    problems = []
    for o in objects:
        if o["kind"] != "StatefulSet":
            continue
        claims = [t["metadata"]["name"] for t in o["spec"].get("volumeClaimTemplates", [])]
        if not claims:
            problems.append(f"{name(o)}: no volumeClaimTemplates")
        for c in o["spec"]["template"]["spec"]["containers"]:
            data = arg(c, "--data-dir")
            mounts = [m for m in c["volumeMounts"] if m["name"] in claims]
            if data is None or not any(data.startswith(m["mountPath"] + "/") for m in mounts):
                problems.append(f"{name(o)}: --data-dir {data} is not below a claimed volume's mount")
    return problems


def server_accepts(mode, file_gid, egid):
    """The server's rule for key files (storage/private_file.cc): None if accepted."""
    if mode & 0o007:
        return "a permission bit for others"
    if mode & 0o070 not in (0, 0o040):
        return "group write or execute"
    if mode & 0o040 and file_gid != egid:
        return "group access by a group that is not the process's own"
    return None


def secret_file_modes(spec):
    """[(volume, file, mode, gid)] of secret files as the kubelet writes them:
    the item's mode or defaultMode (default 0644); with fsGroup the files get
    that group and the kubelet adds group read (0440) to read-only volumes."""
    fs_group = spec.get("securityContext", {}).get("fsGroup")
    out = []
    for v in spec.get("volumes", []):
        src = v.get("secret") or v.get("projected")
        if not v.get("secret"):
            continue
        default = src.get("defaultMode", 0o644)
        for item in src.get("items", [{"path": "(all keys)"}]):
            mode = item.get("mode", default)
            gid = 0
            if fs_group is not None:
                mode |= 0o440
                gid = fs_group
            out.append((v["name"], item["path"], mode, gid))
    return out


def check_modes(objects):
    problems = []
    for o, spec, _ in pod_specs(objects):
        pod = spec.get("securityContext", {})
        for c in spec["containers"]:
            egid = {**pod, **c.get("securityContext", {})}.get("runAsGroup", 0)
            for vol, f, mode, gid in secret_file_modes(spec):
                why = server_accepts(mode, gid, egid)
                if why:
                    problems.append(f"{name(o)}: secret file {vol}/{f} mode {mode:04o} group {gid}: {why}")
            # The data dir is created 0700 by the server below the mount; the
            # mount itself (group rwx with fsGroup) must not be the data dir.
            data = arg(c, "--data-dir")
            if data is not None:
                mounts = [m["mountPath"] for m in c["volumeMounts"]]
                if data in mounts:
                    problems.append(f"{name(o)}: --data-dir {data} is a volume root (group writable with fsGroup)")
        if "fsGroup" in pod and pod.get("runAsGroup") != pod["fsGroup"]:
            problems.append(f"{name(o)}: fsGroup {pod['fsGroup']} is not runAsGroup {pod.get('runAsGroup')}")
    return problems


def mounted_file(spec, container, path, kind):
    """The (volume, item key) that provides file `path` in the container from a
    volume of `kind` ("secret" or "configMap"), or None."""
    for m in container.get("volumeMounts", []):
        if not path.startswith(m["mountPath"] + "/"):
            continue
        vol = next((v for v in spec["volumes"] if v["name"] == m["name"]), None)
        if vol is None or kind not in vol:
            return None
        rel = path[len(m["mountPath"]) + 1:]
        items = vol[kind].get("items")
        if items is None:
            return vol, rel
        item = next((i for i in items if i["path"] == rel), None)
        return (vol, item["key"]) if item else None
    return None


def console_config_keys(root):
    """(known keys, required keys) of the console's config loader."""
    text = (root / "clients/console/budstikke_console/config.py").read_text()
    body = re.search(r"class Config:\n(.*?)\n\n", text, re.S).group(1)
    known = set(re.findall(r"^    (\w+):", body, re.M))
    required = set(re.findall(r'"(\w+)"', re.search(r"_REQUIRED = \((.*?)\)", text, re.S).group(1)))
    return known, required


def systemd_exec(root):
    unit = (root / "deploy/systemd/budstikke-console.service").read_text()
    return re.search(r"^ExecStart=(.*)$", unit, re.M).group(1).split()


def check_console(objects, root):
    problems = []
    found = [(o, spec) for o, spec, comp in pod_specs(objects) if comp == "console"]
    if not found:
        return problems
    o, spec = found[0]
    c = spec["containers"][0]
    command = c.get("command", []) + c.get("args", [])
    unit = systemd_exec(root)
    if [p.rsplit("/", 1)[-1] for p in command[:1]] + command[1:2] != \
            [unit[0].rsplit("/", 1)[-1], unit[1]] or len(command) != 3:
        problems.append(f"{name(o)}: runs {command}, not budstikke-console --config FILE "
                        f"as the systemd unit ({unit})")
        return problems
    src = mounted_file(spec, c, command[2], "configMap")
    maps = {m["metadata"]["name"]: m for m in objects if m["kind"] == "ConfigMap"}
    if src is None or src[0]["configMap"]["name"] not in maps:
        return problems + [f"{name(o)}: --config {command[2]} is not a file of a rendered ConfigMap"]
    cfg = json.loads(maps[src[0]["configMap"]["name"]]["data"][src[1]])
    known, required = console_config_keys(root)
    if set(cfg) - known or required - set(cfg):
        problems.append(f"{name(o)}: console.json unknown keys {sorted(set(cfg) - known)}, "
                        f"missing {sorted(required - set(cfg))}")
    for key, path in (("cert", cfg.get("cert", "")), ("key", cfg.get("key", "")),
                      ("ca", cfg.get("ca", "")),
                      ("login.client_secret_file", cfg.get("login", {}).get("client_secret_file", ""))):
        if not path.startswith("/") or mounted_file(spec, c, path, "secret") is None:
            problems.append(f"{name(o)}: {key} {path!r} is not a file of a mounted Secret")
    # Probes on the port it listens on.
    port = int(cfg.get("listen", ":0").rsplit(":", 1)[1])
    named = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        g = c.get(probe, {}).get("httpGet", {})
        p = named.get(g.get("port"), g.get("port"))
        if g.get("path") != "/healthz" or p != port:
            problems.append(f"{name(o)}: {probe} is not GET /healthz on its port {port}")
    labels = pod_labels(objects)
    # Its Service.
    if not any(s["kind"] == "Service" and selects(s["spec"].get("selector"), labels["console"])
               and any(named.get(p.get("targetPort"), p.get("targetPort")) == port
                       for p in s["spec"]["ports"]) for s in objects):
        problems.append(f"{name(o)}: no Service selects the console on port {port}")
    # The server it calls: a Service selecting the entry component.
    entry = "gateway" if "gateway" in labels else "server"
    host, sport = cfg.get("server", ":").rsplit(":", 1)
    svc = next((s for s in objects if s["kind"] == "Service"
                and host.split(".")[0] == s["metadata"]["name"]), None)
    if svc is None or not selects(svc["spec"].get("selector"), labels[entry]) or \
            int(sport or 0) not in [p["port"] for p in svc["spec"]["ports"]]:
        problems.append(f"{name(o)}: server {cfg.get('server')} is not a Service of the entry "
                        f"component ({entry})")
    # Its certificate's identity.
    tls = mounted_file(spec, c, cfg.get("cert", ""), "secret")
    for cert in (x for x in objects if x["kind"] == "Certificate"):
        if tls and cert["spec"]["secretName"] == tls[0]["secret"]["secretName"]:
            want = [f"spiffe://{cfg.get('trust_domain')}/service/console"]
            if cert["spec"].get("uris") != want:
                problems.append(f"{name(cert)}: uris {cert['spec'].get('uris')}, want {want}")
    # NetworkPolicies: console -> entry, admitted by the entry.
    policies = [p for p in objects if p["kind"] == "NetworkPolicy"]
    if policies:
        own = [p for p in policies if p["spec"]["podSelector"].get("matchLabels", {}).get(
            "app.kubernetes.io/component") == "console"]
        entry_own = [p for p in policies if p["spec"]["podSelector"].get("matchLabels", {}).get(
            "app.kubernetes.io/component") == entry]
        reach = [comp for comp, l in labels.items() if comp != "console" and any(
            selects(peer_selector(peer), l) for p in own for rule in p["spec"].get("egress", [])
            for peer in rule.get("to", []))]
        if reach != [entry]:
            problems.append(f"{name(o)}: its NetworkPolicy lets it reach {reach}, want [{entry!r}]")
        if not any(selects(peer_selector(peer), labels["console"]) for p in entry_own
                   for rule in p["spec"].get("ingress", []) for peer in rule.get("from", [])):
            problems.append(f"{name(o)}: the {entry} NetworkPolicy does not admit the console")
    return problems


def check(objects, root):
    return (check_security(objects) + check_probes(objects) + check_no_secrets(objects)
            + check_network_policies(objects, root) + check_peers(objects, root)
            + check_volumes(objects) + check_modes(objects) + check_console(objects, root))


CONSOLE_SELFTEST_EXPECTED = [
    "is not GET /healthz on its port",
    "is not a Service of the entry component",
    "is not a file of a mounted Secret",
    "uris ['spiffe://budstikke.kommune.example/service/gateway']",
    "the gateway NetworkPolicy does not admit the console",
    "console.json unknown keys ['listen_port']",
]


def break_console_for_selftest(objects):
    """A copy of a render with the console (cert-manager-values.yaml), one defect per
    CONSOLE_SELFTEST_EXPECTED line."""
    objects = copy.deepcopy(objects)
    dep = next(o for o, _, comp in pod_specs(objects) if comp == "console")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    c["readinessProbe"]["httpGet"]["path"] = "/"
    cm = next(o for o in objects if o["kind"] == "ConfigMap" and "console.json" in o["data"])
    cfg = json.loads(cm["data"]["console.json"])
    cfg["server"] = "bs-budstikke-audit.budstikke.svc.cluster.local:7443"
    cfg["login"]["client_secret_file"] = "/etc/budstikke-console/client-secret"
    cfg["listen_port"] = 8080
    cm["data"]["console.json"] = json.dumps(cfg)
    cert = next(o for o in objects if o["kind"] == "Certificate"
                and o["metadata"]["name"].endswith("-console"))
    cert["spec"]["uris"] = ["spiffe://budstikke.kommune.example/service/gateway"]
    gw = next(o for o in objects if o["kind"] == "NetworkPolicy"
              and o["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/component") == "gateway")
    gw["spec"]["ingress"] = [r for r in gw["spec"]["ingress"]
                             if not any(peer_selector(p).get("app.kubernetes.io/component") == "console"
                                        for p in r.get("from", []))]
    return objects


SELFTEST_EXPECTED = [
    "readOnlyRootFilesystem is not True",
    "no grpc livenessProbe",
    "a Secret is rendered",
    "a rule without `from` allows every peer",
    "is not a Service of the render",
    "no volumeClaimTemplates",
    "group access by a group that is not the process's own",
    "flow gateway -> admin",
]


def break_for_selftest(objects):
    """A copy of a microservices render with one defect per SELFTEST_EXPECTED line."""
    objects = copy.deepcopy(objects)
    sts = [o for o in objects if o["kind"] == "StatefulSet"]
    deps = [o for o in objects if o["kind"] == "Deployment"]
    c0 = sts[0]["spec"]["template"]["spec"]["containers"][0]
    c0["securityContext"]["readOnlyRootFilesystem"] = False
    del c0["livenessProbe"]
    objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "data": {"k": "dg=="}})
    nps = [o for o in objects if o["kind"] == "NetworkPolicy" and o["spec"].get("ingress")]
    nps[0]["spec"]["ingress"].append({"ports": [{"port": 1}]})
    cm = next(o for o in objects if o["kind"] == "ConfigMap" and "gateway.json" in o["data"])
    gw = json.loads(cm["data"]["gateway.json"])
    gw["audit"] = "nowhere.budstikke.svc.cluster.local:7443"
    cm["data"]["gateway.json"] = json.dumps(gw)
    del sts[1]["spec"]["volumeClaimTemplates"]
    sts[2]["spec"]["template"]["spec"]["securityContext"]["runAsGroup"] = 4242
    sts[2]["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsGroup"] = 4242
    admin_np = next(o for o in objects if o["kind"] == "NetworkPolicy"
                    and o["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/component") == "admin")
    admin_np["spec"]["ingress"] = [r for r in admin_np["spec"]["ingress"]
                                   if not any(peer_selector(p).get("app.kubernetes.io/component") == "gateway"
                                              for p in r.get("from", []))]
    del deps
    return objects
