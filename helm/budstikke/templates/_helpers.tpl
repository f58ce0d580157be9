{{/* Chart name. */}}
{{- define "budstikke.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart> unless the release name holds the chart name. */}}
{{- define "budstikke.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "budstikke.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object; (list $ component) or $ alone. */}}
{{- define "budstikke.labels" -}}
{{- $root := . -}}{{- $c := "" -}}
{{- if kindIs "slice" . }}{{ $root = index . 0 }}{{ $c = index . 1 }}{{ end -}}
helm.sh/chart: {{ include "budstikke.chart" $root }}
app.kubernetes.io/name: {{ include "budstikke.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: budstikke
{{- with $c }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component: (list $ component). */}}
{{- define "budstikke.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "budstikke.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* Object name of one component: (list $ component). */}}
{{- define "budstikke.componentName" -}}
{{- printf "%s-%s" (include "budstikke.fullname" (index . 0)) (index . 1) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* host:port of a component's Service, as peers dial it: (list $ component).
A stateful service is dialled through its headless Service, which publishes
not-ready pods: readiness waits for required peers, and directory and audit
(consent and referral) need each other, so a ready-only address would never
come up. */}}
{{- define "budstikke.peerAddress" -}}
{{- $root := index . 0 -}}
{{- $stateful := include "budstikke.stateful" $root | fromYamlArray -}}
{{- $svc := include "budstikke.componentName" . -}}
{{- if has (index . 1) $stateful }}{{ $svc = printf "%s-headless" $svc }}{{ end -}}
{{- printf "%s.%s.svc.%s:%d" $svc $root.Release.Namespace $root.Values.clusterDomain (int $root.Values.ports.grpc) }}
{{- end }}

{{/* DNS names of a component's Service: (list $ component). */}}
{{- define "budstikke.dnsNames" -}}
{{- $root := index . 0 -}}{{- $n := include "budstikke.componentName" . -}}
- {{ $n }}
- {{ $n }}.{{ $root.Release.Namespace }}
- {{ $n }}.{{ $root.Release.Namespace }}.svc
- {{ $n }}.{{ $root.Release.Namespace }}.svc.{{ $root.Values.clusterDomain }}
- {{ $n }}-headless.{{ $root.Release.Namespace }}.svc.{{ $root.Values.clusterDomain }}
{{- end }}

{{- define "budstikke.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "budstikke.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "budstikke.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Secret names. */}}
{{- define "budstikke.tlsSecret" -}}
{{- $root := index . 0 -}}{{- $c := index . 1 -}}
{{- $given := index $root.Values.secrets.tls.existingSecrets $c | default "" -}}
{{- default (printf "%s-tls" (include "budstikke.componentName" .)) $given }}
{{- end }}
{{- define "budstikke.masterKeySecret" -}}
{{- default (printf "%s-master-key" (include "budstikke.fullname" .)) .Values.secrets.masterKey.existingSecret }}
{{- end }}
{{- define "budstikke.auditKeySecret" -}}
{{- default (printf "%s-audit-signing-key" (include "budstikke.fullname" .)) .Values.secrets.auditSigningKey.existingSecret }}
{{- end }}
{{- define "budstikke.backupClientSecret" -}}
{{- default (printf "%s-backup-client-tls" (include "budstikke.fullname" .)) .Values.backup.clientSecret }}
{{- end }}
{{- define "budstikke.backupClaim" -}}
{{- printf "%s-backups" (include "budstikke.fullname" .) }}
{{- end }}
{{- define "budstikke.consoleTlsSecret" -}}
{{- default (printf "%s-tls" (include "budstikke.componentName" (list . "console"))) .Values.console.tlsSecret }}
{{- end }}
{{- define "budstikke.consoleImage" -}}
{{- $i := .Values.console.image -}}
{{- if $i.digest }}
{{- printf "%s@%s" $i.repository $i.digest }}
{{- else }}
{{- printf "%s:%s" $i.repository (default .Chart.AppVersion $i.tag) }}
{{- end }}
{{- end }}
