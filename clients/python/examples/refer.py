#!/usr/bin/python3
"""Send a referral (henvisning / bekymringsmelding) of a named child.

Records the consent first when --giver is given (or uses --consent-id), uploads
the attachments with their SHA-256, and sends. Every violated rule is printed.

Examples:
  As a GP, to BUP, with a guardian's consent recorded now:
    refer.py --to bup-oslo --subject 01818012345 --giver guardian --relation mother \\
        --reason "Vedvarende angst" --attach epikrise.pdf
  To child welfare under the statutory duty (no consent):
    refer.py --to barnevern-oslo --subject 01818012345 --reason "..." \\
        --statutory-duty "Barnet forteller om vold hjemme og har blåmerker"
"""

import datetime
import os
import sys

try:
    import budstikke
except ImportError:  # running from the source tree: use ../budstikke
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import budstikke
from budstikke.pb import referral_pb2  # noqa: E402
from _common import connect, parser, run  # noqa: E402


def main():
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--to", required=True, help="recipient agency id (BUP, PPT, child welfare)")
    p.add_argument("--subject", required=True, help="the child's national id (11 digits)")
    p.add_argument("--reason", required=True, help="why the child is referred")
    basis = p.add_mutually_exclusive_group(required=True)
    basis.add_argument("--consent-id", help="an existing consent recorded by your agency")
    basis.add_argument("--giver", choices=["child", "guardian"],
                       help="record the consent given by this person now")
    basis.add_argument("--statutory-duty", metavar="JUSTIFICATION",
                       help="child welfare only: the duty to report, with a justification")
    p.add_argument("--relation", choices=["mother", "father", "other"],
                   help="the guardian's relation (with --giver guardian)")
    p.add_argument("--how", default="written", choices=["written", "verbal", "digital"])
    p.add_argument("--purpose", default="henvisning")
    p.add_argument("--scope", default="opplysninger i henvisningen med vedlegg")
    p.add_argument("--parent-conversation", type=datetime.date.fromisoformat,
                   help="YYYY-MM-DD (PPT: required)")
    p.add_argument("--action-log", help="tiltakslogg file (PPT: required)")
    p.add_argument("--attach", action="append", default=[], help="a document (repeatable)")
    args = p.parse_args()

    with connect(args) as c:
        consent_id = args.consent_id
        if args.giver:
            consent = c.consents.record(args.subject, giver=args.giver,
                                        giver_relation=args.relation, recipient=args.to,
                                        purpose=args.purpose, scope=args.scope,
                                        method=args.how)
            consent_id = consent.id
            print("recorded consent %s" % consent_id)
        ids = []
        if args.action_log:
            ids.append(c.referrals.upload_attachment(args.action_log, kind="action_log").id)
        for path in args.attach:
            info = c.referrals.upload_attachment(path)
            print("uploaded %s (%d bytes, sha256 %s)" % (info.filename, info.size,
                                                         info.sha256.hex()))
            ids.append(info.id)
        ref = c.referrals.send(args.to, args.subject, args.reason, consent_id=consent_id,
                               statutory_duty=args.statutory_duty,
                               parent_conversation_date=args.parent_conversation,
                               attachment_ids=ids)
        print("sent referral %s to %s: %s" % (
            ref.id, ref.recipient_agency,
            budstikke.enum_name(referral_pb2.ReferralStatus, ref.status, "REFERRAL_STATUS_")))
    return 0


if __name__ == "__main__":
    run(main)
