#!/usr/bin/python3
"""Verify the audit log offline and query it (auditors).

Verifies the latest signed checkpoint (Ed25519, C2SP signed note) against a
pinned verifier key, proves it consistent with the one saved in --state, then
optionally queries events and proves each one's inclusion.

Examples:
  audit.py --state audit-state.json                     (anyone: verify the log)
  audit.py --state s.json --subject 01818012345          (auditor: who touched this child)
  audit.py --report 01818012345                          (supervisory auditor: innsyn i logg)
"""

import base64
import json
import os
import sys

try:
    import budstikke
except ImportError:  # running from the source tree: use ../budstikke
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import budstikke
from budstikke import verify  # noqa: E402
from budstikke.pb import types_pb2  # noqa: E402
from _common import connect, parser, run  # noqa: E402


def load_state(path):
    if not path or not os.path.exists(path):
        return None, None
    with open(path) as f:
        s = json.load(f)
    return s["verifier_key"], verify.Checkpoint(s["origin"], s["size"],
                                                base64.b64decode(s["root_hash"]))


def save_state(path, vkey, cp):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"verifier_key": vkey, "origin": cp.origin, "size": cp.size,
                   "root_hash": base64.b64encode(cp.root_hash).decode()}, f, indent=1)
    os.replace(tmp, path)


def main():
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--state", help="JSON file with the pinned key and last checkpoint")
    p.add_argument("--verifier-key", help="pin this key instead of the server's")
    p.add_argument("--subject", help="query events about this national id (auditor)")
    p.add_argument("--action", default="", help="only this action, e.g. referral.read")
    p.add_argument("--actor-agency", default="")
    p.add_argument("--report", metavar="NATIONAL_ID",
                   help="print the subject access report (supervisory auditor)")
    args = p.parse_args()

    with connect(args) as c:
        pinned, previous = load_state(args.state)
        vkey = args.verifier_key or pinned or c.audit.public_key().verifier_key
        cp = c.audit.verify_checkpoint(vkey, previous)
        print("checkpoint %s size %d verified%s" % (
            cp.origin, cp.size, " and consistent with size %d" % previous.size
            if previous else ""))
        if args.state:
            save_state(args.state, vkey, cp)
        if args.subject or args.action or args.actor_agency:
            n = 0
            for page in c.audit.query(subject=args.subject or "", action=args.action,
                                      actor_agency=args.actor_agency, with_proofs=True):
                page_cp = verify.verify_checkpoint(page.checkpoint.signed_note, vkey)
                for r in page.records:
                    verify.verify_inclusion(verify.leaf_hash(r.leaf_data), r.event.index,
                                            page_cp.size, list(r.inclusion_proof.inclusion_path),
                                            page_cp.root_hash)
                    e = r.event
                    print("%6d %s %s/%s %s %s" % (e.index, e.time.ToJsonString(),
                                                  e.actor.agency, e.actor.user, e.action,
                                                  e.resource.id))
                    n += 1
            print("%d events, each proven in a signed checkpoint" % n)
        if args.report:
            for e in c.audit.subject_access_report(args.report):
                print("%s %s (%s) %s: %s [%s]" % (
                    e.time.ToJsonString(), e.agency_name, e.user,
                    budstikke.enum_name(types_pb2.Role, e.role, "ROLE_").lower(),
                    e.description,
                    budstikke.enum_name(types_pb2.LegalBasis, e.legal_basis, "LEGAL_BASIS_")))
    return 0


if __name__ == "__main__":
    run(main)
