"""Acceptance tests of the web console in a real browser (headless Chromium) against
a real budstikke-server. The tests run in file order and share one server, console
and IdP: the story of issue 22, then security, accessibility and keyboard checks.

Only synthetic national ids (month + 80) are used; CANARY is the one written into a
worry and used as the referral's child, and must never show up in a URL or a log.
"""

import re
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

import sdk_support_ids
from pages import (Visits, axe_violations, click_and_wait, click_id, login, press, tab_to,
                   text_of, wait_for)

CANARY = sdk_support_ids.child_id(7, 611)
ANSWER = "Takk for en grundig beskrivelse. Vi anbefaler en samtale med foreldrene først."
FOLLOW_UP = "Takk. Vi tar samtalen med foreldrene denne uken og melder tilbake."
URGENT_REASON = "Akutt: gutten har sluttet å spise og sier at han ikke vil leve."
THREAD_TEXT = "Vi kaller inn til vurdering i dag. Fastlegen kontaktes ved behov."
VISITS = Visits()
STATE = {}


def worry_text(with_id):
    ident = " Fødselsnummeret er %s." % CANARY if with_id else ""
    return ("Gutten har sovet dårlig i flere uker og er sliten i barnehagen. "
            "Han sier at han heter Ola Nordmann." + ident + " Hva bør vi gjøre?")


def fresh(driver):
    """The same browser with no cookies: the next person logs in on it."""
    driver.delete_all_cookies()
    return driver


def marked(d, mark):
    """The text a <mark> highlights (without its screen-reader suffix)."""
    return d.execute_script("return arguments[0].firstChild.nodeValue", mark)


def fill_worry(d, text):
    Select(d.find_element(By.ID, "age_band")).select_by_value("6-9")
    box = d.find_element(By.ID, "concerns")
    if not box.is_selected():
        box.click()
    area = d.find_element(By.ID, "text")
    area.clear()
    area.send_keys(text)
    click_id(d, "send")


def list_calls(server, user, action):
    """How many audited List calls ``user`` made (``action``, e.g. consultation.list),
    once the audit log has settled (events reach it within 2 s)."""
    time.sleep(2.5)
    with server.client("auditor") as aud:
        return sum(1 for _ in aud.audit.events(actor_user=user, action=action))


def polls(console, status):
    """How many live-list polls (/innboks/nytt) the console answered with ``status``."""
    m = re.search(r'budstikke_console_requests_total\{route="/innboks/nytt",status="%d"\} '
                  r'([0-9.]+)' % status, _http(console.url + "/metrics")[2])
    return int(float(m.group(1))) if m else 0


# -- 1. the anonymous consultation story -------------------------------------------

def test_consultation_story(console, server, browsers):
    staff, clin = browsers(), browsers()
    STATE["staff"], STATE["clinician"] = staff, clin
    login(clin, console.url, "terapeut1", VISITS)
    assert clin.current_url == console.url + "/ko"
    before = clin.find_elements(By.CSS_SELECTOR, "#ko tbody tr")
    lists_at_start = list_calls(server, "terapeut1", "consultation.list")
    assert lists_at_start == 1  # the page itself
    login(staff, console.url, "kari", VISITS)
    assert staff.current_url == console.url + "/drofting"
    VISITS.check(staff, "mine-droftinger")
    staff.get(console.url + "/drofting/ny")
    VISITS.check(staff, "ny-drofting")

    fill_worry(staff, worry_text(with_id=True))
    refused = staff.find_elements(By.CSS_SELECTOR, "mark.refuse")
    assert [marked(staff, m) for m in refused] == [CANARY]
    assert "Teksten kan ikke sendes" in text_of(staff, "funn-tittel")
    assert staff.find_elements(By.NAME, "ack") == []  # nothing to tick: it cannot go
    assert staff.current_url == console.url + "/drofting/ny"
    VISITS.check(staff, "screening-avvist")

    fill_worry(staff, worry_text(with_id=False))
    warned = staff.find_elements(By.CSS_SELECTOR, "mark.warn")
    assert len(warned) >= 1 and "Ola Nordmann" in [marked(staff, m) for m in warned]
    acks = staff.find_elements(By.NAME, "ack")
    assert len(acks) == len(warned)
    VISITS.check(staff, "screening-advarsel")
    # Sending without the ticks is refused again.
    click_id(staff, "send")
    assert staff.current_url == console.url + "/drofting/ny"
    assert "kryss av for hvert funn" in text_of(staff, "feiloppsummering")
    for box in staff.find_elements(By.NAME, "ack"):
        box.click()
    # The open queue polled the inbox all along (every second here) and, with nothing
    # new in it, never asked for the list again.
    idle_polls = polls(console, 204)
    assert idle_polls >= 3
    assert list_calls(server, "terapeut1", "consultation.list") == lists_at_start
    click_id(staff, "send")
    wait_for(lambda: "/drofting/" in staff.current_url and "/ny" not in staff.current_url)
    cid = re.search(r"/drofting/([^/?]+)", staff.current_url).group(1)
    STATE["cid"] = cid
    assert text_of(staff, "status") == "Åpen"
    VISITS.check(staff, "drofting-sendt")

    # The open queue updates in place (htmx): no reload, same page.
    assert clin.current_url == console.url + "/ko" and before == []
    clin.execute_script("window.notReloaded = true")
    wait_for(lambda: clin.find_element(By.CSS_SELECTOR, "a[href='/drofting/%s']" % cid),
             what="the new worry to appear in the open queue")
    assert clin.execute_script("return window.notReloaded") is True
    # One new event, one List; later polls find nothing new again.
    assert list_calls(server, "terapeut1", "consultation.list") == lists_at_start + 1
    assert polls(console, 200) == 1 and polls(console, 204) > idle_polls
    VISITS.check(clin, "droftingsko")
    clin.get(console.url + "/drofting/" + cid)
    assert "Ola Nordmann" in text_of(clin, "tekst")
    click_id(clin, "ta")
    wait_for(lambda: text_of(clin, "status") == "Tatt av behandler")
    VISITS.check(clin, "drofting-tatt")
    clin.get(console.url + "/ko?vis=mine")
    assert len(clin.find_elements(By.CSS_SELECTOR, "a[href='/drofting/%s']" % cid)) == 1
    clin.get(console.url + "/ko?vis=apne")
    assert clin.find_elements(By.CSS_SELECTOR, "a[href='/drofting/%s']" % cid) == []
    clin.get(console.url + "/drofting/" + cid)
    clin.find_element(By.ID, "svar").send_keys(ANSWER)
    click_id(clin, "send-svar")
    wait_for(lambda: text_of(clin, "status") == "Besvart")

    staff.get(console.url + "/drofting/" + cid)
    assert text_of(staff, "status") == "Besvart"
    answers = [e.text for e in staff.find_elements(By.CSS_SELECTOR, ".answer")]
    assert answers == [ANSWER]
    VISITS.check(staff, "drofting-besvart")

    # A follow-up (AddMessage), screened like the worry: a phone number blocks it.
    staff.find_element(By.ID, "message").send_keys(FOLLOW_UP + " Ring meg på 912 34 567.")
    click_id(staff, "send-melding")
    assert [marked(staff, m) for m in staff.find_elements(By.CSS_SELECTOR, "mark.refuse")] \
        == ["912 34 567"]
    assert text_of(staff, "message-feil") == ("Teksten kan identifisere barnet. Fjern det som "
                                              "er markert før du sender.")
    VISITS.check(staff, "oppfolging-avvist")
    box = staff.find_element(By.ID, "message")
    box.clear()
    box.send_keys(FOLLOW_UP)
    click_id(staff, "send-melding")
    wait_for(lambda: len(staff.find_elements(By.CSS_SELECTOR, ".answer")) == 2)
    assert [e.text for e in staff.find_elements(By.CSS_SELECTOR, ".answer")] == \
        [ANSWER, FOLLOW_UP]
    assert text_of(staff, "status") == "Besvart"
    VISITS.check(staff, "drofting-oppfolging")
    clin.get(console.url + "/drofting/" + cid)
    assert [e.text for e in clin.find_elements(By.CSS_SELECTOR, ".answer")] == \
        [ANSWER, FOLLOW_UP]


# -- 2. referral: acknowledge, decide, and the auditor's subject access report -------

def test_referral_story_urgent_first(console, server, browsers):
    """Acceptance 2: a normal referral arrives first, an urgent one later; the urgent
    one (routed from BUP Oslo to its acute unit: the child is not a patient there) is
    listed first. The acute unit's clinician acknowledges and decides, writes on the
    thread and invites the clinic; the auditor finds these reads in the subject access
    report, each naming the clinician, not the console."""
    clin = fresh(STATE["clinician"])
    login(clin, console.url, "vakt1", VISITS)
    clin.get(console.url + "/henvisninger")
    assert text_of(clin, "ingen-henvisninger") == "Ingen henvisninger."
    clin.execute_script("window.notReloaded = true")
    lists = list_calls(server, "vakt1", "referral.list")
    assert lists == 1  # the page itself; its polls (2 s of them) asked for no list
    with server.client("gp-physician") as gp:
        con = gp.consents.record(CANARY, giver="guardian", giver_relation="mother",
                                 recipients=["bup-oslo", "bup-oslo-akutt"],
                                 purpose="henvisning til BUP", scope="bekymring og tiltak",
                                 method="written")
        normal = gp.referrals.send("bup-oslo-akutt", CANARY, "Søvnvansker og uro over tid.",
                                   consent_id=con.id)
        urgent = gp.referrals.send("bup-oslo", CANARY, URGENT_REASON, consent_id=con.id,
                                   urgent=True)
    assert (urgent.recipient_agency, urgent.requested_recipient, urgent.routed_reason) == \
        ("bup-oslo-akutt", "bup-oslo", "urgent.not_a_patient")
    assert (urgent.create_time.seconds, urgent.create_time.nanos) > \
        (normal.create_time.seconds, normal.create_time.nanos)
    # Both appear without a reload (the page polls the inbox every second here and
    # asks for the list when a referral arrived: once or twice for two).
    wait_for(lambda: len(clin.find_elements(By.CSS_SELECTOR, "#henvisninger tbody tr")) == 2,
             what="the two referrals to appear in the list")
    assert clin.execute_script("return window.notReloaded") is True
    assert list_calls(server, "vakt1", "referral.list") - lists in (1, 2)
    # Read in one go: the list may be swapped in place meanwhile.
    rows = clin.execute_script(
        "return [...document.querySelectorAll('#henvisninger tbody tr')].map(tr => "
        "[tr.querySelector('a').getAttribute('href'), "
        "...[...tr.querySelectorAll('td')].map(td => td.innerText.trim())])")
    assert [r[0] for r in rows] == ["/henvisninger/" + urgent.id, "/henvisninger/" + normal.id]
    first, second = rows[0][1:], rows[1][1:]
    assert first[0] == "Haster" and second[0] == "Vanlig"  # a word, not a colour only
    assert first[2] == second[2] == "lege1, lege (Sentrum legekontor)"
    assert first[3] == ("BUP Oslo\nHaster: barnet er ikke pasient ved klinikken, så den "
                        "gikk til klinikkens akuttenhet.")
    assert second[3] == "BUP Oslo akuttenhet"
    assert first[4] == second[4] == "Sendt"
    VISITS.check(clin, "henvisninger")
    clin.get(console.url + rows[0][0])  # the urgent one
    assert text_of(clin, "prioritet") == "Haster"
    assert text_of(clin, "henvist-av") == text_of(clin, "signert-av") == \
        "lege1, lege (Sentrum legekontor)"
    assert (text_of(clin, "sendt-til"), text_of(clin, "mottaker")) == \
        ("BUP Oslo", "BUP Oslo akuttenhet")
    assert text_of(clin, "rutet").startswith("Haster: barnet er ikke pasient")
    assert text_of(clin, "status") == "Sendt"
    assert text_of(clin, "ingen-meldinger") == "Ingen meldinger ennå."
    VISITS.check(clin, "henvisning")
    click_id(clin, "bekreft")
    wait_for(lambda: text_of(clin, "status") == "Mottatt")
    assert text_of(clin, "bekreftet-av") == "vakt1, behandler (BUP Oslo akuttenhet)"
    clin.find_element(By.ID, "decision").click()  # accept
    click_id(clin, "beslutt")
    wait_for(lambda: text_of(clin, "status") == "Tatt inn")
    assert text_of(clin, "besluttet-av") == "vakt1, behandler (BUP Oslo akuttenhet)"
    # The thread: an empty message is refused at the field; a real one is posted.
    click_id(clin, "send-melding")
    assert text_of(clin, "message-feil") == "Skriv en melding."
    clin.find_element(By.ID, "message").send_keys(THREAD_TEXT)
    click_id(clin, "send-melding")
    wait_for(lambda: clin.find_elements(By.CSS_SELECTOR, "#meldinger .thread-text"))
    assert [e.text for e in clin.find_elements(By.CSS_SELECTOR, "#meldinger .thread-text")] \
        == [THREAD_TEXT]
    assert "vakt1, behandler (BUP Oslo akuttenhet)" in text_of(clin, "meldinger")
    # Invite: an agency the consent does not cover is refused; the clinic is invited.
    Select(clin.find_element(By.ID, "agency")).select_by_value("ppt-oslo")
    click_id(clin, "inviter")
    assert text_of(clin, "agency-feil") == ("Samtykket dekker ikke denne virksomheten. Den "
                                            "kan ikke inviteres.")
    assert clin.find_element(By.ID, "agency").get_attribute("aria-invalid") == "true"
    VISITS.check(clin, "henvisning-invitasjon-avvist")
    Select(clin.find_element(By.ID, "agency")).select_by_value("bup-oslo")
    click_id(clin, "inviter")
    wait_for(lambda: text_of(clin, "inviterte") == "BUP Oslo")
    VISITS.check(clin, "henvisning-besluttet")
    with server.client("gp-physician") as gp:
        assert [m.text for m in gp.referrals.thread(urgent.id)] == [THREAD_TEXT]
    with server.client("bup-clinician") as clinic:  # the invited clinic reads the thread
        assert [m.author.user for m in clinic.referrals.thread(urgent.id)] == ["vakt1"]

    aud = browsers()
    STATE["auditor"] = aud
    login(aud, console.url, "revisor1", VISITS)
    aud.get(console.url + "/revisjon/innsyn")
    VISITS.check(aud)
    rows = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # events reach the log within 2 s
        aud.find_element(By.ID, "subject").send_keys(CANARY)
        click_id(aud, "lag-rapport")
        rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                for tr in aud.find_elements(By.CSS_SELECTOR, "#innsyn tbody tr")]
        if any(r[3] == "inviterte en virksomhet til tråden i en henvisning" for r in rows):
            break
        time.sleep(0.3)
    VISITS.check(aud, "innsyn")
    by_clinician = [r for r in rows if r[1] == "BUP Oslo akuttenhet"]
    assert by_clinician, rows
    assert all(r[2] == "vakt1 (behandler)" for r in by_clinician)
    assert not any("console" in " ".join(r) for r in rows)
    actions = [r[3] for r in by_clinician]
    assert actions.index("bekreftet mottak av en henvisning") < \
        actions.index("tok en beslutning om en henvisning") < \
        actions.index("skrev i tråden til en henvisning") < \
        actions.index("inviterte en virksomhet til tråden i en henvisning")
    # Every page view reads the referral and its thread: the first view, after the
    # acknowledgement, the decision, the refused empty message, the message, the refused
    # and the accepted invitation.
    assert actions.count("leste en henvisning") == 7
    assert actions.count("leste tråden til en henvisning") == 7
    STATE["referral"] = urgent.id
    STATE["clinician"] = clin


def test_live_list_poll(console, server):
    """/innboks/nytt answers 204 when nothing new arrived; a view the session does not
    know gets the list (one List) under a new view id; an unknown list is 404, another
    role 403. The URL holds no content; the console never moved an inbox position."""
    clin = STATE["clinician"]  # vakt1
    clin.get(console.url + "/henvisninger")
    url = urllib.parse.urlsplit(clin.find_element(By.ID, "henvisningsliste")
                                .get_attribute("hx-get"))
    args = urllib.parse.parse_qs(url.query)
    assert url.path == "/innboks/nytt" and sorted(args) == ["liste", "visning"]
    assert args["liste"] == ["henvisninger"] and re.fullmatch(r"[A-Za-z0-9_-]{16}",
                                                              args["visning"][0])
    clin.get(console.url + "/drofting/ny")  # the browser stops polling
    jar = "__Host-budstikke=" + clin.get_cookie("__Host-budstikke")["value"]
    lists = list_calls(server, "vakt1", "referral.list")
    poll = console.url + "/innboks/nytt?"
    for _ in range(3):
        assert _http(poll + url.query, cookie=jar)[::2] == (204, "")
    status, _, page = _http(poll + "liste=henvisninger&visning=ukjent", cookie=jar)
    assert status == 200 and 'id="henvisningsliste"' in page
    again = re.search(r'hx-get="/innboks/nytt\?([^"]+)"', page).group(1).replace("&amp;", "&")
    assert "visning=ukjent" not in again
    assert _http(poll + again, cookie=jar)[::2] == (204, "")
    assert list_calls(server, "vakt1", "referral.list") == lists + 1
    assert _http(poll + "liste=annet&visning=x", cookie=jar)[0] == 404
    assert _http(poll + "liste=ko&vis=alle&visning=x", cookie=jar)[0] == 404
    aud = "__Host-budstikke=" + STATE["auditor"].get_cookie("__Host-budstikke")["value"]
    assert _http(poll + url.query, cookie=aud)[0] == 403
    status, headers, _ = _http(poll + url.query)  # no session: to the login page
    assert (status, headers["Location"]) == (303, "/logg-inn")
    with server.client("bup-acute") as c:  # vakt1: no position moved or made
        assert c.inbox.ack(0, consumer="konsoll-vakt1") == 0
        assert c.inbox.ack(0) == 0


def _post_bytes(url, data, cookie=None):
    req = urllib.request.Request(url, data=data)
    if cookie:
        req.add_header("Cookie", cookie)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_subject_access_report_as_pdf(console):
    """The report page (still showing the report) links to the same report as a PDF;
    the national id goes in the POST body, and the PDF needs the auditor's session."""
    aud = STATE["auditor"]
    button = aud.find_element(By.ID, "last-ned-pdf")
    form = button.find_element(By.XPATH, "./ancestor::form")
    assert form.get_attribute("action") == console.url + "/revisjon/innsyn.pdf"
    assert form.get_attribute("method") == "post"
    token = form.find_element(By.NAME, "csrf_token").get_attribute("value")
    jar = "__Host-budstikke=" + aud.get_cookie("__Host-budstikke")["value"]
    body = urllib.parse.urlencode({"csrf_token": token, "subject": CANARY}).encode()
    status, headers, pdf = _post_bytes(console.url + "/revisjon/innsyn.pdf", body, jar)
    assert status == 200
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == 'attachment; filename="innsyn-i-logg.pdf"'
    assert pdf.startswith(b"%PDF-")
    assert b"(Innsyn i logg)" in pdf and b"vakt1 \\(behandler\\)" in pdf
    assert CANARY.encode() not in pdf
    # No session: to the login page, no PDF. Another role: refused.
    status, headers, pdf = _post_bytes(console.url + "/revisjon/innsyn.pdf", body)
    assert (status, headers["Location"]) == (303, "/logg-inn") and not pdf.startswith(b"%PDF")
    clin = STATE["clinician"]
    clin.get(console.url + "/henvisninger")
    token = clin.find_element(By.NAME, "csrf_token").get_attribute("value")
    jar = "__Host-budstikke=" + clin.get_cookie("__Host-budstikke")["value"]
    body = urllib.parse.urlencode({"csrf_token": token, "subject": CANARY}).encode()
    status, _, pdf = _post_bytes(console.url + "/revisjon/innsyn.pdf", body, jar)
    assert status == 403 and not pdf.startswith(b"%PDF")


def test_auditor_query_verify_and_admin(console, browsers):
    aud = STATE["auditor"]
    aud.get(console.url + "/revisjon")
    VISITS.check(aud)
    aud.find_element(By.ID, "actor_user").send_keys("vakt1")
    aud.find_element(By.ID, "action").send_keys("referral.acknowledge")
    click_id(aud, "sok")
    rows = aud.find_elements(By.CSS_SELECTOR, "#treff tbody tr")
    assert len(rows) == 1
    assert "vakt1, behandler (bup-oslo-akutt) via console" in rows[0].text
    VISITS.check(aud, "logg-sok")
    aud.get(console.url + "/revisjon/verifisering")
    assert aud.find_element(By.ID, "verifisert").is_displayed()
    assert int(text_of(aud, "storrelse")) > 5
    VISITS.check(aud, "verifisering")

    admin = fresh(STATE["auditor"])
    login(admin, console.url, "drift1", VISITS)
    assert admin.current_url == console.url + "/admin/virksomheter"
    rows = admin.find_elements(By.CSS_SELECTOR, "#virksomheter tbody tr")
    assert len(rows) == 10  # the seed: 9 agencies and BUP Oslo's acute unit
    VISITS.check(admin, "virksomheter")
    STATE["admin"] = admin


def test_admin_key_status_and_rewrap_progress(console, server):
    """Read-only: the page shows what GetKeyStatus and GetRewrapProgress say."""
    with server.client("admin") as op:
        status = op.admin.key_status("bup-oslo")
        progress = op.admin.rewrap_progress("bup-oslo")
    assert status.current_version >= 1
    admin = STATE["admin"]
    link = admin.find_element(By.CSS_SELECTOR, "a[href='/admin/virksomheter/bup-oslo/nokler']")
    click_and_wait(admin, link)
    assert admin.find_element(By.TAG_NAME, "h1").text == "Nøkler for bup-oslo"
    assert text_of(admin, "gjeldende") == str(status.current_version)
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in admin.find_elements(By.CSS_SELECTOR, "#nokler tbody tr")]
    assert [r[:2] for r in rows] == [[str(v.version), {1: "i bruk", 2: "pensjonert",
                                                       3: "makulert"}[v.state]]
                                     for v in status.versions]
    assert text_of(admin, "omkryptering-tilstand") == {
        1: "ikke startet siden serveren startet", 2: "pågår", 3: "ferdig",
        4: "feilet (prøves igjen)"}[progress.state]
    assert text_of(admin, "omkryptering-flyttet") == "%d av %d" % (
        progress.records_done, progress.records_total)
    forms = [f.get_attribute("action") for f in admin.find_elements(By.TAG_NAME, "form")]
    assert forms == [console.url + "/logg-ut"]  # read-only: only the menu's logout
    VISITS.check(admin, "nokler")
    admin.get(console.url + "/admin/virksomheter/finnes-ikke/nokler")
    assert admin.title.startswith("Fant ikke siden")
    clin = STATE["clinician"]  # another role (the auditor's browser is the admin's now)
    clin.get(console.url + "/admin/virksomheter/bup-oslo/nokler")
    assert clin.title == "Ingen tilgang – Budstikke"


def test_admin_backup(console, tmp_path):
    """The operator's admin asks for an online backup into a new directory on the
    server; a relative path shows the server's refusal at the field."""
    admin = STATE["admin"]
    click_and_wait(admin, admin.find_element(By.CSS_SELECTOR, "a[href='/admin/sikkerhetskopi']"))
    assert admin.find_element(By.TAG_NAME, "h1").text == "Sikkerhetskopi"
    VISITS.check(admin)
    admin.find_element(By.ID, "dest_dir").send_keys("kopier/i-dag")
    click_id(admin, "ta-kopi")
    assert text_of(admin, "dest_dir-feil") == (
        "Serveren avviste mappen: dest_dir must be an absolute path on the server")
    assert admin.find_element(By.ID, "dest_dir").get_attribute("aria-invalid") == "true"
    assert admin.find_element(By.CSS_SELECTOR, "#feiloppsummering a").get_attribute(
        "href").endswith("#dest_dir")
    assert not admin.find_elements(By.ID, "kopi")
    VISITS.check(admin, "sikkerhetskopi-feil")
    dest = tmp_path / "sikkerhetskopi-1"
    field = admin.find_element(By.ID, "dest_dir")
    field.clear()
    field.send_keys(str(dest))
    click_id(admin, "ta-kopi")
    assert text_of(admin, "kopi-mappe") == str(dest)
    assert text_of(admin, "kopi-id") != ""
    assert re.fullmatch(r"\d\d\.\d\d\.20\d\d kl\. \d\d:\d\d", text_of(admin, "kopi-tid"))
    size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
    assert size > 0 and sorted(p.name for p in dest.iterdir())
    assert text_of(admin, "kopi-storrelse") == "{:,} byte".format(size).replace(",", " ")
    VISITS.check(admin, "sikkerhetskopi")
    # The same directory again: not empty, the server refuses.
    field = admin.find_element(By.ID, "dest_dir")
    field.clear()
    field.send_keys(str(dest))
    click_id(admin, "ta-kopi")
    assert text_of(admin, "dest_dir-feil") == (
        "Serveren avviste mappen: dest_dir %s is not empty; choose a new directory" % dest)
    clin = STATE["clinician"]
    clin.get(console.url + "/admin/sikkerhetskopi")
    assert clin.title == "Ingen tilgang – Budstikke"


def test_admin_sets_the_acute_unit(console, server):
    """The directory shows each BUP's acute unit; the operator's admin clears it and
    sets it again (UpdateAgency acute_unit), which the server then holds."""
    admin = STATE["admin"]
    admin.get(console.url + "/admin/virksomheter")
    cell = admin.find_element(By.CSS_SELECTOR, "#virksomhet-bup-oslo td.acute")
    assert cell.text.startswith("BUP Oslo akuttenhet")
    assert admin.find_element(By.CSS_SELECTOR, "#virksomhet-ppt-oslo td.acute").text == "–"
    click_id(admin, "akuttenhet-bup-oslo")
    assert admin.find_element(By.TAG_NAME, "h1").text == "Akuttenhet for BUP Oslo"
    unit = Select(admin.find_element(By.ID, "acute_unit"))
    assert unit.first_selected_option.get_attribute("value") == "bup-oslo-akutt"
    assert [o.get_attribute("value") for o in unit.options] == ["", "bup-oslo-akutt"]
    VISITS.check(admin, "akuttenhet")
    unit.select_by_value("")
    click_id(admin, "lagre")
    assert admin.current_url == console.url + "/admin/virksomheter?lagret=1"
    assert text_of(admin, "lagret") == "Akuttenheten er lagret."
    assert admin.find_element(By.CSS_SELECTOR,
                              "#virksomhet-bup-oslo td.acute").text.startswith("Ingen")
    with server.client("admin") as op:
        assert op.agencies.get("bup-oslo").acute_unit == ""
    VISITS.check(admin, "virksomheter-lagret")
    click_id(admin, "akuttenhet-bup-oslo")
    Select(admin.find_element(By.ID, "acute_unit")).select_by_value("bup-oslo-akutt")
    click_id(admin, "lagre")
    assert admin.find_element(By.CSS_SELECTOR, "#virksomhet-bup-oslo td.acute").text \
        .startswith("BUP Oslo akuttenhet")
    with server.client("admin") as op:
        assert op.agencies.get("bup-oslo").acute_unit == "bup-oslo-akutt"
    admin.get(console.url + "/admin/virksomheter/ppt-oslo/akuttenhet")  # not a BUP
    assert admin.title == "Fant ikke siden – Budstikke"
    clin = STATE["clinician"]
    clin.get(console.url + "/admin/virksomheter/bup-oslo/akuttenhet")
    assert clin.title == "Ingen tilgang – Budstikke"


# -- 3. security ---------------------------------------------------------------------

def _http(url, data=None, cookie=None):
    req = urllib.request.Request(url, data=data)
    if cookie:
        req.add_header("Cookie", cookie)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def test_no_session_redirects_to_login(console):
    for path in ("/", "/drofting", "/drofting/ny", "/ko", "/revisjon", "/drofting/x"):
        status, headers, _ = _http(console.url + path)
        assert (status, headers["Location"]) == (303, "/logg-inn"), path
    status, headers, _ = _http(console.url + "/drofting/ny", data=b"text=x")
    assert (status, headers["Location"]) == (303, "/logg-inn")


def test_login_with_a_forged_callback_is_refused(console, idp):
    status, headers, _ = _http(console.url + "/logg-inn/start")
    assert status == 303 and headers["Location"].startswith(idp.issuer + "/authorize?")
    jar = headers["Set-Cookie"].split(";")[0]
    assert jar.startswith("__Host-budstikke=")
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(headers["Location"]).query)["state"][0]
    tokens_before = idp.token_requests
    status, _, page = _http(console.url + "/logg-inn/tilbake?code=x&state=forged", cookie=jar)
    assert status == 403 and "Innloggingen mislyktes" in page
    # The pending login is gone: the right state no longer works either.
    status, headers, _ = _http(console.url + "/logg-inn/tilbake?code=x&state=" + state,
                               cookie=jar)
    assert (status, headers["Location"]) == (303, "/logg-inn")
    assert idp.token_requests == tokens_before  # no code was ever redeemed


def test_post_without_csrf_token_is_refused(console):
    staff = STATE["staff"]
    cookie = staff.get_cookie("__Host-budstikke")
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    jar = "__Host-budstikke=" + cookie["value"]
    cid = STATE["cid"]
    for body in (b"", b"csrf_token=wrong"):
        status, _, page = _http(console.url + "/drofting/%s/lukk" % cid, body, jar)
        assert status == 400 and "Ugyldig foresp" in page
    # The new forms too (before any role or id check).
    for path in ("/drofting/%s/melding" % cid, "/henvisninger/%s/melding" % STATE["referral"],
                 "/henvisninger/%s/inviter" % STATE["referral"],
                 "/admin/virksomheter/bup-oslo/akuttenhet"):
        status, _, page = _http(console.url + path, b"message=x&agency=bup-oslo", jar)
        assert status == 400 and "Ugyldig foresp" in page, path
    # Nothing happened: still answered, not closed; and a real token works.
    staff.get(console.url + "/drofting/" + cid)
    assert text_of(staff, "status") == "Besvart"
    token = staff.find_element(By.NAME, "csrf_token").get_attribute("value")
    status, headers, _ = _http(console.url + "/drofting/%s/lukk" % cid,
                               ("csrf_token=" + token).encode(), jar)
    assert (status, headers["Location"]) == (303, "/drofting/" + cid)
    staff.get(console.url + "/drofting/" + cid)
    assert text_of(staff, "status") == "Lukket"


def test_other_agency_sees_the_same_page_as_for_a_made_up_id(console, browsers):
    ppt = fresh(STATE["auditor"])
    login(ppt, console.url, "psykolog1", VISITS)
    ppt.get(console.url + "/drofting/" + STATE["cid"])
    other = ppt.page_source
    title = ppt.title
    ppt.get(console.url + "/drofting/c-made-up-0000000000000000")
    assert ppt.page_source == other
    assert title == ppt.title == "Fant ikke siden – Budstikke"
    VISITS.check(ppt, "ikke-funnet")
    for rid in (STATE["referral"], "r-made-up-000000"):
        ppt.get(console.url + "/henvisninger/" + rid)
        assert ppt.title == "Fant ikke siden – Budstikke"


def test_browser_enforces_the_csp(console):
    """An injected inline script does not run, and the browser reports it (which is
    how test_no_content_security_policy_violation would see a real one)."""
    d = STATE["staff"]
    d.get(console.url + "/drofting")
    d.get_log("browser")  # drain
    d.execute_script("const s = document.createElement('script');"
                     "s.textContent = 'window.injected = 1';"
                     "document.head.appendChild(s);")
    assert d.execute_script("return window.injected === undefined") is True
    messages = [e["message"] for e in d.get_log("browser")]
    assert any("Content Security Policy" in m for m in messages), messages


def test_headers_health_and_metrics(console):
    status, headers, body = _http(console.url + "/logg-inn")
    assert status == 200
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in csp  # nothing from another origin
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"
    assert _http(console.url + "/healthz")[:3:2] == (200, '{"status":"ok"}\n')
    status, _, metrics = _http(console.url + "/metrics")
    assert status == 200
    assert re.search(r'budstikke_console_logins_total\{outcome="ok"\} [1-9]', metrics)
    assert 'route="/drofting/<cid>"' in metrics


def test_logout_ends_the_session(console):
    staff = STATE["staff"]
    staff.get(console.url + "/drofting")
    old = "__Host-budstikke=" + staff.get_cookie("__Host-budstikke")["value"]
    click_and_wait(staff, staff.find_element(By.CSS_SELECTOR, "form[action='/logg-ut'] button"))
    wait_for(lambda: staff.current_url.endswith("/logg-inn"))
    status, headers, _ = _http(console.url + "/drofting", cookie=old)
    assert (status, headers["Location"]) == (303, "/logg-inn")


# -- 4. keyboard ---------------------------------------------------------------------

def test_keyboard_only_worry(console):
    d = fresh(STATE["staff"])
    login(d, console.url, "kari")
    d.get(console.url + "/drofting/ny")
    press(d, Keys.TAB)
    assert d.execute_script("return document.activeElement.textContent") == \
        "Hopp til hovedinnhold"
    tab_to(d, "age_band")
    press(d, Keys.DOWN, Keys.DOWN)  # 3–5 år
    tab_to(d, "concerns-behaviour")
    press(d, Keys.SPACE)
    tab_to(d, "text")
    press(d, "Jenta er urolig i samlingsstund og trekker seg unna de andre barna.")
    tab_to(d, "send")
    press(d, Keys.ENTER)
    wait_for(lambda: "/drofting/" in d.current_url and "/ny" not in d.current_url,
             what="the worry to be sent")
    assert text_of(d, "status") == "Åpen"
    assert "Atferd" in d.find_element(By.CSS_SELECTOR, ".facts").text
    # The error summary takes keyboard users to the field.
    d.get(console.url + "/drofting/ny")
    tab_to(d, "send")
    press(d, Keys.ENTER)
    wait_for(lambda: d.find_element(By.ID, "feiloppsummering"))
    link = d.find_element(By.CSS_SELECTOR, "#feiloppsummering a[href='#text']")
    tab_to_element = link.get_attribute("href")
    assert tab_to_element.endswith("#text")
    VISITS.check(d, "skjemafeil")


def test_keyboard_reaches_the_new_actions(console, server):
    """The follow-up message, the referral thread and the acute unit, by keyboard."""
    d = STATE["staff"]  # kari, logged in again by test_keyboard_only_worry
    d.get(console.url + "/drofting")
    link = d.find_element(By.CSS_SELECTOR, "#innhold table a")
    d.get(link.get_attribute("href"))
    tab_to(d, "message")
    press(d, "Hun er roligere denne uken.")
    tab_to(d, "send-melding")
    press(d, Keys.ENTER)
    wait_for(lambda: "Hun er roligere denne uken." in
             [e.text for e in d.find_elements(By.CSS_SELECTOR, ".answer")],
             what="the follow-up sent by keyboard")

    clin = STATE["clinician"]  # vakt1
    clin.get(console.url + "/henvisninger/" + STATE["referral"])
    tab_to(clin, "message", max_tabs=120)
    press(clin, "Innkalling sendt.")
    tab_to(clin, "send-melding")
    press(clin, Keys.ENTER)
    wait_for(lambda: [e.text for e in clin.find_elements(By.CSS_SELECTOR,
                                                         "#meldinger .thread-text")]
             == [THREAD_TEXT, "Innkalling sendt."], what="the thread message sent by keyboard")
    tab_to(clin, "agency", max_tabs=120)
    tab_to(clin, "inviter")

    admin = fresh(STATE["admin"])  # the PPT psychologist's browser now
    login(admin, console.url, "drift1")
    tab_to(admin, "akuttenhet-bup-oslo")
    press(admin, Keys.ENTER)
    wait_for(lambda: admin.find_element(By.TAG_NAME, "h1").text == "Akuttenhet for BUP Oslo")
    tab_to(admin, "acute_unit")
    tab_to(admin, "lagre")
    press(admin, Keys.ENTER)
    wait_for(lambda: text_of(admin, "lagret") == "Akuttenheten er lagret.")
    with server.client("admin") as op:
        assert op.agencies.get("bup-oslo").acute_unit == "bup-oslo-akutt"


# -- 4/3. accessibility and canary, over everything the tests visited ---------------

def test_axe_finds_violations_on_a_bad_page(browsers):
    """The accessibility check can fail: a page without lang, title or labels."""
    d = STATE["auditor"]
    d.get("data:text/html,<html><body><input type=text><img src=x.png></body></html>")
    rules = sorted(rule for rule, _ in axe_violations(d))
    assert rules == ["document-title", "html-has-lang", "image-alt", "label"]


def test_every_page_passes_axe_wcag21_aa():
    assert VISITS.pages >= 15
    failing = {page: v for page, v in VISITS.axe.items() if v}
    assert failing == {}


def test_no_content_security_policy_violation():
    assert VISITS.console is not None
    assert [m for m in VISITS.console if "Content Security Policy" in m] == []


def test_canary_never_in_a_url_or_a_log(console, server):
    assert VISITS.urls
    for url in VISITS.urls:
        assert CANARY not in url
    log = console.log()
    assert '"route": "/drofting/<cid>"' in log  # the log is there and structured
    assert CANARY not in log
    assert "Ola" not in log and "Nordmann" not in log
    for path in (server.out_path, server.err_path):
        with open(path, encoding="utf-8", errors="replace") as f:
            assert CANARY not in f.read()
