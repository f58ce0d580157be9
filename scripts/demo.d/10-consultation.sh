# Chapter: an anonymous consultation from a kindergarten to BUP.
# Sourced by scripts/demo.sh (uses as, expect, say, LAST).
KID=$(python3 scripts/demo.d/lib.py id 14 5 2021)   # synthetic id, never a real person

say "4. The kindergarten screens its text: a national id is refused before anything is sent"
LAST=$(printf 'Gutten, født %s, sover dårlig og er redd for å gå hjem.' "$KID" |
  BUDSTIKKE_CERT=$CERTS/kindergarten-staff.pem BUDSTIKKE_KEY=$CERTS/kindergarten-staff.key \
  "$BIN/budstikke" check-text)
rc=$?
printf '$ budstikke check-text   # as kindergarten-staff\n%s\n' "$LAST"
ok_if "check-text exits 0 whatever the verdict (exit $rc)" [ "$rc" = 0 ]
ok_if "the verdict is REFUSE" [ "$(field verdict)" = REFUSE ]
expect '"kind":"NATIONAL_ID"'
as kindergarten-staff 3 consult ask --to-type bup --municipality 0301 --age-band 3-5 \
  --concern sleep --text "Gutten, født $KID, sover dårlig og er redd for å gå hjem."
grep -q "consultation.pii.refused" "$VAR/last.err" && passed=$((passed + 1)) || {
  failed=$((failed + 1)); echo "  UNEXPECTED: no consultation.pii.refused"; }

say "5. Without identifying details the worry goes to BUP, routed by type and municipality"
as kindergarten-staff 0 consult ask --to-type bup --municipality 0301 --age-band 3-5 \
  --concern sleep --concern family_conflict --output json \
  --text "En gutt på fire år sover dårlig og virker redd etter helgene. Hvordan bør vi snakke med foreldrene?"
CONSULT=$(field id)
need "$CONSULT" "consultation id"
expect '"status":"OPEN"'

say "6. A BUP clinician claims and answers; a colleague cannot claim it twice"
as bup-clinician 0 consult list --received
expect "$CONSULT"
as bup-clinician 0 consult claim "$CONSULT"
as bup-clinician2 3 consult claim "$CONSULT"
as bup-clinician 0 consult answer "$CONSULT" --text "Snakk med foreldrene om søvnrutiner, og ta kontakt med helsestasjonen om det varer."
expect "ANSWERED"

say "7. The kindergarten reads the answer and closes; a GP office cannot even see the case"
as kindergarten-staff 0 consult show "$CONSULT"
expect "søvnrutiner"
as kindergarten-staff 0 consult close "$CONSULT"
expect "CLOSED"
as gp-physician 4 consult show "$CONSULT"
