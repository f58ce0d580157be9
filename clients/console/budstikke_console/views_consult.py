"""Anonymous consultations: staff write a worry (screened by the server) and follow
the answers; professionals of the recipient agency work the queue."""

import re

import budstikke
from flask import abort, g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from budstikke_console import live, screening, texts
from budstikke_console.app import PROFESSIONAL, WRITERS, api, require_role

QUEUE_VIEWS = {"apne": ("Åpne", ["open"]), "mine": ("Tatt av meg", ["claimed", "answered"]),
                "besvart": ("Besvart", ["answered"]), "lukket": ("Lukket", ["closed"])}


def _form_errors(form) -> dict:
    errors = {}
    if form.get("recipient_type") not in dict(texts.RECIPIENT_TYPES):
        errors["recipient_type"] = "Velg hvem du vil drøfte med."
    if not re.fullmatch(r"[0-9]{4}", form.get("municipality", "")):
        errors["municipality"] = "Skriv kommunenummeret med fire sifre, for eksempel 0301."
    if form.get("age_band") not in dict(texts.AGE_BANDS):
        errors["age_band"] = "Velg barnets alder."
    if not form.getlist("concerns") or \
            any(c not in dict(texts.CONCERNS) for c in form.getlist("concerns")):
        errors["concerns"] = "Velg minst ett tema for bekymringen."
    if not form.get("text", "").strip():
        errors["text"] = "Beskriv bekymringen."
    return errors


def _render_new(form, errors=None, check=None, status=200):
    return render_template("consult_new.html", title="Ny drøfting", form=form,
                           errors=errors or {},
                           **screening.template_args(form.get("text", ""), check, form)), status


def consult_new():
    require_role(*WRITERS)
    if request.method == "GET":
        return _render_new(MultiDict({"municipality": "0301", "recipient_type": "bup"}))[0]
    form = request.form
    errors = _form_errors(form)
    if errors:
        return _render_new(form, errors, status=400)
    text = form["text"]
    c = api()
    screened = screening.screen(c, text, form)
    if screened.error:
        return _render_new(form, {screened.field: screened.error}, screened.check, 400)
    try:
        sent = c.consultations.ask(
            text, age_band=form["age_band"], concerns=form.getlist("concerns"),
            to_type=form["recipient_type"], municipality=form["municipality"],
            ack=screened.acks)
    except budstikke.PolicyViolation as e:
        rules = {v.rule for v in e.violations}
        msg = ("Fant ingen mottaker av denne typen i kommunen." if "routing.no_recipient"
               in rules else "Drøftingen ble ikke sendt: " + "; ".join(
                   v.description for v in e.violations))
        return _render_new(form, {"recipient_type": msg}, screened.check, 400)
    return redirect(url_for("consult_show", cid=sent.id, sendt=1), code=303)


def consult_list(mailbox: str, statuses, title: str, active: str = "", mine: bool = False,
                 view_id: str = ""):
    """A list of consultations. The received ones (the queue) are live: the page is
    registered as a view of the inbox (live.py) before the List, and ``view_id``
    set means the fragment for that view's poll."""
    c = api()
    live_list = mailbox == "received"
    fragment = bool(view_id)
    if live_list and not fragment:
        view_id = live.new_view("ko", active, live.head_cursor(c))
    items = list(c.consultations.list(mailbox=mailbox, statuses=statuses, page_size=100))
    if mine:
        me = g.person
        items = [c for c in items
                 if (c.claimed_by.agency, c.claimed_by.user) == (me["agency"], me["user"])]
    items.sort(key=lambda c: c.create_time.seconds, reverse=True)
    template = "consult_queue_fragment.html" if fragment else "consult_list.html"
    return render_template(template, title=title, items=items, mailbox=mailbox,
                           views=QUEUE_VIEWS if live_list else {}, active=active,
                           live=live_list, view_id=view_id)


def queue(view: str, view_id: str = ""):
    """The agency's consultation queue, tab ``view`` (a key of QUEUE_VIEWS)."""
    label, statuses = QUEUE_VIEWS[view]
    return consult_list("received", statuses, "Drøftingskø: " + label.lower(), view,
                        mine=view == "mine", view_id=view_id)


def _render_show(c, status=200, **extra):
    """The consultation page. ``extra``: sent, answer_error, and for the follow-up
    form message (its text), message_errors and the screening arguments."""
    me = g.person
    args = {"sent": None, "answer_error": None, "message": "", "message_errors": {},
            **screening.template_args("", None, MultiDict())}
    args.update(extra)
    return render_template(
        "consult_show.html", title="Drøfting", c=c,
        is_recipient=c.recipient_agency == me["agency"],
        is_sender=c.sender_agency == me["agency"],
        claimed_by_me=c.claimed_by.user == me["user"] and
        c.claimed_by.agency == me["agency"], professional=me["role"] in PROFESSIONAL,
        **args), status


def consult_message(cid):
    """A follow-up message (AddMessage) from either side, screened like a worry: a
    REFUSE finding blocks it, each WARN finding needs a tick for this text."""
    form = request.form
    text = form.get("message", "").strip()
    c = api()
    if not text:
        return _render_show(c.consultations.get(cid), 400,
                            message_errors={"message": "Skriv en melding."})
    screened = screening.screen(c, text, form, "message")
    if screened.error:
        return _render_show(c.consultations.get(cid), 400, message=text,
                            message_errors={screened.field: screened.error},
                            **screening.template_args(text, screened.check, form))
    c.consultations.add_message(cid, text, ack=screened.acks)
    return redirect(url_for("consult_show", cid=cid, _anchor="meldinger"), code=303)


def register(app):
    app.add_url_rule("/drofting/ny", "consult_new", consult_new, methods=["GET", "POST"])

    @app.get("/drofting", endpoint="consult_sent")
    def consult_sent():
        require_role(*WRITERS)
        return consult_list("sent", [], "Sendte drøftinger")

    @app.get("/ko", endpoint="consult_queue")
    def consult_queue():
        require_role(*PROFESSIONAL)
        view = request.args.get("vis", "apne")
        if view not in QUEUE_VIEWS:
            abort(404)
        return queue(view)

    @app.get("/drofting/<cid>", endpoint="consult_show")
    def consult_show(cid):
        return _render_show(api().consultations.get(cid), sent=request.args.get("sendt"))

    @app.post("/drofting/<cid>/ta", endpoint="consult_claim")
    def consult_claim(cid):
        try:
            api().consultations.claim(cid)
        except budstikke.PolicyViolation:
            pass  # already claimed: the page shows by whom
        return redirect(url_for("consult_show", cid=cid), code=303)

    @app.post("/drofting/<cid>/svar", endpoint="consult_answer")
    def consult_answer(cid):
        text = request.form.get("text", "").strip()
        if not text:
            return _render_show(api().consultations.get(cid), 400,
                                answer_error="Skriv et svar.")
        api().consultations.answer(cid, text)
        return redirect(url_for("consult_show", cid=cid), code=303)

    app.add_url_rule("/drofting/<cid>/melding", "consult_message", consult_message,
                     methods=["POST"])

    @app.post("/drofting/<cid>/lukk", endpoint="consult_close")
    def consult_close(cid):
        api().consultations.close(cid)
        return redirect(url_for("consult_show", cid=cid), code=303)
