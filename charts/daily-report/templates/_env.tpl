{{/* The environment the chart sets from its values (extraEnv comes after it, and may not repeat a name). */}}
{{- define "daily-report.env" -}}
{{- $fullname := include "daily-report.fullname" . -}}
{{- $secretFiles := include "daily-report.secretFiles" . | fromJsonArray -}}
{{- $s3 := .Values.storage.s3 -}}
{{- $azure := .Values.storage.azure -}}
- name: REPORT_TIMEZONE
  value: {{ .Values.timeZone | quote }}
- name: REPORT_SQL_FILE
  value: /etc/daily-report/sql/report.sql
- name: REPORT_IF_EXISTS
  value: {{ .Values.report.ifExists | quote }}
- name: REPORT_KEY_TEMPLATE
  value: {{ .Values.report.keyTemplate | quote }}
- name: REPORT_COMPRESSION
  value: {{ .Values.report.compression | quote }}
- name: REPORT_STATEMENT_TIMEOUT
  value: {{ include "daily-report.statementTimeout" . | quote }}
- name: REPORT_PARALLELISM
  value: {{ .Values.parallelism | quote }}
{{- if gt (int .Values.parallelism) 1 }}
- name: REPORT_SPILL_DIR
  value: {{ include "daily-report.spillDir" . | quote }}
{{- end }}
{{- if .Values.sources.services }}
# Several sources: libpq services (the ConfigMap) and their passwords (the pgpass Secret); PGUSER and PGSSLMODE are their defaults.
- name: REPORT_SOURCES
  value: {{ include "daily-report.sourceNames" . | quote }}
- name: PGSERVICEFILE
  value: /etc/daily-report/pg-service/pg_service.conf
- name: PGPASSFILE
  value: /etc/daily-report/pgpass/pgpass
{{- else }}
- name: PGHOST
  value: {{ .Values.database.host | quote }}
- name: PGPORT
  value: {{ .Values.database.port | quote }}
- name: PGDATABASE
  value: {{ .Values.database.name | quote }}
{{- end }}
{{- if not .Values.credentials.keys.user }}
- name: PGUSER
  value: {{ .Values.database.user | quote }}
{{- end }}
- name: PGSSLMODE
  value: {{ .Values.database.sslMode | quote }}
{{- if .Values.database.caCertificate.configMap }}
- name: PGSSLROOTCERT
  value: /etc/daily-report/db-ca/ca.crt
{{- end }}
{{- range $secretFiles }}
- name: {{ index . 0 }}
  value: /etc/daily-report/credentials/{{ index . 1 }}
{{- end }}
- name: STORAGE_PROVIDER
  value: {{ .Values.storage.provider | quote }}
{{- if eq .Values.storage.provider "s3" }}
- name: S3_BUCKET
  value: {{ $s3.bucket | quote }}
{{- with $s3.prefix }}
- name: S3_PREFIX
  value: {{ . | quote }}
{{- end }}
{{- with $s3.region }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- with $s3.endpoint }}
- name: S3_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- if $s3.forcePathStyle }}
- name: S3_FORCE_PATH_STYLE
  value: "true"
{{- end }}
- name: S3_SSE
  value: {{ $s3.sse | quote }}
{{- with $s3.kmsKeyId }}
- name: S3_SSE_KMS_KEY_ID
  value: {{ . | quote }}
{{- end }}
- name: S3_CHECKSUM_ALGORITHM
  value: {{ $s3.checksumAlgorithm | quote }}
{{- else }}
- name: AZURE_STORAGE_CONTAINER
  value: {{ $azure.container | quote }}
{{- with $azure.accountUrl }}
- name: AZURE_STORAGE_ACCOUNT_URL
  value: {{ . | quote }}
{{- end }}
{{- with $azure.prefix }}
- name: AZURE_STORAGE_PREFIX
  value: {{ . | quote }}
{{- end }}
{{- with $azure.encryptionScope }}
- name: AZURE_ENCRYPTION_SCOPE
  value: {{ . | quote }}
{{- end }}
{{- end }}
- name: LOG_LEVEL
  value: {{ .Values.log.level | quote }}
# One JSON object per line, for the cluster's log collector.
- name: LOG_FORMAT
  value: json
# Where this run is, for traces and Events (OpenTelemetry resource attributes, downward API).
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: JOB_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.labels['batch.kubernetes.io/job-name']
- name: CRONJOB_NAME
  value: {{ $fullname | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: "k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME),k8s.job.name=$(JOB_NAME),k8s.cronjob.name={{ $fullname }}"
{{- with .Values.telemetry.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $.Values.telemetry.protocol | quote }}
{{- end }}
{{- if .Values.credentials.keys.alertWebhookUrl }}
- name: ALERT_WEBHOOK_FORMAT
  value: {{ .Values.alerts.webhook.format | quote }}
- name: ALERT_ON_SUCCESS
  value: {{ .Values.alerts.webhook.onSuccess | quote }}
{{- end }}
{{- if .Values.alerts.kubernetes.enabled }}
# Read our own Job (is this the last attempt?) and record ReportPublished / ReportFailed Events on it.
- name: ALERT_KUBERNETES_EVENTS
  value: "true"
{{- end }}
{{- end -}}

{{/* REPORT_SOURCES: the services' names, in report order. */}}
{{- define "daily-report.sourceNames" -}}
{{- $names := list -}}
{{- range .Values.sources.services }}{{ $names = append $names .name }}{{ end -}}
{{- join "," $names -}}
{{- end -}}

{{/* The names in daily-report.env, for the check that extraEnv does not repeat one. */}}
{{- define "daily-report.chartEnvNames" -}}
{{- $names := list -}}
{{- range (include "daily-report.env" . | fromYamlArray) }}{{ $names = append $names .name }}{{ end -}}
{{- toJson $names -}}
{{- end -}}
