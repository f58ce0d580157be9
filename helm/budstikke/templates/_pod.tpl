{{/* budstikke-server arguments of one component: (list $ component). */}}
{{- define "budstikke.args" -}}
{{- $root := index . 0 -}}{{- $c := index . 1 -}}
{{- $v := $root.Values -}}
{{- $stateful := include "budstikke.stateful" $root | fromYamlArray -}}
- --target
- {{ ternary "all" $c (eq $c "server") }}
- --listen
- 0.0.0.0:{{ $v.ports.grpc }}
- --health-listen
- 0.0.0.0:{{ $v.ports.health }}
{{- if $v.metrics.enabled }}
- --metrics-listen
- 0.0.0.0:{{ $v.ports.metrics }}
{{- end }}
- --tls-cert
- /etc/budstikke/tls/tls.crt
- --tls-key
- /etc/budstikke/tls/tls.key
- --tls-ca
- /etc/budstikke/tls/ca.crt
- --trust-domain
- {{ $v.server.trustDomain }}
- --operator-agency
- {{ $v.server.operatorAgency }}
- --log-level
- {{ $v.server.logLevel }}
- --outbox-max-age
- {{ $v.server.outboxMaxAgeSeconds | quote }}
- --urgent-ack-minutes
- {{ $v.server.urgentAckMinutes | quote }}
{{- if has $c $stateful }}
- --data-dir
- /var/lib/budstikke/data
- --master-key-file
- /etc/budstikke/master-key/master.key
{{- end }}
{{- if has $c (list "server" "audit") }}
- --audit-signing-key-file
- /etc/budstikke/audit-signing-key/audit-signing.key
- --audit-anchor-file
- /var/lib/budstikke/audit.anchor
{{- end }}
{{- if ne $c "server" }}
- --peers
- /etc/budstikke/peers/peers.json
{{- end }}
{{- if and $v.seedDirectory (has $c (list "server" "directory")) }}
- --seed-directory
- /etc/budstikke/seed/directory.json
{{- end }}
{{- if $v.server.refuseSyntheticIds }}
- --refuse-synthetic-ids
{{- end }}
{{- range $v.server.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/* Pod template of one component: (list $ component). */}}
{{- define "budstikke.podTemplate" -}}
{{- $root := index . 0 -}}{{- $c := index . 1 -}}
{{- $v := $root.Values -}}
{{- $cv := include "budstikke.componentValues" . | fromYaml -}}
{{- $stateful := include "budstikke.stateful" $root | fromYamlArray -}}
{{- $backup := and $v.backup.enabled (has $c $stateful) -}}
metadata:
  labels:
    {{- include "budstikke.labels" . | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "budstikke.serviceAccountName" $root }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  containers:
    - name: budstikke-server
      image: {{ include "budstikke.image" $root }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      command: ["/usr/bin/budstikke-server"]
      args:
        {{- include "budstikke.args" . | nindent 8 }}
      ports:
        - name: grpc
          containerPort: {{ $v.ports.grpc }}
          protocol: TCP
        - name: health
          containerPort: {{ $v.ports.health }}
          protocol: TCP
        {{- if $v.metrics.enabled }}
        - name: metrics
          containerPort: {{ $v.ports.metrics }}
          protocol: TCP
        {{- end }}
      startupProbe:
        grpc:
          port: {{ $v.ports.health }}
        periodSeconds: {{ $v.probes.startup.periodSeconds }}
        failureThreshold: {{ $v.probes.startup.failureThreshold }}
      livenessProbe:
        grpc:
          port: {{ $v.ports.health }}
        periodSeconds: {{ $v.probes.liveness.periodSeconds }}
        timeoutSeconds: {{ $v.probes.liveness.timeoutSeconds }}
        failureThreshold: {{ $v.probes.liveness.failureThreshold }}
      readinessProbe:
        grpc:
          port: {{ $v.ports.health }}
          service: budstikke.ready
        periodSeconds: {{ $v.probes.readiness.periodSeconds }}
        timeoutSeconds: {{ $v.probes.readiness.timeoutSeconds }}
        failureThreshold: {{ $v.probes.readiness.failureThreshold }}
      resources:
        {{- toYaml $cv.resources | nindent 8 }}
      securityContext:
        {{- toYaml $v.containerSecurityContext | nindent 8 }}
      volumeMounts:
        - name: tls
          mountPath: /etc/budstikke/tls
          readOnly: true
        - name: tmp
          mountPath: /tmp
        {{- if has $c $stateful }}
        - name: data
          mountPath: /var/lib/budstikke
        - name: master-key
          mountPath: /etc/budstikke/master-key
          readOnly: true
        {{- end }}
        {{- if has $c (list "server" "audit") }}
        - name: audit-signing-key
          mountPath: /etc/budstikke/audit-signing-key
          readOnly: true
        {{- end }}
        {{- if ne $c "server" }}
        - name: peers
          mountPath: /etc/budstikke/peers
          readOnly: true
        {{- end }}
        {{- if and $v.seedDirectory (has $c (list "server" "directory")) }}
        - name: seed
          mountPath: /etc/budstikke/seed
          readOnly: true
        {{- end }}
        {{- if $backup }}
        - name: backups
          mountPath: /var/backups/budstikke
        {{- end }}
  volumes:
    - name: tls
      secret:
        secretName: {{ include "budstikke.tlsSecret" . }}
        defaultMode: 0400
        items:
          - {key: {{ $v.secrets.tls.certKey }}, path: tls.crt}
          - {key: {{ $v.secrets.tls.keyKey }}, path: tls.key}
          - {key: {{ $v.secrets.tls.caKey }}, path: ca.crt}
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- if has $c $stateful }}
    - name: master-key
      secret:
        secretName: {{ include "budstikke.masterKeySecret" $root }}
        defaultMode: 0400
        items:
          - {key: {{ $v.secrets.masterKey.key }}, path: master.key}
    {{- end }}
    {{- if has $c (list "server" "audit") }}
    - name: audit-signing-key
      secret:
        secretName: {{ include "budstikke.auditKeySecret" $root }}
        defaultMode: 0400
        items:
          - {key: {{ $v.secrets.auditSigningKey.key }}, path: audit-signing.key}
    {{- end }}
    {{- if ne $c "server" }}
    - name: peers
      configMap:
        name: {{ include "budstikke.fullname" $root }}-peers
        defaultMode: 0444
        items:
          - {key: {{ $c }}.json, path: peers.json}
    {{- end }}
    {{- if and $v.seedDirectory (has $c (list "server" "directory")) }}
    - name: seed
      configMap:
        name: {{ include "budstikke.fullname" $root }}-seed
        defaultMode: 0444
    {{- end }}
    {{- if $backup }}
    - name: backups
      persistentVolumeClaim:
        claimName: {{ include "budstikke.backupClaim" $root }}
    {{- end }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
