{{/*
The one table of this chart: which services each component calls. It mirrors
kNeeds in services/server/topology.cc (tests/chart/manifest_checks.py keeps
them equal). From it come every --peers file, every NetworkPolicy ingress
rule between components (callee side) and egress rule (caller side).
The backup CronJob calls admin through the client-facing port.
*/}}
{{- define "budstikke.needs" -}}
directory: [audit]
consultation: [directory, inbox, audit]
consent: [directory, referral, inbox, audit]
referral: [directory, consent, inbox, audit]
inbox: [audit]
audit: [directory]
admin: [directory, consultation, consent, referral, inbox, audit]
gateway: [directory, consultation, consent, referral, inbox, audit, admin]
server: []
{{- end }}

{{/* Components of the selected mode, as a YAML list. */}}
{{- define "budstikke.components" -}}
{{- if eq .Values.mode "microservices" -}}
[directory, consultation, consent, referral, inbox, audit, admin, gateway]
{{- else -}}
[server]
{{- end -}}
{{- end }}

{{/* Components that keep data (a StatefulSet with a volume). */}}
{{- define "budstikke.stateful" -}}
[server, directory, consultation, consent, referral, inbox, audit]
{{- end }}

{{/* The component that clients reach. */}}
{{- define "budstikke.entry" -}}
{{- if eq .Values.mode "microservices" }}gateway{{ else }}server{{ end -}}
{{- end }}

{{/* The values section of a component. */}}
{{- define "budstikke.componentValues" -}}
{{- $root := index . 0 -}}{{- $c := index . 1 -}}
{{- if eq $c "server" }}{{ toYaml $root.Values.allInOne }}{{ else }}{{ toYaml (index $root.Values $c) }}{{ end -}}
{{- end }}
