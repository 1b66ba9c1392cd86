{{/* Names are truncated to 52 characters: the CronJob controller appends an 11-character suffix to Job names. */}}
{{- define "daily-report.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "daily-report.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "daily-report.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "daily-report.selectorLabels" -}}
app.kubernetes.io/name: {{ include "daily-report.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "daily-report.labels" -}}
helm.sh/chart: {{ include "daily-report.chart" . }}
{{ include "daily-report.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: report-job
app.kubernetes.io/part-of: daily-report
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "daily-report.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "daily-report.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret the credentials come from: the user's, or the one this chart creates for development. */}}
{{- define "daily-report.secretName" -}}
{{- default (printf "%s-credentials" (include "daily-report.fullname" . | trunc 40 | trimSuffix "-")) .Values.credentials.existingSecret -}}
{{- end -}}

{{- define "daily-report.sqlConfigMapName" -}}
{{- printf "%s-sql" (include "daily-report.fullname" . | trunc 48 | trimSuffix "-") -}}
{{- end -}}

{{- define "daily-report.pgServiceConfigMapName" -}}
{{- printf "%s-pg-service" (include "daily-report.fullname" . | trunc 41 | trimSuffix "-") -}}
{{- end -}}

{{/* pg_service.conf from sources.services (libpq's format: no spaces around "="). */}}
{{- define "daily-report.pgServiceFile" -}}
# Rendered by the daily-report chart from sources.services; the passwords are in the pgpass Secret.
{{- range .Values.sources.services }}

[{{ .name }}]
host={{ .host }}
port={{ .port | default 5432 }}
dbname={{ .dbname }}
{{- with .user }}
user={{ . }}
{{- end }}
{{- with .sslMode }}
sslmode={{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "daily-report.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The report query: the values string, or the query shipped in the chart. */}}
{{- define "daily-report.sql" -}}
{{- default (.Files.Get "files/report.sql") .Values.report.sql -}}
{{- end -}}

{{/*
Secret keys mounted as files, as a list of "ENV_VAR_FILE=key" pairs: only the keys the configuration uses,
so an existing Secret need not hold the others (a missing key would keep the pod from starting).
*/}}
{{- define "daily-report.secretFiles" -}}
{{- $keys := .Values.credentials.keys -}}
{{- $files := list -}}
{{- /* With sources, every password is in the pgpass Secret (the worker refuses PGPASSWORD with REPORT_SOURCES). */ -}}
{{- if and $keys.password (not .Values.sources.services) }}{{ $files = append $files (list "PGPASSWORD_FILE" $keys.password) }}{{ end -}}
{{- if $keys.user }}{{ $files = append $files (list "PGUSER_FILE" $keys.user) }}{{ end -}}
{{- if and (eq .Values.storage.provider "azure") (not .Values.storage.azure.accountUrl) }}{{ $files = append $files (list "AZURE_STORAGE_CONNECTION_STRING_FILE" $keys.azureConnectionString) }}{{ end -}}
{{- if and (eq .Values.storage.provider "s3") $keys.awsCredentials }}{{ $files = append $files (list "AWS_SHARED_CREDENTIALS_FILE" $keys.awsCredentials) }}{{ end -}}
{{- if $keys.alertWebhookUrl }}{{ $files = append $files (list "ALERT_WEBHOOK_URL_FILE" $keys.alertWebhookUrl) }}{{ end -}}
{{- toJson $files -}}
{{- end -}}

{{/*
Exit codes after which a retry cannot help: the podFailurePolicy fails the Job at once on them.
They mirror the product's exit-code table (README "Exit codes"; a test checks they agree with src/errors.ts).
*/}}
{{- define "daily-report.permanentExitCodes" -}}
[2, 3, 4, 5]
{{- end -}}

{{/* The TCP port of an http(s) URL: the explicit one, else the scheme's (80 or 443). */}}
{{- define "daily-report.urlPort" -}}
{{- $url := urlParse . -}}
{{- $explicit := regexFind ":[0-9]+$" $url.host | trimPrefix ":" -}}
{{- if $explicit }}{{ $explicit }}{{ else if eq $url.scheme "http" }}80{{ else }}443{{ end -}}
{{- end -}}

{{/* An object key from report.keyTemplate for one date, as the worker forms it (src/report/report-key.ts). */}}
{{- define "daily-report.exampleKey" -}}
{{- $d := splitList "-" .date -}}
{{- .template | replace "{YYYYMMDD}" (join "" $d) | replace "{YYYY-MM-DD}" .date | replace "{YYYY}" (index $d 0) | replace "{MM}" (index $d 1) | replace "{DD}" (index $d 2) -}}
{{- end -}}

{{/* The database ports the worker connects to: database.port, or each source's (once). */}}
{{- define "daily-report.databasePorts" -}}
{{- $ports := list -}}
{{- if .Values.sources.services -}}
{{- range .Values.sources.services }}{{ $ports = append $ports (int (.port | default 5432)) }}{{ end -}}
{{- else -}}
{{- $ports = list (int .Values.database.port) -}}
{{- end -}}
{{- toJson ($ports | uniq) -}}
{{- end -}}

{{/*
The worker's resources: as shipped in values.yaml, the memory formula of docs/parallel-extraction.md
for `parallelism` (192Mi + 16Mi per extra worker; the limit twice the request: the shipped values at 1);
changed in any way, `resources` as given.
*/}}
{{- define "daily-report.resources" -}}
{{- $shipped := dict "requests" (dict "cpu" "250m" "memory" "192Mi") "limits" (dict "memory" "384Mi") -}}
{{- if ne (toJson .Values.resources) (toJson $shipped) -}}
{{- toYaml .Values.resources -}}
{{- else -}}
{{- $request := add 192 (mul 16 (sub (int .Values.parallelism) 1)) -}}
requests:
  cpu: 250m
  memory: {{ printf "%dMi" $request }}
limits:
  memory: {{ printf "%dMi" (mul 2 $request) }}
{{- end -}}
{{- end -}}

{{/* Where spilled segments wait (an emptyDir), with parallelism > 1. */}}
{{- define "daily-report.spillDir" -}}
/var/spool/daily-report
{{- end -}}

{{/*
The keys of Secrets and ConfigMaps the operator creates that the worker's pod mounts, as
[kind, name, key, the value naming the key]: the chart's own Secret is not among them.
*/}}
{{- define "daily-report.mountedKeys" -}}
{{- $v := .Values -}}
{{- $mounts := list -}}
{{- if $v.credentials.existingSecret -}}
{{- $valueOf := dict "PGPASSWORD_FILE" "credentials.keys.password" "PGUSER_FILE" "credentials.keys.user" "AZURE_STORAGE_CONNECTION_STRING_FILE" "credentials.keys.azureConnectionString" "AWS_SHARED_CREDENTIALS_FILE" "credentials.keys.awsCredentials" "ALERT_WEBHOOK_URL_FILE" "credentials.keys.alertWebhookUrl" -}}
{{- range (include "daily-report.secretFiles" . | fromJsonArray) }}{{ $mounts = append $mounts (list "Secret" $v.credentials.existingSecret (index . 1) (get $valueOf (index . 0))) }}{{ end -}}
{{- end -}}
{{- if and $v.sources.services $v.sources.pgpass.existingSecret }}{{ $mounts = append $mounts (list "Secret" $v.sources.pgpass.existingSecret $v.sources.pgpass.key "sources.pgpass.key") }}{{ end -}}
{{- if $v.database.caCertificate.configMap }}{{ $mounts = append $mounts (list "ConfigMap" $v.database.caCertificate.configMap $v.database.caCertificate.key "database.caCertificate.key") }}{{ end -}}
{{- toJson $mounts -}}
{{- end -}}
