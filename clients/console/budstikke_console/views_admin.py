"""The operator's read-only key page: an agency's key versions (GetKeyStatus) and the
progress of the rewrap to its current key (GetRewrapProgress), through the SDK's
Admin group. Role admin only; nothing on it changes anything."""

from flask import render_template

from budstikke_console.app import api, require_role

KEY_STATE = {1: "i bruk", 2: "pensjonert", 3: "makulert"}
REWRAP_STATE = {1: "ikke startet siden serveren startet", 2: "pågår", 3: "ferdig",
                4: "feilet (prøves igjen)"}


def admin_keys(agency: str):
    require_role("admin")
    c = api()
    status = c.admin.key_status(agency)  # NotFound: the one 404 page
    progress = c.admin.rewrap_progress(agency)
    return render_template("admin_keys.html", title="Nøkler", status=status,
                           progress=progress, key_state=KEY_STATE,
                           rewrap_state=REWRAP_STATE)


def register(app):
    app.add_url_rule("/admin/virksomheter/<agency>/nokler", "admin_keys", admin_keys)
