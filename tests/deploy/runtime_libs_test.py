#!/usr/bin/python3
"""The image's runtime packages cover every shared library of the binaries
(issue 18, acceptance 3). No image registry is reachable here, so the image is
not built; this stands in for it:

  runtime_libs_test.py BIN_DIR

runs ldd on BIN_DIR/budstikke-server and BIN_DIR/budstikke, maps every library
to its Debian package with dpkg -S (a /lib path is looked up as /usr/lib first:
Debian 12 has a merged /usr, and dpkg knows some files under one name only),
and compares with the list between the "runtime-packages" markers of the
Dockerfile: every needed package must be listed, and nothing else."""
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def libraries(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        if "not found" in line:
            sys.exit(f"FAIL: {binary}: {line.strip()}")
        m = re.search(r"=> (/\S+)", line)
        if m:
            libs.append(m.group(1))
    return libs


def candidates(path):
    """The names dpkg may know a library by: /usr/lib/... first (merged /usr), then as given."""
    out = []
    for p in (path, os.path.realpath(path)):
        if p.startswith("/lib"):
            out.append("/usr" + p)
        out.append(p)
    return out


def packages_of(paths):
    """{library: package}, with one dpkg -S call for all the candidate names."""
    names = sorted({c for p in paths for c in candidates(p)})
    r = subprocess.run(["dpkg", "-S", *names], capture_output=True, text=True)
    owner = {}
    for line in r.stdout.splitlines():
        pkgs, _, path = line.partition(": ")
        owner[path.strip()] = pkgs.split(",")[0].split(":")[0].strip()
    return {p: next((owner[c] for c in candidates(p) if c in owner), None) for p in paths}


def dockerfile_packages():
    text = (ROOT / "Dockerfile").read_text()
    block = re.search(r"# runtime-packages: begin.*?\n(.*?)# runtime-packages: end", text, re.S)
    if not block:
        sys.exit("FAIL: Dockerfile has no runtime-packages block")
    words = re.findall(r"^\s+([a-z0-9][a-z0-9.+-]+) \\$", block.group(1), re.M)
    return set(words)


def main():
    bin_dir = pathlib.Path(sys.argv[1])
    libs = {}
    for name in ("budstikke-server", "budstikke"):
        for lib in libraries(str(bin_dir / name)):
            libs.setdefault(lib, name)
    needed = {}
    for lib, pkg in packages_of(list(libs)).items():
        if pkg is None:
            sys.exit(f"FAIL: dpkg -S knows no package for {lib} ({libs[lib]})")
        needed.setdefault(pkg, lib)
    listed = dockerfile_packages()
    failures = 0
    for pkg in sorted(set(needed) - listed):
        print(f"FAIL: the Dockerfile does not install {pkg} (for {needed[pkg]})")
        failures += 1
    for pkg in sorted(listed - set(needed)):
        print(f"FAIL: the Dockerfile installs {pkg}, which neither binary links")
        failures += 1
    if failures == 0:
        print(f"ok   {len(needed)} runtime packages cover every library of budstikke-server and budstikke:")
        print("     " + " ".join(sorted(needed)))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
