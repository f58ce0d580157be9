# Chapter: the audit trail. Sourced by scripts/demo.sh.
say "13. The auditor sees who accessed the child's data, in plain words"
sleep 1.5   # events reach a signed checkpoint within 2 s
as auditor 0 audit report --subject "$CHILD"
expect "BUP Oslo"
as auditor 0 audit query --subject "$CHILD" --output json
expect '"legal_basis":"STATUTORY_DUTY"'
if printf '%s' "$LAST" | grep -q "$CHILD"; then
  failed=$((failed + 1)); echo "  UNEXPECTED: audit output holds the national id"
else passed=$((passed + 1)); fi

say "14. Anyone can verify the whole log offline: signature, proofs, consistency with last time"
rm -f "$VAR/audit-state.json"
as auditor 0 audit verify --state "$VAR/audit-state.json"
as auditor 0 audit verify --state "$VAR/audit-state.json"
as auditor 0 audit checkpoint
expect "budstikke.test/audit"
