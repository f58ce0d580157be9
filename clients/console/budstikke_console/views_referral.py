"""Received referrals: the recipient agency's professionals see urgent ones first,
acknowledge and decide, write on the referral's thread and invite an agency that the
consent covers (the server checks that: `consent.recipient_mismatch`)."""

import budstikke
from flask import g, redirect, render_template, request, url_for

from budstikke_console import live, texts
from budstikke_console.app import PROFESSIONAL, api, require_role


def sort_received(items):
    """Urgent first (PRIORITY_URGENT), then oldest first: the order a queue is worked."""
    return sorted(items, key=lambda r: (r.priority != texts.PRIORITY_URGENT,
                                        r.create_time.seconds, r.create_time.nanos))


def agency_names(client) -> dict:
    """Agency id -> display name, from the directory (open to every caller)."""
    return {a.id: a.name for a in client.agencies.iter(page_size=100)}


def _render_show(rid, errors=None, status=200, form=None):
    c = api()
    r = c.referrals.get(rid)
    thread, thread_refused = [], None
    try:
        thread = c.referrals.thread(rid)
    except budstikke.PolicyViolation as e:
        thread_refused = "; ".join(v.description for v in e.violations)
    names = agency_names(c)
    me = g.person
    is_recipient = r.recipient_agency == me["agency"]
    parties = {r.recipient_agency, r.sender_agency, r.initiating_agency, *r.invited_agencies}
    invitable = sorted(((i, n) for i, n in names.items() if i not in parties),
                       key=lambda x: x[1])
    return render_template("referral_show.html", title="Henvisning", r=r, names=names,
                           thread=thread, thread_refused=thread_refused,
                           is_recipient=is_recipient, invitable=invitable,
                           errors=errors or {}, form=form or {}), status


def received(view_id: str = ""):
    """The received referrals. The page is registered as a view of the inbox
    (live.py) before the List; it polls /innboks/nytt, which returns this list's
    fragment (``view_id`` set) only when a referral arrived, was withdrawn or
    escalated, so a new one, urgent ones first, appears without a reload."""
    c = api()
    fragment = bool(view_id)
    if not fragment:
        view_id = live.new_view("henvisninger", "", live.head_cursor(c))
    items = sort_received(c.referrals.iter(mailbox="received", page_size=100))
    template = "referral_list_fragment.html" if fragment else "referral_list.html"
    return render_template(template, title="Mottatte henvisninger", items=items,
                           names=agency_names(c), live=True, view_id=view_id)


def register(app):
    @app.get("/henvisninger", endpoint="referral_list")
    def referral_list():
        require_role(*PROFESSIONAL)
        return received()

    @app.get("/henvisninger/<rid>", endpoint="referral_show")
    def referral_show(rid):
        require_role(*PROFESSIONAL)
        return _render_show(rid)

    @app.post("/henvisninger/<rid>/bekreft", endpoint="referral_ack")
    def referral_ack(rid):
        require_role(*PROFESSIONAL)
        api().referrals.acknowledge(rid)
        return redirect(url_for("referral_show", rid=rid), code=303)

    @app.post("/henvisninger/<rid>/beslutning", endpoint="referral_decide")
    def referral_decide(rid):
        require_role(*PROFESSIONAL)
        decision = request.form.get("decision", "")
        reason = request.form.get("reason", "").strip()
        errors = {}
        if decision not in dict(texts.DECISIONS):
            errors["decision"] = "Velg en beslutning."
        elif decision != "accept" and not reason:
            errors["reason"] = "Skriv en begrunnelse når du avslår eller ber om mer " \
                               "informasjon."
        if errors:
            return _render_show(rid, errors, 400, request.form)
        api().referrals.decide(rid, decision, reason)
        return redirect(url_for("referral_show", rid=rid), code=303)

    @app.post("/henvisninger/<rid>/melding", endpoint="referral_message")
    def referral_message(rid):
        require_role(*PROFESSIONAL)
        text = request.form.get("message", "").strip()
        if not text:
            return _render_show(rid, {"message": "Skriv en melding."}, 400, request.form)
        api().referrals.message(rid, text)
        return redirect(url_for("referral_show", rid=rid, _anchor="trad"), code=303)

    @app.post("/henvisninger/<rid>/inviter", endpoint="referral_invite")
    def referral_invite(rid):
        require_role(*PROFESSIONAL)
        agency = request.form.get("agency", "")
        if not agency:
            return _render_show(rid, {"agency": "Velg virksomheten du vil invitere."}, 400,
                                request.form)
        try:
            api().referrals.invite(rid, agency)
        except budstikke.PolicyViolation as e:
            msg = ("Samtykket dekker ikke denne virksomheten. Den kan ikke inviteres."
                   if "consent.recipient_mismatch" in e.rules else
                   "Budstikke avviste invitasjonen: " + "; ".join(
                       v.description for v in e.violations))
            return _render_show(rid, {"agency": msg}, 400, request.form)
        return redirect(url_for("referral_show", rid=rid, _anchor="trad"), code=303)
