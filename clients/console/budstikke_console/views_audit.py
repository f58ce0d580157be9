"""The auditor's pages (log search, subject access report, verification) and the
operator's directory list. A national id is only ever posted in a form body, never
put in a URL."""

import datetime as _dt

import budstikke
from flask import make_response, render_template, request

from budstikke_console import texts
from budstikke_console.app import api, ctx, require_role

_MAX_ROWS = 500


def _time(value: str, name: str, errors: dict):
    if not value:
        return None
    try:
        return _dt.datetime.fromisoformat(value).replace(tzinfo=_dt.timezone.utc)
    except ValueError:
        errors[name] = "Skriv tidspunktet som ÅÅÅÅ-MM-DD eller ÅÅÅÅ-MM-DDTTT:MM."
        return None


def audit_query():
    require_role("auditor")
    form = request.form if request.method == "POST" else {}
    errors, rows = {}, None
    if request.method == "POST":
        since = _time(form.get("since", ""), "since", errors)
        until = _time(form.get("until", ""), "until", errors)
        if not errors:
            try:
                rows = []
                for r in api().audit.events(
                        subject=form.get("subject", "").strip(),
                        actor_agency=form.get("actor_agency", "").strip(),
                        actor_user=form.get("actor_user", "").strip(),
                        action=form.get("action", "").strip(), since=since, until=until,
                        page_size=100):
                    rows.append(r.event)
                    if len(rows) >= _MAX_ROWS:
                        break
            except budstikke.InvalidArgument:
                errors["subject"] = "Fødselsnummeret er ikke gyldig."
                rows = None
    return render_template("audit_query.html", title="Søk i loggen", form=form,
                           errors=errors, rows=rows), 400 if errors else 200


def audit_report():
    require_role("auditor")
    errors, entries, form = {}, None, request.form if request.method == "POST" else {}
    if request.method == "POST":
        subject = form.get("subject", "").strip()
        if not subject:
            errors["subject"] = "Skriv barnets fødselsnummer."
        else:
            try:
                entries = api().audit.subject_access_report(subject)
            except budstikke.InvalidArgument:
                errors["subject"] = "Fødselsnummeret er ikke gyldig."
    return render_template("audit_report.html", title="Innsyn i logg", errors=errors,
                           entries=entries, form=form), 400 if errors else 200


def audit_report_pdf():
    """POST subject (in the body, never the URL): the same report as a PDF download."""
    require_role("auditor")
    subject = request.form.get("subject", "").strip()
    try:
        entries = api().audit.subject_access_report(subject) if subject else None
    except budstikke.InvalidArgument:
        entries = None
    if entries is None:
        return render_template("audit_report.html", title="Innsyn i logg", form={},
                               errors={"subject": "Fødselsnummeret er ikke gyldig."},
                               entries=None), 400
    from budstikke_console import report_pdf  # ReportLab only when a PDF is asked for
    resp = make_response(report_pdf.render(entries))
    resp.headers["Content-Type"] = "application/pdf"
    resp.headers["Content-Disposition"] = 'attachment; filename="innsyn-i-logg.pdf"'
    return resp


def register(app):
    app.add_url_rule("/revisjon", "audit_query", audit_query, methods=["GET", "POST"])
    app.add_url_rule("/revisjon/innsyn", "audit_report", audit_report,
                     methods=["GET", "POST"])
    app.add_url_rule("/revisjon/innsyn.pdf", "audit_report_pdf", audit_report_pdf,
                     methods=["POST"])

    @app.get("/revisjon/verifisering", endpoint="audit_verify")
    def audit_verify():
        require_role("auditor")
        c = api()
        result = {"ok": False}
        try:
            cp = c.audit.verify_checkpoint(ctx()["cfg"].audit_verifier_key)
            result = {"ok": True, "origin": cp.origin, "size": cp.size,
                      "root": cp.root_hash.hex()}
            if cp.size > 0:
                ev = c.audit.verify_event(cp.size - 1, cp)
                result["last_index"] = cp.size - 1
                result["last_checked"] = bool(ev)
        except budstikke.VerificationError as e:
            result["error"] = str(e)
        return render_template("audit_verify.html", title="Verifisering av loggen", r=result)

    @app.get("/admin/virksomheter", endpoint="admin_directory")
    def admin_directory():
        require_role("admin")
        agencies = sorted(api().agencies.iter(page_size=100), key=lambda a: a.id)
        return render_template("admin_directory.html", title="Virksomheter",
                               agencies=agencies, names={a.id: a.name for a in agencies},
                               bup=texts.AGENCY_TYPE_BUP,
                               saved="Akuttenheten er lagret." if request.args.get("lagret")
                               else None)
