"""The subject access report (innsyn i logg) as a PDF, with ReportLab (Debian's
python3-reportlab; no network). render(entries) returns the PDF bytes of the same
table as the report page, in bokmål. The national id is not written into the PDF."""

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle
from xml.sax.saxutils import escape

from budstikke_console import texts

TITLE = "Innsyn i logg"
HEADINGS = ["Tid", "Virksomhet", "Person", "Hva", "Grunnlag", "Utfall"]


def rows(entries):
    """The table rows, the same cells as audit_report.html."""
    return [[texts.when(e.time), e.agency_name or e.agency,
             "%s (%s)" % (e.user, texts.ROLE_ENUM.get(e.role, "")),
             e.description or e.action, texts.LEGAL_BASIS.get(e.legal_basis, ""),
             texts.OUTCOME.get(e.outcome, "")] for e in entries]


def render(entries) -> bytes:
    styles = getSampleStyleSheet()
    cell = styles["BodyText"]
    out = io.BytesIO()
    # Uncompressed: small, and the content can be checked (and searched) as text.
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), title=TITLE, author="Budstikke",
                            leftMargin=15 * mm, rightMargin=15 * mm, pageCompression=0)
    data = [HEADINGS] + [[Paragraph(escape(str(c)), cell) for c in r] for r in rows(entries)]
    table = Table(data, repeatRows=1, colWidths=[35 * mm, 45 * mm, 50 * mm, 70 * mm,
                                                 32 * mm, 25 * mm])
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story = [Paragraph(TITLE, styles["Title"]),
             Paragraph("Logg over tilgang til barnets opplysninger", styles["Heading2"]),
             Paragraph("%d oppføringer, eldste først." % len(entries), cell), table]
    doc.build(story)
    return out.getvalue()
