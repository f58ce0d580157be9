"""Live lists: the consultation queue and the received referrals follow the agency's
inbox with its cursor, and ask for the list again only when the inbox has a new
event of a kind that changes it.

Contract:
- Each rendered live list is a *view* in the session (a random id, its list, its
  queue tab and the inbox cursor its list reflects; at most MAX_VIEWS a session,
  the oldest forgotten). The session also keeps the newest cursor it has read.
- The page polls GET /innboks/nytt?liste=..&vis=..&visning=ID (htmx, every
  ``queue_refresh_seconds``). Each poll reads the inbox after the view's cursor
  (``inbox.read``: one Subscribe stream with a short deadline; the server does
  not audit it). No new event of the list's kinds: 204 and no List call. Else the
  list's fragment, made with one audited List.
- The console reads as the person, under its own consumer name
  ``konsoll-<user>``, and never acknowledges: it moves no one's inbox position
  (not the person's own, not a case system's).
- URLs carry only the list name, the queue tab and the random view id.
"""

import secrets
from typing import Dict, Optional

import budstikke
from budstikke.pb import inbox_pb2
from flask import abort, g, request

from budstikke_console.app import PROFESSIONAL, api, require_role

MAX_VIEWS = 20
READ_WAIT_SECONDS = 0.5

_E = inbox_pb2
KINDS = {
    # A new worry arrives; the sender closes one (it leaves the open tabs).
    "ko": {_E.INBOX_EVENT_TYPE_CONSULTATION_RECEIVED, _E.INBOX_EVENT_TYPE_CONSULTATION_CLOSED},
    # A referral arrives, is withdrawn (also by a revoked consent) or escalated.
    "henvisninger": {_E.INBOX_EVENT_TYPE_REFERRAL_RECEIVED,
                     _E.INBOX_EVENT_TYPE_REFERRAL_WITHDRAWN,
                     _E.INBOX_EVENT_TYPE_REFERRAL_ESCALATED},
}


def consumer_name(user: str) -> str:
    """The console's consumer for a person: never acknowledged, so it never has a
    position and reads exactly after the cursor it is given."""
    return ("konsoll-" + user)[:64]


def _read(client: budstikke.Client, after: int):
    return client.inbox.read(after, consumer=consumer_name(g.person["user"]),
                             wait=READ_WAIT_SECONDS)


def _session_state() -> Dict:
    return g.sess.setdefault("live", {"cursor": None, "views": {}})


def head_cursor(client: budstikke.Client, fresh: bool = False) -> Optional[int]:
    """The cursor a list fetched next reflects at least: the newest cursor this
    session has read, read up to now first if ``fresh`` or if the session has none
    yet. None if the inbox could not be read. (A cursor that is not the newest only
    costs one more List when the first poll finds events the list already has.)"""
    state = _session_state()
    if state["cursor"] is not None and not fresh:
        return state["cursor"]
    after = state["cursor"] or 0
    try:
        try:
            events = _read(client, after)
        except budstikke.InvalidArgument:  # beyond the server's inbox: start over
            after, events = 0, _read(client, 0)
    except budstikke.BudstikkeError:
        return None
    if events:
        after = events[-1].cursor
    state["cursor"] = after
    return after


def new_view(liste: str, vis: str, cursor: Optional[int]) -> str:
    """Registers a rendered list whose content reflects the inbox up to ``cursor``
    (None: unknown; the first poll reads the inbox and refreshes)."""
    views = _session_state()["views"]
    view_id = secrets.token_urlsafe(12)
    views[view_id] = {"liste": liste, "vis": vis, "cursor": cursor}
    while len(views) > MAX_VIEWS:
        del views[next(iter(views))]
    return view_id


def poll(client: budstikke.Client, liste: str, vis: str, view_id: str) -> Optional[str]:
    """Reads the inbox after the view's cursor and moves it. None: nothing new of
    the list's kinds (no List needed). Else the id of the view the list fetched
    next belongs to: the same view, or a new one if the session forgot it, its
    cursor was unknown, or beyond the server's inbox."""
    state = _session_state()
    view = state["views"].get(view_id)
    if view is not None and view["cursor"] is not None and view["liste"] == liste:
        try:
            events = _read(client, view["cursor"])
        except budstikke.InvalidArgument:
            events = None
            state["cursor"] = None
        except budstikke.BudstikkeError:
            return None  # the next poll tries again
        if events is not None:
            if events:
                view["cursor"] = events[-1].cursor
                state["cursor"] = max(state["cursor"] or 0, view["cursor"])
            if not any(e.type in KINDS[liste] for e in events):
                return None
            return view_id
    state["views"].pop(view_id, None)
    return new_view(liste, vis, head_cursor(client, fresh=True))


def register(app):
    @app.get("/innboks/nytt", endpoint="inbox_poll")
    def inbox_poll():
        """A live list's poll: 204 (nothing new, no List call) or the list's fragment."""
        require_role(*PROFESSIONAL)
        from budstikke_console import views_consult, views_referral
        liste, vis = request.args.get("liste", ""), request.args.get("vis", "")
        if liste not in KINDS or (liste == "ko" and vis not in views_consult.QUEUE_VIEWS):
            abort(404)
        view_id = poll(api(), liste, vis, request.args.get("visning", ""))
        if view_id is None:
            return "", 204
        if liste == "ko":
            return views_consult.queue(vis, view_id)
        return views_referral.received(view_id)
