# Chapter: consent-gated referrals. Sourced by scripts/demo.sh.
CHILD=$(python3 scripts/demo.d/lib.py id 3 9 2016)   # synthetic id of a child of 10

say "8. The GP records the mother's consent and refers the child to BUP"
as gp-physician 0 consent record --subject "$CHILD" --giver guardian --giver-relation mother \
  --recipient bup-oslo --purpose "Henvisning til BUP for utredning" --how written --output json
CONSENT=$(field id)
need "$CONSENT" "consent id"
expect '"status":"ACTIVE"'
as gp-physician 0 referral send --to bup-oslo --subject "$CHILD" --consent "$CONSENT" \
  --reason "Vedvarende angst og søvnvansker over seks måneder." --output json
REFERRAL=$(field id)
need "$REFERRAL" "referral id"
expect '"status":"SENT"'

say "9. A kindergarten employee may not refer to BUP (only physicians, psychologists, child welfare leaders)"
as kindergarten-staff 0 consent record --subject "$CHILD" --giver guardian --giver-relation father \
  --recipient bup-oslo --purpose "Henvisning" --how verbal --output json
STAFF_CONSENT=$(field id)
need "$STAFF_CONSENT" "staff member's consent id"
as kindergarten-staff 3 referral send --to bup-oslo --subject "$CHILD" --consent "$STAFF_CONSENT" \
  --reason "Bekymring for gutten." --output json
expect "referral.bup.sender_role"

say "10. BUP acknowledges and accepts"
as bup-clinician 0 referral list --received
expect "$REFERRAL"
as bup-clinician 0 referral ack "$REFERRAL"
as bup-clinician 0 referral decide "$REFERRAL" accept
expect "ACCEPTED"

say "11. The guardian revokes consent on a second referral before BUP reads it: it is withdrawn"
as gp-physician 0 consent record --subject "$CHILD" --giver guardian --giver-relation mother \
  --recipient bup-oslo --purpose "Ny henvisning" --how digital --output json
CONSENT2=$(field id)
need "$CONSENT2" "second consent id"
as gp-physician 0 referral send --to bup-oslo --subject "$CHILD" --consent "$CONSENT2" \
  --reason "Ny vurdering ønskes." --output json
REFERRAL2=$(field id)
need "$REFERRAL2" "second referral id"
as gp-physician 0 consent revoke "$CONSENT2" --reason "Mor trekker samtykket"
expect "REVOKED"
as bup-clinician 3 referral show "$REFERRAL2" --output json
expect "consent.revoked"
withdrawn() { quiet gp-physician referral show "$REFERRAL2" --output json && [ "$(field status)" = WITHDRAWN ]; }
poll 50 withdrawn
as gp-physician 0 referral show "$REFERRAL2" --output json
ok_if "the GP sees the second referral WITHDRAWN" [ "$(field status)" = WITHDRAWN ]

say "12. Child welfare: the duty to report needs no consent, and is marked as such"
as kindergarten-staff 0 referral send --to barnevern-oslo --subject "$CHILD" --statutory-duty \
  --justification "Barnet har gjentatte blåmerker og forteller om slag hjemme." \
  --reason "Bekymringsmelding etter barnevernsloven § 13-2." --output json
expect '"legal_basis":"STATUTORY_DUTY"'
