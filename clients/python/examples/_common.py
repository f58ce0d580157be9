"""Shared argument handling for the examples (connection flags and error exit)."""

import argparse
import sys

import budstikke


def parser(description):
    p = argparse.ArgumentParser(
        description=description,
        epilog="Connection settings default to BUDSTIKKE_SERVER, BUDSTIKKE_CA, "
               "BUDSTIKKE_CERT and BUDSTIKKE_KEY.")
    g = p.add_argument_group("connection")
    g.add_argument("--server", help="host:port of the Budstikke server")
    g.add_argument("--ca", help="CA certificate (PEM)")
    g.add_argument("--cert", help="your client certificate (PEM)")
    g.add_argument("--key", help="your private key (PEM)")
    g.add_argument("--timeout", type=float, default=10.0, help="deadline per call, seconds")
    return p


def connect(args):
    return budstikke.Client.from_env(server=args.server, ca=args.ca, cert=args.cert,
                                     key=args.key, timeout=args.timeout)


def run(main):
    """Runs main() and turns a BudstikkeError into one line on stderr and the CLI's
    exit code (2 usage, 3 policy, 4 access, 5 unavailable)."""
    try:
        sys.exit(main() or 0)
    except budstikke.BudstikkeError as e:
        print("error: %s" % e, file=sys.stderr)
        for v in e.violations:
            print("  %s: %s" % (v.rule, v.description), file=sys.stderr)
        for f in e.findings:
            print("  finding %d: %s (%s) at bytes %d-%d" % (f.id, f.kind, f.severity, f.start,
                                                            f.end), file=sys.stderr)
        sys.exit(e.exit_code)
