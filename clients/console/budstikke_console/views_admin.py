"""The operator's read-only key page: an agency's key versions (GetKeyStatus) and the
progress of the rewrap to its current key (GetRewrapProgress), through the SDK's
Admin group. Role admin only; nothing on it changes anything.

The operator's backup page /admin/sikkerhetskopi: a form that asks the server for an
online backup (CreateBackup) into a new directory on the server and shows the Backup it
returns. The server allows only the operator agency's admin; the console requires the
admin role and shows the server's refusal next to the field."""

import uuid

import budstikke
from flask import abort, redirect, render_template, request, url_for

from budstikke_console import texts
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


def _render_backup(dest_dir="", errors=None, backup=None, status=200):
    # A fresh request id per form: a resent POST returns the same backup.
    return render_template("admin_backup.html", title="Sikkerhetskopi", dest_dir=dest_dir,
                           errors=errors or {}, backup=backup,
                           request_id=str(uuid.uuid4())), status


def admin_backup():
    require_role("admin")
    if request.method == "GET":
        return _render_backup()
    dest_dir = request.form.get("dest_dir", "").strip()
    if not dest_dir:
        return _render_backup(dest_dir, {"dest_dir": "Skriv mappen på serveren som "
                                         "sikkerhetskopien skal legges i."}, status=400)
    try:
        backup = api().admin.backup(dest_dir,
                                    request_id=request.form.get("request_id") or None)
    except (budstikke.InvalidArgument, budstikke.AlreadyExists) as e:
        # The server's own words (a relative path, a directory that is not empty).
        return _render_backup(dest_dir, {"dest_dir": "Serveren avviste mappen: " +
                                         e.message}, status=400)
    return _render_backup(backup=backup)


def _render_acute(agency, units, errors=None, status=200):
    return render_template("admin_acute_unit.html", title="Akuttenhet", agency=agency,
                           units=units, errors=errors or {}), status


def admin_acute_unit(agency: str):
    """The acute unit of a BUP agency (UpdateAgency update_fields ["acute_unit"]): another
    BUP agency of the directory, or none. Only the operator's admin may set it."""
    require_role("admin")
    c = api()
    a = c.agencies.get(agency)  # NotFound: the one 404 page
    if a.type != texts.AGENCY_TYPE_BUP:
        abort(404)  # only a BUP agency has an acute unit
    units = sorted(((u.id, u.name) for u in c.agencies.iter(type="bup", page_size=100)
                    if u.id != a.id), key=lambda x: x[1])
    if request.method == "GET":
        return _render_acute(a, units)
    unit = request.form.get("acute_unit", "")
    if unit and unit not in dict(units):
        return _render_acute(a, units, {"acute_unit": "Velg en BUP fra listen."}, 400)
    try:
        c.agencies.update(agency, acute_unit=unit)
    except budstikke.InvalidArgument as e:
        return _render_acute(a, units, {"acute_unit": "Serveren avviste akuttenheten: " +
                                        e.message}, 400)
    return redirect(url_for("admin_directory", lagret=1), code=303)


def register(app):
    app.add_url_rule("/admin/virksomheter/<agency>/akuttenhet", "admin_acute_unit",
                     admin_acute_unit, methods=["GET", "POST"])
    app.add_url_rule("/admin/virksomheter/<agency>/nokler", "admin_keys", admin_keys)
    app.add_url_rule("/admin/sikkerhetskopi", "admin_backup", admin_backup,
                     methods=["GET", "POST"])
