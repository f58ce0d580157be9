"""Bokmål labels for the API's enum values and the console's fixed texts."""

import datetime as _dt

AGE_BANDS = [("0-2", "0–2 år"), ("3-5", "3–5 år"), ("6-9", "6–9 år"), ("10-12", "10–12 år"),
             ("13-15", "13–15 år"), ("16-17", "16–17 år")]
CONCERNS = [("sleep", "Søvn"), ("nutrition", "Ernæring"), ("injury", "Skader"),
            ("behaviour", "Atferd"), ("language", "Språk"), ("social", "Sosialt samspill"),
            ("family_conflict", "Konflikt i familien"),
            ("suspected_violence", "Mistanke om vold"),
            ("suspected_neglect", "Mistanke om omsorgssvikt"),
            ("suspected_sexual_abuse", "Mistanke om seksuelle overgrep"), ("other", "Annet")]
RECIPIENT_TYPES = [("bup", "BUP (barne- og ungdomspsykiatrien)"),
                   ("ppt", "PPT (pedagogisk-psykologisk tjeneste)"),
                   ("child_welfare", "Barneverntjenesten")]
CONSULTATION_STATUS = {1: "Åpen", 2: "Tatt av behandler", 3: "Besvart", 4: "Lukket"}
REFERRAL_STATUS = {1: "Sendt", 2: "Mottatt", 3: "Tatt inn", 4: "Avslått",
                   5: "Trenger mer informasjon", 6: "Trukket tilbake", 7: "Utkast",
                   8: "Returnert til den som skrev den"}
PRIORITY_URGENT = 2  # budstikke.v1.Priority PRIORITY_URGENT
PRIORITY = {1: "Vanlig", 2: "Haster"}
# Why an urgent referral went where it did (Referral.routed_reason; docs/API.md).
ROUTED_REASON = {
    "urgent.direct": "Haster: sendt direkte til mottakeren.",
    "urgent.no_acute_unit": "Haster: klinikken har ingen akuttenhet, så klinikken fikk den.",
    "urgent.not_a_patient": "Haster: barnet er ikke pasient ved klinikken, så den gikk til "
                            "klinikkens akuttenhet.",
    "urgent.known_patient.clinic_open": "Haster: barnet er pasient ved klinikken, og "
                                        "klinikken er åpen.",
    "urgent.known_patient.clinic_closed": "Haster: barnet er pasient ved klinikken, men "
                                          "klinikken er stengt, så den gikk til "
                                          "akuttenheten.",
}
PII_KIND = {1: "fødselsnummer", 2: "telefonnummer", 3: "e-postadresse", 4: "mulig navn",
            5: "dato (mulig fødselsdato)", 6: "adresse"}
ROLE = {"staff": "ansatt", "physician": "lege", "psychologist": "psykolog",
        "child_welfare_leader": "barnevernleder", "clinician": "behandler",
        "leader": "leder", "auditor": "revisor", "admin": "administrator"}
ROLE_ENUM = {1: "ansatt", 2: "lege", 3: "psykolog", 4: "barnevernleder", 5: "behandler",
             6: "revisor", 7: "administrator", 8: "leder"}
LEGAL_BASIS = {1: "samtykke", 2: "opplysningsplikt", 3: "ingen"}
OUTCOME = {1: "tillatt", 2: "avvist"}
AGENCY_TYPE = {1: "barnehage", 2: "skole", 3: "PPT", 4: "helsestasjon", 5: "fastlege",
               6: "barneverntjeneste", 7: "BUP", 8: "tilsynsmyndighet", 9: "drift"}
AGENCY_TYPE_BUP = 7  # budstikke.v1.AgencyType AGENCY_TYPE_BUP
DECISIONS = [("accept", "Ta inn"), ("reject", "Avslå"), ("need_info", "Be om mer informasjon")]

AGE_BAND_BY_ENUM = {i + 1: label for i, (_, label) in enumerate(AGE_BANDS)}
CONCERN_BY_ENUM = {i + 1: label for i, (_, label) in enumerate(CONCERNS)}

_OSLO = _dt.timezone(_dt.timedelta(hours=1))


def when(ts) -> str:
    """A protobuf Timestamp as "06.12.2026 kl. 20:15" (UTC+1), or "" when unset."""
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return ""
    t = _dt.datetime.fromtimestamp(ts.seconds, _OSLO)
    return t.strftime("%d.%m.%Y kl. %H:%M")


def concerns(values) -> str:
    return ", ".join(CONCERN_BY_ENUM.get(v, "") for v in values)


def routed(reason: str) -> str:
    """Bokmål for a routed_reason; an unknown one is shown as it is."""
    return ROUTED_REASON.get(reason, reason)


def actor(a, names=None) -> str:
    """An Actor as "lege1, lege (Sentrum legekontor)"; "" when unset."""
    if not a.user and not a.agency:
        return ""
    agency = (names or {}).get(a.agency, a.agency)
    return "%s, %s (%s)" % (a.user, ROLE_ENUM.get(a.role, ""), agency)
