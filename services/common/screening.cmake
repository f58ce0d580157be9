# National id and PII scanner targets.
