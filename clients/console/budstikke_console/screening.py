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
