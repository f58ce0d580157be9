"""Received referrals: the recipient agency's professionals acknowledge and decide."""

from flask import redirect, render_template, request, url_for

from budstikke_console import texts
from budstikke_console.app import PROFESSIONAL, api, require_role


def register(app):
    @app.get("/henvisninger", endpoint="referral_list")
    def referral_list():
        require_role(*PROFESSIONAL)
        items = list(api().referrals.list(mailbox="received", page_size=100))
        # Urgent first when the API carries a priority; then oldest first.
        items.sort(key=lambda r: (-getattr(r, "priority", 0), r.create_time.seconds))
        return render_template("referral_list.html", title="Mottatte henvisninger",
                               items=items)

    @app.get("/henvisninger/<rid>", endpoint="referral_show")
    def referral_show(rid):
        require_role(*PROFESSIONAL)
        r = api().referrals.get(rid)
        return render_template("referral_show.html", title="Henvisning", r=r, errors={})

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
            r = api().referrals.get(rid)
            return render_template("referral_show.html", title="Henvisning", r=r,
                                   errors=errors), 400
        api().referrals.decide(rid, decision, reason)
        return redirect(url_for("referral_show", rid=rid), code=303)
