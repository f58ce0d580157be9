#!/usr/bin/env python3
"""Generates worry_texts.tsv and negatives.tsv (deterministic; rerun to refresh).

Markup (expanded by scanner_test.cc, which derives exact byte ranges from it):
  [[PHONE:text]] [[EMAIL:text]] [[NAME:text]] [[DATE:text]] [[ADDR:text]]
  [[ID:YYYY-MM-DD:layout]]     synthetic id (month+80); X = next digit
  [[DID:YYYY-MM-DD:layout]]    synthetic D-number (day+40, month+80)
  [[BADID:YYYY-MM-DD:layout]]  synthetic id with a wrong second check digit
  [[ID32:YYYY-MM-DD:layout]]   synthetic id valid only under the 2032 rule (first
                               check digit from remainder 1-3)
  [[DID32:YYYY-MM-DD:layout]]  the same for a synthetic D-number
  [[ACCT:YYYY-MM-DD]]          valid synthetic id written as account 4.2.5
  [[ACCT:YYYY-MM-DD:layout]]   the same with another account layout (4-2-5 groups)
One text per line; "\\n" in a line is a line break.
"""
import random

rng = random.Random(20240611)

BASES = [
    "Gutten (4 år) har vært mye lei seg etter at foreldrene gikk fra hverandre.",
    "Jenta i 2. klasse virker sliten og ukonsentrert i timene.",
    "Vi er bekymret for en gutt på 6 år som ofte kommer sulten i barnehagen.",
    "Eleven har hatt mye fravær siste måned og trekker seg unna venner.",
    "Barnet forteller om mye krangling hjemme og sover dårlig.",
    "Hun har blåmerker på armene som hun ikke vil forklare.",
    "Gutten på 9 år får raserianfall flere ganger i uka.",
    "Vi ser tegn på angst hos en jente på 12 år, særlig før prøver.",
    "Barnet har sluttet å spise lunsj sammen med de andre.",
    "Foreldrene har ikke møtt til de to siste foreldresamtalene.",
    "Eleven sier hun ikke vil hjem etter skolen.",
    "Gutten har vært utagerende mot andre barn i friminuttene.",
    "Jenta på 14 år har begynt å skade seg selv, ifølge venninner.",
    "Vi lurer på om vi bør sende bekymringsmelding eller drøfte videre.",
    "Barnet virker redd når far henter i barnehagen.",
    "Det er mistanke om rusbruk hos en av foreldrene.",
    "Gutten på 3 år har svært lite språk og leker mest alene.",
    "Jenta har gått ned mye i vekt det siste halve året.",
    "Eleven har mistet motivasjonen og sier at ingenting betyr noe.",
    "Vi trenger råd om hvordan vi skal ta opp bekymringen med foreldrene.",
    "Barnet kommer ofte for sent og har ikke med matpakke.",
    "Hun gråter mye og vil ikke delta i samlingsstund.",
    "Gutten har mange konflikter med jevnaldrende og blir lett sint.",
    "Det har vært flere episoder med vold mellom foreldrene, ifølge barnet.",
    "Eleven har sterk skolevegring og har vært borte i tre uker.",
    "Jenta på 10 år forteller at hun passer småsøsknene alene om kveldene.",
    "Barnet har uforklarlige magesmerter og hodepine nesten hver dag.",
    "Vi er usikre på om dette er en sak for PPT eller BUP.",
    "Gutten har en ADHD-diagnose, men vi ser en klar forverring i høst.",
    "Familien har nylig flyttet hit og barnet har ingen venner ennå.",
    "Læreren har lagt merke til at eleven sovner i timene.",
    "Mor virker sliten og har sagt at hun ikke orker mer.",
    "Barnet snakker mye om døden og tegner mørke tegninger.",
    "Vi har prøvd tiltak i ett år uten bedring, og ønsker en drøfting.",
    "Eleven har blitt utestengt fra vennegjengen og blir kalt stygge ting på nett.",
]

def phone_digits():
    first = rng.choice("4949923")
    return first + "".join(rng.choice("0123456789") for _ in range(7))

def fmt_phone(d):
    style = rng.randrange(13)
    if style == 0: return f"{d[:3]} {d[3:5]} {d[5:]}"
    if style == 1: return f"{d[:2]} {d[2:4]} {d[4:6]} {d[6:]}"
    if style == 2: return d
    if style == 3: return f"+47 {d}"
    if style == 4: return f"+47 {d[:3]} {d[3:5]} {d[5:]}"
    if style == 5: return f"0047 {d}"
    if style == 6: return f"(+47) {d}"
    if style == 7: return f"+47{d}"
    if style == 8: return f"{d[:4]} {d[4:]}"
    if style == 9: return f"{d[:2]}-{d[2:4]}-{d[4:6]}-{d[6:]}"
    if style == 10: return f"0047{d}"
    if style == 11: return f"+47 {d[:2]} {d[2:4]} {d[4:6]} {d[6:]}"
    return f"{d[:3]}\u00a0{d[3:5]}\u00a0{d[5:]}"

PHONE_SNIPPETS = [
    "Mor kan nås på {}.", "Ring meg gjerne på {}", "Tlf: {}", "Kontakt far på telefon {} etter kl. 16.",
    "(tlf. {})", "Mobil:\n{}", "{} er nummeret til mor.", "Telefon til skolen:{}", "Pappa har nr {}, mamma har ikke telefon.",
    "Ved spørsmål, ring {}!", "Kontaktlærer (mobil {}) kan gi mer informasjon.",
]
EMAILS = ["mor.hansen@example.no", "far_85@epost.no", "kontakt+bekymring@skole.kommune.no",
          "a.b@c.com", "helsesykepleier@bydel.oslo.kommune.no", "trine-lise.o@firma.co.uk",
          "ola123@gmail.com", "post@barnehagen.no"]
EMAIL_SNIPPETS = ["Send gjerne svar til {}.", "E-post: {}", "mors e-post er {}", "<{}>", "({})",
                  "{} er adressen vi bruker.", "Svar kan sendes til\n{}", "Kontakt:{}"]
ID_LAYOUTS = ["XXXXXXXXXXX", "XXXXXX XXXXX", "XXXXXX-XXXXX", "XX.XX.XX XXXXX", "XXXX XXXX XXX",
              "XXXXXX\nXXXXX", "XX XX XX XXX XX", "XXXXXX\u00a0XXXXX", "XXX XXX XXX XX"]
ID_SNIPPETS = ["Fødselsnummer: {}", "fnr {}", "(f.nr. {})", "Personnummeret hans er {}.", "{} gjelder gutten.",
               "ID:{}", "Barnets fnr. er {}, om dere trenger det.", "Fødselsnr:\n{}", "Født med nr {} i følge mor."]
WARN_SNIPPETS = [
    "Gutten [[NAME:Ola]] sier lite.", "Mor [[NAME:Kari]] ønsker møte.", "Jenta heter [[NAME:Emma]].",
    "Vi har snakket med [[NAME:Ola Nordmann]] om saken.", "Hun er født [[DATE:12.05.2020]].",
    "Født [[DATE:3. mars 2019]].", "Familien bor i [[ADDR:Storgata 12]].", "Adresse: [[ADDR:Kirkeveien 5B, 0370 Oslo]].",
    "Barnet bor i [[ADDR:Kong Oscars gate 5]].", "Besøket var [[DATE:24/11/21]] på ettermiddagen.",
    "Læreren [[NAME:Silje Hansen]] har fulgt opp.", "Han bor på [[ADDR:Solbakken 3]] med far.",
]

def date():
    y = rng.randint(2006, 2023); m = rng.randint(1, 12); d = rng.randint(1, 28)
    return f"{y:04d}-{m:02d}-{d:02d}"

def refuse_snippet():
    kind = rng.randrange(3)
    if kind == 0:
        return rng.choice(PHONE_SNIPPETS).format(f"[[PHONE:{fmt_phone(phone_digits())}]]")
    if kind == 1:
        return rng.choice(EMAIL_SNIPPETS).format(f"[[EMAIL:{rng.choice(EMAILS)}]]")
    tag = "DID" if rng.random() < 0.3 else "ID"
    return rng.choice(ID_SNIPPETS).format(f"[[{tag}:{date()}:{rng.choice(ID_LAYOUTS)}]]")

def esc(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n")

pos = []
for k in range(220):
    parts = [BASES[k % len(BASES)]]
    if k % 7 == 3:
        parts.append(rng.choice(BASES))
    for _ in range(1 + (k % 3 == 0)):
        parts.insert(rng.randrange(len(parts) + 1), refuse_snippet())
    if k % 4 == 1:
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(WARN_SNIPPETS))
    sep = "\n" if k % 5 == 2 else " "
    pos.append(sep.join(parts))

NEG_SNIPPETS = [
    "Møtet er kl. 14.30 i morgen.", "Saksnr 2024/1234 gjelder samme familie.", "Han veier 14,5 kg.",
    "Hun er 134 cm høy.", "Fraværet er på 45 %.", "Det skjedde i 2019 og igjen i 2020.", "Skoleåret 2023-2024 var vanskelig.",
    "Org.nr. 987 654 321 er barnehagens.", "Kontonummer [[ACCT:{d}]] står på fakturaen.", "Hun fyller år 12. mai.",
    "Gutten er 4 år og har 3 søsken.", "Vi ringte 912 34 56 uten svar.", "Nummeret 912 34 56 789 var feil.",
    "Familien skylder 25 000 000 kroner.", "Foreldrene har 2 500 000 i gjeld.", "Timen varer kl. 20.15-22.30.",
    "Det ble nevnt et nummer [[BADID:{d}:XXXXXXXXXXX]] som ikke stemmer.", "Feil nummer: [[BADID:{d}:XXXXXX XXXXX]].",
    "Han har vært borte 15-16 dager.", "Det gjelder side 23-24 i rapporten.", "Det skjer 4-5 ganger i uka.",
    "Han fikk 30 000 kroner i stønad.", "Hun har BMI 17,2.", "Det var 1990-tallet da mor flyttet hit.",
    "Perioden 2010–2015 var rolig.", "Skriv til mor@ når du kan.", "Brukernavnet er ola@localhost på skolens PC.",
    "Rom 204 i andre etasje.", "Klasse 5B har mange nye elever.", "Det var kl. 08.15–14.00 hver dag.",
    "Prøven ga 87 av 100 poeng.", "Uke 12 og uke 13 var verst.", "Hun sov 9,5 timer.",
    "Mor tjener 450 000 i året.", "Avtalen gjelder fra 1. august.", "Han har skostørrelse 34.",
    "Telefonen hennes har vært avslått.", "Vi har ikke fnr. ennå.", "Saken har nr. 2023/45678.",
    "Postnummeret oppgis ikke.", "Klokka 2359 ringte hun.", "Referanse 12345 678.",
    "Tallene 1 2 3 4 5 6 7 8 9 10 ble brukt i timen.", "Hun telte 2 4 6 8 10 12 14 16 høyt.",
    "Kode 11223344556 er ikke et gyldig nummer.", "Vi har møte 05.06 kl. 09.00.",
]

neg = []
for k in range(120):
    parts = [BASES[(k * 7) % len(BASES)]]
    for _ in range(1 + (k % 2)):
        s = NEG_SNIPPETS[(k * 5 + _ * 11) % len(NEG_SNIPPETS)].replace("{d}", date())
        parts.insert(rng.randrange(len(parts) + 1), s)
    if k % 6 == 0:
        parts.append(rng.choice(WARN_SNIPPETS))
    neg.append((" " if k % 4 else "\n").join(parts))

# ---------------------------------------------------------------------------
# Second part (own random stream, so the rows above stay as they were): every
# id variant (D-numbers, the 2032 rule), separators and surroundings, every
# phone format and e-mail shape, each in a realistic sentence.
rng2 = random.Random(20261201)

ID_LAYOUTS2 = ["XXXXXXXXXXX", "XXXXXX XXXXX", "XXXXXX-XXXXX", "XX.XX.XX XXXXX", "XX.XX.XX-XXXXX",
               "XX.XX.XX.XXXXX", "XXXXXX.XXXXX", "XX-XX-XX-XXXXX", "XX XX XX XXXXX", "XXX XX XXX XXX",
               "XXXXXX  XXXXX", "XXXXXX\u2013XXXXX", "XXXXXX XXX XX", "X X X X X X X X X X X"]
ID_SURROUND = ["fnr:{}", "fnr: {}", "Fnr.{}", "f.nr {}", "({})", "{{{}}}", "«{}»", "\"{}\"", "{},", "{};",
               "{}!", "{}?", "{}.", "nr.{}", "på{}", "{}på", "født{}", "D-nr. {}", "d-nummer:{}",
               "personnr {}", "fødselsnummer\n{}", "({}).", "id={}", "{}/"]
ID_SENTENCES = [
    "Barnets {} står på skjemaet fra helsestasjonen.",
    "Mor ga oss {} da vi ringte.",
    "Vi har notert {} i journalen, men vil drøfte anonymt.",
    "Gutten har D-nummer og det er {} etter det vi vet.",
    "Eleven kom til Norge i fjor; {} ifølge skolen.",
    "Jenta (5 år) har {} i papirene fra barnehagen.",
    "Hvis dere trenger det, er {} nummeret vi har.",
    "Saken gjelder {} og vi er usikre på neste steg.",
    "Søsteren hans har et annet nummer enn {} tror vi.",
    "Far oppga {} i søknaden om barnehageplass.",
]

def id_tag():
    kind = rng2.choice(["ID", "DID", "ID32", "DID32", "ID32"])
    return f"[[{kind}:{date2()}:{rng2.choice(ID_LAYOUTS2)}]]"

def date2():
    y = rng2.randint(2005, 2024); m = rng2.randint(1, 12); d = rng2.randint(1, 28)
    return f"{y:04d}-{m:02d}-{d:02d}"

def phone_digits2():
    return rng2.choice("23456789") + "".join(rng2.choice("0123456789") for _ in range(7))

PHONE_STYLES2 = [
    lambda d: f"+47 {d}", lambda d: f"+47{d}", lambda d: f"+47 {d[:3]} {d[3:5]} {d[5:]}",
    lambda d: f"+47 {d[:2]} {d[2:4]} {d[4:6]} {d[6:]}", lambda d: f"+47 {d[:4]} {d[4:]}",
    lambda d: f"0047 {d}", lambda d: f"0047{d}", lambda d: f"0047 {d[:3]} {d[3:5]} {d[5:]}",
    lambda d: f"0047 {d[:2]} {d[2:4]} {d[4:6]} {d[6:]}", lambda d: f"(+47) {d[:4]} {d[4:]}",
    lambda d: f"{d[:2]} {d[2:4]} {d[4:6]} {d[6:]}", lambda d: f"{d[:2]}.{d[2:4]}.{d[4:6]}.{d[6:]}",
    lambda d: f"{d[:2]}-{d[2:4]}-{d[4:6]}-{d[6:]}", lambda d: f"{d[:3]} {d[3:5]} {d[5:]}",
    lambda d: f"{d[:3]}-{d[3:5]}-{d[5:]}", lambda d: f"{d[:3]}.{d[3:5]}.{d[5:]}",
    lambda d: f"{d[:4]} {d[4:]}", lambda d: f"{d[:4]}-{d[4:]}", lambda d: f"{d[:4]}.{d[4:]}", lambda d: d,
]
PHONE_SURROUND = ["tlf:{}", "tlf.{}", "({})", "mob. {}", "{},", "{}.", "{}!", "på{}", "{}på", "«{}»",
                  "ring {}", "nr:{}", "telefon\n{}", "{{{}}}", "{};"]
PHONE_SENTENCES = [
    "Mor ønsker at dere ringer henne på {} i arbeidstiden.",
    "Far er lettest å nå på {} etter kl. 17.",
    "Helsesykepleier kan kontaktes {} for mer informasjon om gutten.",
    "Vi har prøvd å ringe hjem {} uten å få svar.",
    "Tanten, som ofte henter, har nummer {} hvis dere lurer.",
    "Jenta sier at hun ringer bestemor {} når det er bråk hjemme.",
]
EMAILS2 = ["ola.nordmann+barnehage@elev.oslo.kommune.no", "mor+bup@post.example.no",
           "kari_h@mail.sub.example.com", "f.hansen@bydel-frogner.oslo.kommune.no",
           "pedleder.avd2@barnehage.example.org", "x9@a.bc", "trine.o+1@skole.vestland.example.no",
           "familien.berg@example.no", "helse-sta@kommune.example.net"]
EMAIL_SURROUND = ["e-post:{}", "({})", "<{}>", "{}.", "{},", "mail {}!", "«{}»", "epost\n{}", "{{{}}}",
                  "til:{}", "{}?"]
EMAIL_SENTENCES = [
    "Mor ber om svar på e-post {} heller enn brev.",
    "Kontaktlæreren kan nås {} hele uka.",
    "Vi sendte referatet {} etter møtet med foreldrene.",
    "Far vil ha kopi av svaret {} sier han.",
]

def wrap(tag, surround):
    return rng2.choice(surround).format(tag)

pos2 = []
for k in range(135):
    kind = 0 if k >= 105 else k % 3  # the last 30 rows: more ids
    if kind == 0:
        snippet = wrap(id_tag(), ID_SURROUND)
        sentence = rng2.choice(ID_SENTENCES)
    elif kind == 1:
        d = phone_digits2()
        snippet = wrap(f"[[PHONE:{PHONE_STYLES2[(k // 3) % len(PHONE_STYLES2)](d)}]]", PHONE_SURROUND)
        sentence = rng2.choice(PHONE_SENTENCES)
    else:
        snippet = wrap(f"[[EMAIL:{EMAILS2[(k // 3) % len(EMAILS2)]}]]", EMAIL_SURROUND)
        sentence = rng2.choice(EMAIL_SENTENCES)
    where = k % 4
    if where == 0:      # text starts with it
        text = snippet + " " + BASES[k % len(BASES)]
    elif where == 1:    # text ends with it, no final punctuation
        text = BASES[k % len(BASES)] + " " + snippet
    elif where == 2:    # inside a sentence
        text = sentence.format(snippet)
    else:               # alone
        text = snippet
    pos2.append(text)
pos += pos2

NEG_SNIPPETS2 = [
    "Org.nr. {org} er barnehagens.", "Faktura fra org.nr {org} MVA.", "Foretaksnummer: NO {org} MVA",
    "Kontonr. [[ACCT:{d}:XXXX XX XXXXX]] er kommunens.", "Innbetaling til [[ACCT:{d}:XXXX.XX.XXXXX]] i mai.",
    "Feil fnr [[BADID:{d}:XXXXXX XXXXX]] ble rettet.", "Nummeret [[BADID:{d}:XX.XX.XX XXXXX]] er ugyldig.",
    "Hun har bursdag 17. mai.", "Møtet er 12.03 kl. 10.", "Vi ses 3/4 klokka 9.", "Fra 01.08 til 31.12.",
    "Klokka var 23:45 da politiet kom.", "Kl. 07.30–16.00 er hun i barnehagen.", "Det var mellom 14:00 og 15:30.",
    "Han er 7 år og 4 måneder.", "Tvillingene er 3 og 3 år.", "En 15-åring og en 11-åring.",
    "Saksnr. 24/01234-3 i arkivet.", "Arkivsak 2023/4567-12 er avsluttet.", "J.nr. 2024/00123 gjelder mor.",
    "Vekt 18,4 kg ved siste kontroll.", "Fødselsvekt 3400 gram.", "Han veier 32 kg og er 1,42 m.",
    "Høyde 152 cm, vekt 41 kg.", "Hun vokste 6 cm på ett år.", "Beløpet var kr 12 500.",
    "Rapporten har 120 sider.", "Hun har 98 % oppmøte.", "Postboks 1234 er stengt.",
    "Avdelingen har 18 barn og 5 ansatte.", "Referanse 2024-11-0042 i saken.", "Vedtak av 20.11 gjelder.",
]

def org_no():
    return rng2.choice(["8", "9"]) + "".join(rng2.choice("0123456789") for _ in range(8))

def fmt_org(o):
    return rng2.choice([o, f"{o[:3]} {o[3:6]} {o[6:]}"])

neg2 = []
for k in range(40):
    parts = [BASES[(k * 3 + 1) % len(BASES)]]
    s = NEG_SNIPPETS2[k % len(NEG_SNIPPETS2)].replace("{d}", date2()).replace("{org}", fmt_org(org_no()))
    parts.insert(k % 2, s)
    neg2.append(" ".join(parts))
neg += neg2

with open("worry_texts.tsv", "w", encoding="utf-8") as f:
    f.write("# Positive table: every marked span must be found with exactly that kind\n")
    f.write("# and byte range, and nothing else. Generated by gen_worry_texts.py.\n")
    for t in pos:
        f.write(esc(t) + "\n")
with open("negatives.tsv", "w", encoding="utf-8") as f:
    f.write("# Negative table: no REFUSE finding allowed (WARN markup is still checked\n")
    f.write("# as present). Generated by gen_worry_texts.py.\n")
    for t in neg:
        f.write(esc(t) + "\n")
