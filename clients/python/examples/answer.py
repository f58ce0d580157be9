#!/usr/bin/python3
"""Answer anonymous consultations as a clinician (BUP, PPT or child welfare).

Watches the agency's inbox for new consultations, claims each one, prints it and
answers with --text (or only lists them with --dry-run). Acknowledges the
inbox events it handled, so a restart resumes where it stopped.

Example (as bup-clinician):
    answer.py --text "Prøv faste leggetider og ta kontakt igjen om tre uker." --watch 60
    answer.py --id CONSULTATION_ID --text "..."
"""

import os
import sys

try:
    import budstikke
except ImportError:  # running from the source tree: use ../budstikke
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import budstikke
from budstikke.pb import consultation_pb2, inbox_pb2  # noqa: E402
from _common import connect, parser, run  # noqa: E402


def show(c):
    concerns = ", ".join(budstikke.enum_name(consultation_pb2.Concern, x, "CONCERN_").lower()
                         for x in c.concerns)
    band = budstikke.enum_name(consultation_pb2.AgeBand, c.age_band, "AGE_BAND_")
    print("%s from %s, age %s, %s:\n  %s" % (c.id, c.sender_agency,
                                              band.replace("_", "-"), concerns, c.text))
    for q in c.questions:
        print("  ? %s" % q)


def handle(client, consultation_id, text, dry_run):
    if dry_run:
        show(client.consultations.get(consultation_id))
        return
    claimed = client.consultations.claim(consultation_id)
    show(claimed)
    answered = client.consultations.answer(consultation_id, text)
    print("answered %s" % answered.id)


def main():
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--id", help="answer this consultation instead of watching the inbox")
    p.add_argument("--text", help="the answer (screened like the question)")
    p.add_argument("--watch", type=float, default=30.0, help="seconds to watch the inbox")
    p.add_argument("--dry-run", action="store_true", help="only print new consultations")
    args = p.parse_args()
    if not args.dry_run and not args.text:
        p.error("--text is required unless --dry-run")

    with connect(args) as client:
        if args.id:
            handle(client, args.id, args.text, args.dry_run)
            return 0
        with client.inbox.subscribe(duration=args.watch) as sub:
            for event in sub:
                if event.type == inbox_pb2.INBOX_EVENT_TYPE_CONSULTATION_RECEIVED:
                    try:
                        handle(client, event.resource.id, args.text, args.dry_run)
                    except budstikke.PolicyViolation as e:  # e.g. claimed by a colleague
                        print("skipped %s: %s" % (event.resource.id, e), file=sys.stderr)
                if not args.dry_run:
                    sub.ack(event.cursor)
    return 0


if __name__ == "__main__":
    run(main)
