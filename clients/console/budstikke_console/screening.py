"""Shows the server's screening findings (CheckText) in the text they were found in.

Findings carry byte offsets into the UTF-8 text; ``segments`` cuts the text into
plain and marked pieces for the template (which escapes them), never copying the
matched value anywhere else. ``text_digest`` ties acknowledgements to one text.
"""

import hashlib
from dataclasses import dataclass
from typing import List, Optional

from budstikke_console import texts

WARN, REFUSE = 1, 2


@dataclass
class Mark:
    finding_id: Optional[int]
    text: str
    severity: int = 0
    number: int = 0


@dataclass
class FindingView:
    id: int
    number: int
    kind: str
    severity: int


def segments(text: str, findings) -> List[Mark]:
    data = text.encode("utf-8")
    out: List[Mark] = []
    pos = 0
    for n, f in enumerate(sorted(findings, key=lambda f: f.start), start=1):
        start, end = max(f.start, pos), min(f.end, len(data))
        if start >= end:
            continue
        if start > pos:
            out.append(Mark(None, data[pos:start].decode("utf-8", "replace")))
        out.append(Mark(f.id, data[start:end].decode("utf-8", "replace"), f.severity, n))
        pos = end
    if pos < len(data):
        out.append(Mark(None, data[pos:].decode("utf-8", "replace")))
    return out


def views(findings) -> List[FindingView]:
    return [FindingView(f.id, n, texts.PII_KIND.get(f.kind, "opplysning"), f.severity)
            for n, f in enumerate(sorted(findings, key=lambda f: f.start), start=1)]


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Screened:
    """The outcome of screening one text before it is sent: the findings, the
    acknowledgements that count (ticked for this exact text), and the error to show
    at the field (None when the text may be sent)."""
    check: object
    acks: List[int]
    error: Optional[str]
    field: str


REFUSED_MESSAGE = "Teksten kan identifisere barnet. Fjern det som er markert før du sender."
UNACKED_MESSAGE = "Sjekk det som er markert, og kryss av for hvert funn før du sender."


def screen(client, text: str, form, text_field: str = "text") -> Screened:
    """Screens ``text`` with the server's CheckText. A REFUSE finding blocks it; every
    WARN finding needs a tick (form field ``ack``) given for this text (``digest``)."""
    check = client.consultations.check_text(text)
    if any(f.severity == REFUSE for f in check.findings):
        return Screened(check, [], REFUSED_MESSAGE, text_field)
    warns = {f.id for f in check.findings if f.severity == WARN}
    acks = {int(a) for a in form.getlist("ack") if a.isdigit()}
    if form.get("digest") != text_digest(text):
        acks = set()
    if not warns <= acks:
        return Screened(check, [], UNACKED_MESSAGE, "ack")
    return Screened(check, sorted(acks & warns), None, "")


def template_args(text: str, check, form) -> dict:
    """What the screening macros need (macros.html: screening_result, ack_fieldset)."""
    findings = list(check.findings) if check is not None else []
    return {"marks": segments(text, findings) if findings else [],
            "findings": views(findings),
            "refused": any(f.severity == REFUSE for f in findings),
            "digest": text_digest(text),
            "acked": {int(a) for a in form.getlist("ack") if a.isdigit()}}
