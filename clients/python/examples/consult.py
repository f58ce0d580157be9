#!/usr/bin/python3
"""Ask an anonymous consultation (anonym drøfting) and wait for the answer.

Example (as kindergarten staff):
    consult.py --to bup-oslo --age-band 3-5 --concern sleep \\
        --text "Barnet sover dårlig og er trøtt hele dagen." --wait 60
"""

import os
import sys

try:
    import budstikke
except ImportError:  # running from the source tree: use ../budstikke
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import budstikke
from budstikke.pb import consultation_pb2, inbox_pb2, types_pb2  # noqa: E402
from _common import connect, parser, run  # noqa: E402


def main():
    p = parser(__doc__.split("\n\n")[0])
    to = p.add_mutually_exclusive_group(required=True)
    to.add_argument("--to", help="recipient agency id, e.g. bup-oslo")
    to.add_argument("--to-type", choices=["bup", "ppt", "child_welfare"],
                    help="route to the agency of this type in --municipality")
    p.add_argument("--municipality", default="", help="four digits, e.g. 0301")
    p.add_argument("--age-band", required=True,
                   choices=["0-2", "3-5", "6-9", "10-12", "13-15", "16-17"])
    p.add_argument("--concern", action="append", required=True,
                   help="sleep, nutrition, injury, behaviour, language, social, "
                        "family_conflict, suspected_violence, suspected_neglect, "
                        "suspected_sexual_abuse, other (repeatable)")
    p.add_argument("--text", required=True, help="the worry, without identifying the child")
    p.add_argument("--question", action="append", default=[], help="a question (repeatable)")
    p.add_argument("--ack", type=int, action="append", default=[],
                   help="acknowledge a WARN finding id (see the check printed first)")
    p.add_argument("--wait", type=float, default=0,
                   help="seconds to wait for the answer via the inbox")
    args = p.parse_args()

    with connect(args) as c:
        screened = "\n".join([args.text] + args.question)
        check = c.consultations.check_text(screened)
        for f in check.findings:
            print("finding %d: %s %s at bytes %d-%d" % (
                f.id, budstikke.enum_name(types_pb2.PiiKind, f.kind, "PII_KIND_"),
                budstikke.enum_name(types_pb2.Severity, f.severity, "SEVERITY_"),
                f.start, f.end))
        consultation = c.consultations.ask(
            args.text, to=args.to, to_type=args.to_type, municipality=args.municipality,
            age_band=args.age_band, concerns=args.concern, questions=args.question,
            ack=args.ack)
        print("asked %s (to %s, status %s)" % (
            consultation.id, consultation.recipient_agency,
            budstikke.enum_name(consultation_pb2.ConsultationStatus, consultation.status,
                                "CONSULTATION_STATUS_")))
        if args.wait > 0:
            for event in c.inbox.subscribe(duration=args.wait):
                if event.resource.id == consultation.id and \
                        event.type == inbox_pb2.INBOX_EVENT_TYPE_CONSULTATION_ANSWERED:
                    answered = c.consultations.get(consultation.id)
                    print("answer: %s" % answered.messages[0].text)
                    return 0
            print("no answer within %.0f s" % args.wait)
    return 0


if __name__ == "__main__":
    run(main)
