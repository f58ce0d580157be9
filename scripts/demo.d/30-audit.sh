# Chapter: the audit trail. Sourced by scripts/demo.sh.
say "17. The auditor sees who accessed the child's data, in plain words"
# Events reach the log and a signed checkpoint within 2 s: wait (at most 5 s)
# for the last one of the story, the report to child welfare.
duty_logged() {
  quiet auditor audit query --subject "$CHILD" --action referral.send --output json &&
    grep -q '"legal_basis":"STATUTORY_DUTY"' <<<"$LAST"
}
ok_if "the report to child welfare is in the audit log" poll 50 duty_logged
DUTY_INDEX=$(printf '%s' "$LAST" | python3 -c 'import json,sys; print(max(i["index"] for i in json.load(sys.stdin)["items"] if i["legal_basis"] == "STATUTORY_DUTY"))')
need "$DUTY_INDEX" "audit index of the report"
in_checkpoint() { quiet auditor audit checkpoint && [ "$(printf '%s\n' "$LAST" | sed -n 2p)" -gt "${DUTY_INDEX:-0}" ]; }
ok_if "a signed checkpoint covers it" poll 50 in_checkpoint
as auditor 0 audit report --subject "$CHILD"
expect "BUP Oslo"
as auditor 0 audit query --subject "$CHILD" --output json
expect '"legal_basis":"STATUTORY_DUTY"'
if grep -q "$CHILD" <<<"$LAST"; then
  failed=$((failed + 1)); echo "  UNEXPECTED: audit output holds the national id"
else passed=$((passed + 1)); fi

say "18. Anyone can verify the whole log offline: signature, proofs, consistency with last time"
rm -f "$VAR/audit-state.json"
as auditor 0 audit verify --state "$VAR/audit-state.json" --output json
TREE=$(field tree_size); VERIFIED=$(field events_verified)
ok_if "the checkpoint's signature verified (ok: $(field ok))" [ "$(field ok)" = true ]
ok_if "a tree of ${TREE:-?} events, root hash $(field root_hash)" [ "${TREE:-0}" -gt "${DUTY_INDEX:-0}" ]
ok_if "${VERIFIED:-no} inclusion proofs checked, at least one per event in the tree" \
  [ "${VERIFIED:-0}" -ge "${TREE:-1}" ]
ok_if "no earlier state to compare with on the first run" [ "$(field consistent_with_state)" = false ]
as auditor 0 audit verify --state "$VAR/audit-state.json" --output json
ok_if "the second run proved consistency with the checkpoint saved by the first" \
  [ "$(field consistent_with_state)" = true ]
ok_if "the log only grew" [ "$(field tree_size)" -ge "${TREE:-0}" ]
as auditor 0 audit checkpoint
expect "budstikke.test/audit"
