#!/usr/bin/python3
"""The console image (Dockerfile.console) fits the Helm chart and carries exactly
the packages the console needs (issue 22). No Docker daemon here, so the image is
not built; this stands in for it:

  console_image_test.py

1. Installs the console as the image's build stage does (clients/console/install.sh
   with the LIBDIR of Dockerfile.console, into a temporary root, with stand-in
   assets) and checks the chart's console.command and console.assetsDir
   (helm/budstikke/values.yaml) are there, that the final stage copies that LIBDIR
   to the same path, that ENTRYPOINT is the command, CMD the chart's --config
   file, EXPOSE the chart's console.port, USER the chart's 10001:10001, and every
   installed file readable by that user.
2. Walks (ast) the imports of every installed Python file (the start script, the
   console, the SDK and its generated modules), drops the standard library and the
   project's own packages, maps each module to its file on this machine
   (importlib, /usr/bin/python3) and the file to its Debian package (dpkg -S),
   and compares with the list between the "console-runtime-packages" markers:
   every needed package must be listed, and nothing else. Two packages are needed
   without an import: python3 (the start script's #!/usr/bin/python3) and
   ca-certificates (the console fetches the OpenID Connect provider's discovery
   document and keys with urllib.request over https).
3. Starts the installed start script on a free port with a minimal console.json
   and reads GET /healthz and a vendored file, then checks it wrote nothing into
   the installed tree or its working folder (the chart's root file system is
   read-only)."""
import ast
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile.console"
VALUES = ROOT / "helm" / "budstikke" / "values.yaml"
TEMPLATE = ROOT / "helm" / "budstikke" / "templates" / "console.yaml"
OWN_PACKAGES = {"budstikke", "budstikke_console"}
ASSET_FILES = ("designsystemet/index.css", "designsystemet/theme.css", "htmx/htmx.min.js")
IMAGE_USER = "10001:10001"

failures = []


def fail(msg):
    print("FAIL: " + msg)
    failures.append(msg)


# --- Dockerfile.console --------------------------------------------------------

def instructions(text):
    """[(stage index, KEYWORD, arguments)] with continuation lines joined."""
    out, stage, current = [], -1, ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").strip() + " "
        if line.endswith("\\"):
            continue
        keyword, _, args = current.strip().partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        out.append((stage, keyword.upper(), args.strip()))
        current = ""
    return out


def runtime_packages(text):
    block = re.search(r"# console-runtime-packages: begin.*?\n(.*?)# console-runtime-packages: end",
                      text, re.S)
    if not block:
        sys.exit("FAIL: Dockerfile.console has no console-runtime-packages block")
    return set(re.findall(r"^\s+([a-z0-9][a-z0-9.+-]+) \\$", block.group(1), re.M))


def image_facts(text):
    instrs = instructions(text)
    last = max(s for s, _, _ in instrs)
    final = [(k, a) for s, k, a in instrs if s == last]
    build = [(k, a) for s, k, a in instrs if s < last]
    facts = {"from": final[0][1]}
    for keyword in ("USER", "EXPOSE", "ENTRYPOINT", "CMD"):
        facts[keyword] = [a for k, a in final if k == keyword]
    facts["copies"] = [a for k, a in final if k == "COPY"]
    facts["installs"] = sum(a.count("apt-get install") for k, a in final if k == "RUN")
    libdirs = [m.group(1) for k, a in build if k == "RUN"
               for m in [re.search(r"clients/console/install\.sh (/\S+)", a)] if m]
    facts["libdir"] = libdirs[0] if len(libdirs) == 1 else None
    return facts


# --- the chart -----------------------------------------------------------------

def chart_facts():
    values = yaml.safe_load(VALUES.read_text())
    console = values["console"]
    m = re.search(r"args:\s*\n\s*- --config\s*\n\s*- (\S+)", TEMPLATE.read_text())
    return {"command": console["command"], "assetsDir": console["assetsDir"],
            "port": int(console["port"]), "config": m.group(1) if m else None,
            "user": "%s:%s" % (values["containerSecurityContext"]["runAsUser"],
                               values["containerSecurityContext"]["runAsGroup"])}


# --- 1. layout -----------------------------------------------------------------

def install(tmp, libdir):
    assets = tmp / "assets"
    for name in ASSET_FILES:
        (assets / name).parent.mkdir(parents=True, exist_ok=True)
        (assets / name).write_text("/* stand-in for %s */\n" % name)
    root = tmp / "root"
    r = subprocess.run(["bash", str(ROOT / "clients/console/install.sh"), str(root) + libdir,
                        str(assets)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("FAIL: install.sh exited %d: %s" % (r.returncode, r.stderr.strip()))
    return root


def check_layout(facts, chart, root):
    libdir = facts["libdir"]
    if libdir is None:
        fail("the build stage must run clients/console/install.sh LIBDIR exactly once")
        return
    if ("--from=build %s %s" % (libdir, libdir)) not in facts["copies"]:
        fail("the final stage does not COPY --from=build %s %s (has %s)"
             % (libdir, libdir, facts["copies"]))
    if facts["from"] != "debian:12-slim":
        fail("the final stage is FROM %s, not debian:12-slim" % facts["from"])
    if facts["installs"] != 1:
        fail("the final stage runs apt-get install %d times; only the listed block may"
             % facts["installs"])
    for key in ("command", "assetsDir"):
        if not chart[key].startswith(libdir + "/"):
            fail("console.%s %s is not under the image's %s" % (key, chart[key], libdir))
    command = root / chart["command"].lstrip("/")
    if not command.is_file() or not os.access(command, os.X_OK):
        fail("console.command %s: no executable there after install.sh" % chart["command"])
    for name in ASSET_FILES:
        if not (root / chart["assetsDir"].lstrip("/") / name).is_file():
            fail("console.assetsDir %s has no %s after install.sh" % (chart["assetsDir"], name))
    expected = {
        "ENTRYPOINT": [json.dumps([chart["command"]])],
        "CMD": [json.dumps(["--config", chart["config"]])],
        "EXPOSE": [str(chart["port"])],
        "USER": [IMAGE_USER],
    }
    for keyword, want in expected.items():
        got = [json.dumps(json.loads(a)) if a.startswith("[") else a for a in facts[keyword]]
        if got != want:
            fail("%s is %s; the chart needs %s" % (keyword, got, want))
    if chart["user"] != IMAGE_USER:
        fail("the chart runs as %s, the image as %s" % (chart["user"], IMAGE_USER))
    for path in (root / libdir.lstrip("/")).rglob("*"):
        mode = path.stat().st_mode
        need = 0o555 if path.is_dir() or path == command else 0o444
        if mode & need != need:
            fail("%s has mode %o: user 10001 cannot use it"
                 % (path.relative_to(root), mode & 0o777))


# --- 2. packages ---------------------------------------------------------------

def scripts(tree):
    """The installed files that start with #! (the start script)."""
    return sorted(p for p in tree.rglob("*") if p.is_file() and p.suffix != ".py"
                  and p.read_bytes().startswith(b"#!"))


def python_files(tree):
    return sorted(tree.rglob("*.py")) + scripts(tree)


def imports(path):
    """The absolute module names a file imports (anywhere in it, also in functions)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
    return names


def package_of_module(name):
    """The Debian package that provides module `name` for /usr/bin/python3, or an error."""
    code = ("import importlib.util, sys\n"
            "s = importlib.util.find_spec(sys.argv[1])\n"
            "print(s.origin if s and s.origin else '')")
    r = subprocess.run(["/usr/bin/python3", "-s", "-c", code, name], capture_output=True,
                       text=True)
    origin = r.stdout.strip()
    if r.returncode != 0 or not origin:
        return None, "not importable by /usr/bin/python3 here (scripts/install-deps.sh)"
    d = subprocess.run(["dpkg", "-S", origin], capture_output=True, text=True)
    if d.returncode != 0:
        return None, "%s belongs to no Debian package" % origin
    return d.stdout.split(":")[0].split(",")[0].strip(), origin


def needed_packages(tree):
    needed = {}
    for script in scripts(tree):
        first = script.read_text().splitlines()[0]
        if first != "#!/usr/bin/python3":
            fail("%s starts with %r, not #!/usr/bin/python3" % (script.relative_to(tree), first))
        needed["python3"] = "#!/usr/bin/python3 of %s" % script.relative_to(tree)
    modules = {}
    for path in python_files(tree):
        for name in imports(path):
            modules.setdefault(name, path.relative_to(tree))
    if "urllib.request" in modules:
        needed["ca-certificates"] = "https with urllib.request (%s)" % modules["urllib.request"]
    for name in sorted(modules):
        top = name.split(".")[0]
        if top in OWN_PACKAGES or top in sys.stdlib_module_names:
            continue
        pkg, why = package_of_module(name)
        if pkg is None:
            fail("module %s (imported by %s): %s" % (name, modules[name], why))
        else:
            needed.setdefault(pkg, "%s (%s)" % (name, modules[name]))
    return needed


# --- 3. a start from the installed tree ----------------------------------------

def snapshot(folder):
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*")}


def smoke(tmp, root, chart):
    code = "import importlib.util, sys; sys.exit(importlib.util.find_spec('budstikke') is not None)"
    r = subprocess.run(["/usr/bin/python3", "-s", "-c", code])
    if r.returncode != 0:
        fail("a budstikke package is importable outside the installed tree; the start "
             "script would not use the installed SDK")
        return
    key, cert = tmp / "svc.key", tmp / "svc.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=console-image-test",
                    "-days", "1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    (tmp / "client-secret").write_text("stand-in\n")
    config = {
        "listen": "127.0.0.1:0", "public_url": "https://konsoll.example.org",
        "trust_domain": "budstikke.test", "server": "127.0.0.1:1",
        "ca": str(cert), "cert": str(cert), "key": str(key),
        "assets_dir": str(root / chart["assetsDir"].lstrip("/")),
        "login": {"method": "oidc", "issuer": "https://127.0.0.1:1", "client_id": "c",
                  "client_secret_file": str(tmp / "client-secret")}}
    (tmp / "console.json").write_text(json.dumps(config))
    workdir = tmp / "cwd"
    workdir.mkdir()
    before = snapshot(root)
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen([str(root / chart["command"].lstrip("/")), "--config",
                             str(tmp / "console.json")], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.match(r"budstikke-console listening on 127\.0\.0\.1:(\d+)$", line.strip())
        if not m:
            proc.kill()
            fail("the installed console did not start: %r %s" % (line, proc.stderr.read().strip()))
            return
        base = "http://127.0.0.1:%s" % m.group(1)
        with urllib.request.urlopen(base + "/healthz", timeout=10) as resp:
            body = json.load(resp)
        if body != {"status": "ok"}:
            fail("GET /healthz returned %r" % body)
        with urllib.request.urlopen(base + "/vendor/htmx/htmx.min.js", timeout=10) as resp:
            js = resp.read().decode()
        if js != "/* stand-in for htmx/htmx.min.js */\n":
            fail("GET /vendor/htmx/htmx.min.js returned %r" % js)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    if snapshot(root) != before:
        fail("the console wrote into the installed tree: %s"
             % sorted(set(snapshot(root)) ^ set(before)))
    if any(workdir.iterdir()):
        fail("the console wrote into its working folder: %s" % list(workdir.iterdir()))


def main():
    text = DOCKERFILE.read_text()
    facts, chart = image_facts(text), chart_facts()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="console-image-"))
    try:
        root = install(tmp, facts["libdir"] or "/usr/local/lib/budstikke")
        check_layout(facts, chart, root)
        tree = root / (facts["libdir"] or "/usr/local/lib/budstikke").lstrip("/")
        needed = needed_packages(tree)
        listed = runtime_packages(text)
        for pkg in sorted(set(needed) - listed):
            fail("Dockerfile.console does not install %s (for %s)" % (pkg, needed[pkg]))
        for pkg in sorted(listed - set(needed)):
            fail("Dockerfile.console installs %s, which nothing in the console or the SDK uses"
                 % pkg)
        if (root / chart["command"].lstrip("/")).is_file():
            smoke(tmp, root, chart)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not failures:
        print("ok   %d runtime packages cover every import of the console and the SDK:"
              % len(needed))
        for pkg in sorted(needed):
            print("     %-26s %s" % (pkg, needed[pkg]))
        print("ok   %s and %s are in the image (%s), ENTRYPOINT %s, USER %s, EXPOSE %d; "
              "the installed console serves /healthz and writes nothing"
              % (chart["command"], chart["assetsDir"], facts["libdir"], chart["command"],
                 IMAGE_USER, chart["port"]))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
