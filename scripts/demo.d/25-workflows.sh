# Chapter: how referrals really travel (issue 19) - a draft co-signed by the GP, the
# thread with an invited kindergarten, the supplement, and an urgent referral that
# escalates. Sourced by scripts/demo.sh (the server runs with --urgent-ack-minutes 0.05).
KID=$(python3 scripts/demo.d/lib.py id 14 5 2017)   # synthetic id of a child of 9

say "13. The health-station nurse drafts a BUP referral; the GP co-signs and sends it"
as helsestasjon-staff 0 consent record --subject "$KID" --giver guardian --giver-relation mother \
  --recipient legekontor-sentrum --recipient bup-oslo --recipient-type kindergarten \
  --purpose "Henvisning til BUP" --how written --output json
NURSE_CONSENT=$(field id)
need "$NURSE_CONSENT" "consent id (GP office, BUP and kindergartens)"
expect '"recipients":\[{"agency":"legekontor-sentrum"}'
as helsestasjon-staff 0 referral draft --to bup-oslo --cosigner legekontor-sentrum \
  --subject "$KID" --consent "$NURSE_CONSENT" \
  --reason "Søvnvansker og uro over lang tid; foreldrene ønsker utredning." --output json
DRAFT=$(field id)
need "$DRAFT" "draft id"
expect '"status":"DRAFT"'
as gp-physician 0 referral list --cosign
expect "$DRAFT"
as gp-physician 0 referral cosign "$DRAFT" --output json
expect '"status":"SENT"'
expect '"initiating_agency":"helsestasjon-oslo"'
expect '"sender_agency":"legekontor-sentrum"'
as bup-clinician 0 referral show "$DRAFT" --output json
expect '"user":"helsesykepleier1"'
expect '"user":"lege1"'

say "14. BUP asks the kindergarten on the thread, needs more from the GP, and accepts"
as bup-clinician 0 referral ack "$DRAFT"
as bup-clinician 0 referral invite "$DRAFT" --agency bhg-solsikken --output json
expect '"invited_agencies":\["bhg-solsikken"\]'
as kindergarten-staff 0 referral message "$DRAFT" \
  --text "Hun er urolig i samlingsstund og sover sjelden i hvilen." --output json
as bup-clinician 0 referral thread "$DRAFT" --output json
expect "urolig i samlingsstund"
as bup-clinician 0 referral decide "$DRAFT" need-info --reason "Trenger somatisk status."
expect "NEED_INFO"
as gp-physician 0 referral supplement "$DRAFT" --text "Somatisk status normal." --output json
expect '"status":"ACKNOWLEDGED"'
as bup-clinician 0 referral decide "$DRAFT" accept
expect "ACCEPTED"

say "15. The kindergarten's PPT referral needs its leader's signature"
as kindergarten-staff 0 consent record --subject "$KID" --giver guardian --giver-relation father \
  --recipient ppt-oslo --purpose "Sakkyndig vurdering" --how written --output json
PPT_CONSENT=$(field id)
as kindergarten-staff 3 referral send --to ppt-oslo --subject "$KID" --consent "$PPT_CONSENT" \
  --parent-demand --parents-informed --reason "Foreldrene krever sakkyndig vurdering." \
  --output json
expect "referral.ppt.head_signoff"
as kindergarten-leader 0 referral send --to ppt-oslo --subject "$KID" --consent "$PPT_CONSENT" \
  --parent-demand --parents-informed --reason "Foreldrene krever sakkyndig vurdering." \
  --output json
expect '"parent_demand":true'

say "16. An urgent referral goes to BUP's acute unit and escalates when nobody acknowledges it"
as gp-physician 0 consent record --subject "$KID" --giver guardian --giver-relation mother \
  --recipient bup-oslo --purpose "Akutt henvisning" --how verbal --output json
URGENT_CONSENT=$(field id)
as gp-physician 0 referral send --to bup-oslo --subject "$KID" --consent "$URGENT_CONSENT" \
  --urgent --reason "Akutt selvskading; trenger vurdering i dag." --output json
URGENT=$(field id)
need "$URGENT" "urgent referral id"
expect '"priority":"URGENT"'
expect '"recipient_agency":"bup-oslo-akutt"'
expect '"routed_reason":"urgent.not_a_patient"'
escalated() { quiet gp-physician referral show "$URGENT" --output json && grep -q "escalated: not acknowledged" <<<"$LAST"; }
poll 100 escalated
as gp-physician 0 referral show "$URGENT" --output json
expect "escalated: not acknowledged within 3s"
