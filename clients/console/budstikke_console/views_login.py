"""Login, logout and the start page."""

from flask import abort, g, redirect, render_template, request, url_for

from budstikke_console.app import ctx, _nav
from budstikke_console.auth import LoginError


def register(app):
    @app.get("/logg-inn", endpoint="login")
    def login():
        if g.person:
            return redirect(url_for("home"), code=303)
        return render_template("login.html", title="Logg inn")

    @app.get("/logg-inn/start", endpoint="login_start")
    def login_start():
        c = ctx()
        sid = c["store"].create()
        sess = c["store"].get(sid)
        target = c["login"].start(sess)
        resp = redirect(target, code=303)
        c["set_cookie"](resp, sid)
        return resp

    @app.get("/logg-inn/tilbake", endpoint="login_callback")
    def login_callback():
        c = ctx()
        if g.sess is None:
            c["metrics"].logins.labels("no_session").inc()
            return redirect(url_for("login"), code=303)
        try:
            person = c["login"].finish(g.sess, request.args.to_dict())
        except LoginError as e:
            c["metrics"].logins.labels("refused").inc()
            c["log"].warning("login refused", extra={"fields": {"reason": str(e)}})
            c["store"].delete(g.sid)
            return render_template("error.html", title="Innloggingen mislyktes",
                                   message="Innloggingen kunne ikke fullføres. Prøv igjen."), 403
        # A fresh session id after login (no session fixation).
        c["store"].delete(g.sid)
        sid = c["store"].create()
        new = c["store"].get(sid)
        new["person"] = {"agency": person.agency, "role": person.role, "user": person.user}
        c["metrics"].logins.labels("ok").inc()
        resp = redirect(url_for("home"), code=303)
        c["set_cookie"](resp, sid)
        return resp

    @app.post("/logg-ut", endpoint="logout")
    def logout():
        c = ctx()
        c["store"].delete(g.sid)
        resp = redirect(url_for("login"), code=303)
        resp.delete_cookie(c["cookie"], path="/", secure=c["cfg"].secure_cookies,
                           httponly=True, samesite="Lax")
        return resp

    @app.get("/", endpoint="home")
    def home():
        items = _nav(g.person["role"])
        if not items:
            abort(403)
        return redirect(url_for(items[0][0]), code=303)
