{{/*
The worker's own rules for the values the chart renders into its environment, where a JSON schema
cannot say them (sums of durations, path segments, "this but not that", a rule that depends on another
value) or must not (a value that may hold a password: Helm 4 quotes a value that fails its pattern).
Each mirrors a check of the worker's settings spec (named beside it); test/chart/chart-worker-agreement.test.ts
renders every rule's edge cases and hands the environment to the worker's loader, so the two cannot drift.
A value that may carry a credential is never quoted here. Returns a JSON list of problems.
*/}}
{{- define "daily-report.workerRuleProblems" -}}
{{- $v := .Values -}}
{{- $problems := list -}}

{{- /* REPORT_STATEMENT_TIMEOUT (src/report/report-settings.ts): 100ms to 1d, in the units of src/config/duration.ts. */ -}}
{{- $timeout := include "daily-report.statementTimeout" . -}}
{{- $ms := 0.0 -}}
{{- if regexMatch "^[0-9]+$" $timeout -}}
{{- $ms = float64 $timeout -}}
{{- else -}}
{{- range regexFindAll "[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)" $timeout -1 -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" . -}}
{{- $unit := trimPrefix $number . -}}
{{- $ms = addf $ms (mulf (float64 $number) (get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 "d" 86400000) $unit)) -}}
{{- end -}}
{{- end -}}
{{- $ms = round $ms 0 -}}
{{- if or (lt $ms 100.0) (gt $ms 86400000.0) -}}
{{- $problems = append $problems (printf "report.statementTimeout=%s: must be from 100ms to 1d (24h), e.g. 2h or 90m (REPORT_STATEMENT_TIMEOUT)" $timeout) -}}
{{- end -}}

{{- /* REPORT_KEY_TEMPLATE, S3_PREFIX, AZURE_STORAGE_PREFIX (keyPathProblems, src/config/setting.ts): nothing climbs out of the bucket. */ -}}
{{- $paths := list (list "report.keyTemplate" $v.report.keyTemplate "key") -}}
{{- if eq $v.storage.provider "s3" }}{{ $paths = append $paths (list "storage.s3.prefix" $v.storage.s3.prefix "prefix") }}{{ else }}{{ $paths = append $paths (list "storage.azure.prefix" $v.storage.azure.prefix "prefix") }}{{ end -}}
{{- range $paths -}}
{{- $name := index . 0 -}}
{{- $path := index . 1 -}}
{{- $kind := index . 2 -}}
{{- if $path -}}
{{- $why := list -}}
{{- if hasPrefix "/" $path }}{{ $why = append $why "must not start with \"/\"" }}{{ end -}}
{{- if and (eq $kind "key") (hasSuffix "/" $path) }}{{ $why = append $why "must not end with \"/\" (it names an object, not a folder)" }}{{ end -}}
{{- $segments := splitList "/" (trimSuffix "/" $path) -}}
{{- if or (has "." $segments) (has ".." $segments) }}{{ $why = append $why "must not contain \".\" or \"..\" segments" }}{{ end -}}
{{- if and (not (hasPrefix "/" $path)) (has "" $segments) }}{{ $why = append $why "must not contain an empty segment (\"//\")" }}{{ end -}}
{{- if contains "\\" $path }}{{ $why = append $why "must use \"/\" to separate folders, not \"\\\"" }}{{ end -}}
{{- if regexMatch "[\\x00-\\x1f\\x7f]" $path }}{{ $why = append $why "must not contain control characters" }}{{ end -}}
{{- if gt (len $path) (ternary 880 120 (eq $kind "key")) }}{{ $why = append $why (printf "must be at most %d bytes long" (ternary 880 120 (eq $kind "key"))) }}{{ end -}}
{{- range $segments }}{{ if gt (len .) 180 }}{{ $why = append $why "must not have a folder or file name longer than 180 bytes" }}{{ break }}{{ end }}{{ end -}}
{{- if $why -}}
{{- $problems = append $problems (printf "%s=%q: %s (e.g. %s)" $name $path (join "; " $why) (ternary "{YYYY}/{MM}/relatorio_{YYYYMMDD}.csv" "diarios/" (eq $kind "key"))) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- if eq $v.storage.provider "s3" -}}
{{- $s3 := $v.storage.s3 -}}
{{- /* S3_BUCKET (src/storage/storage-settings.ts): no "..", no xn-- (the schema checks the characters). */ -}}
{{- if or (contains ".." $s3.bucket) (hasPrefix "xn--" $s3.bucket) -}}
{{- $problems = append $problems (printf "storage.s3.bucket=%s: is not a valid S3 bucket name (no two adjacent dots, no xn-- prefix)" $s3.bucket) -}}
{{- end -}}
{{- /* AWS_REGION: the AWS form on AWS; with an S3-compatible endpoint any name the server expects (e.g. auto). */ -}}
{{- if and $s3.region (not $s3.endpoint) (not (regexMatch "^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$" $s3.region)) -}}
{{- $problems = append $problems (printf "storage.s3.region=%s: must be an AWS region such as sa-east-1 or us-east-1 (any name the server expects, e.g. auto, only with storage.s3.endpoint)" $s3.region) -}}
{{- end -}}
{{- end -}}

{{- /* PGHOST and PGDATABASE (src/extract/database-settings.ts): one host; never a URI, user@ or key=value, which carry the password. */ -}}
{{- $host := $v.database.host -}}
{{- if not $v.sources.services -}}
{{- if or (regexMatch "(?i)^[a-z][a-z0-9+.-]*://" $host) (contains "@" $host) -}}
{{- $problems = append $problems "database.host: must be a host name, not a connection URI or user@host (not shown here: it may hold a password); set database.host, database.port, database.name, database.user and the password Secret separately" -}}
{{- else if contains "," $host -}}
{{- $problems = append $problems (printf "database.host=%s: must be one host (a list h1,h2 is not supported): point it at the replica's service name" $host) -}}
{{- else if regexMatch "\\s" $host -}}
{{- $problems = append $problems (printf "database.host=%q: must not contain spaces (a stray space or newline?)" $host) -}}
{{- end -}}
{{- if or (regexMatch "(?i)^[a-z][a-z0-9+.-]*://" $v.database.name) (contains "=" $v.database.name) -}}
{{- $problems = append $problems "database.name: must be a database name, not a connection URI or key=value string (not shown here: it may hold a password)" -}}
{{- end -}}
{{- end -}}

{{- /* URLs (url() in src/config/setting.ts): http(s), a host without spaces, a port up to 65535; no user:password@ or ?query where it would be logged. */ -}}
{{- $urls := list (list "telemetry.otlpEndpoint" $v.telemetry.otlpEndpoint false) -}}
{{- if eq $v.storage.provider "s3" }}{{ $urls = append $urls (list "storage.s3.endpoint" $v.storage.s3.endpoint false) }}{{ else }}{{ $urls = append $urls (list "storage.azure.accountUrl" $v.storage.azure.accountUrl false) }}{{ end -}}
{{- if and $v.credentials.keys.alertWebhookUrl (not $v.credentials.existingSecret) -}}
{{- $urls = append $urls (list "credentials.values.alertWebhookUrl" $v.credentials.values.alertWebhookUrl true) -}}
{{- end -}}
{{- range $urls -}}
{{- $name := index . 0 -}}
{{- $url := index . 1 -}}
{{- $secret := index . 2 -}}
{{- if $url -}}
{{- $authority := regexFind "^(?i)https?://[^/?#]*" $url -}}
{{- $hostPort := regexReplaceAll "^.*@" (regexReplaceAll "^(?i)https?://" $authority "") "" -}}
{{- $port := regexFind ":[0-9]*$" $hostPort | trimPrefix ":" -}}
{{- $mayHoldCredentials := or $secret (contains "@" $url) (contains "?" $url) -}}
{{- $shown := ternary (printf "%s (not shown here: it may hold a credential)" $name) (printf "%s=%q" $name $url) $mayHoldCredentials -}}
{{- if or (not $authority) (regexMatch "\\s" $authority) (eq (regexReplaceAll ":[0-9]*$" $hostPort "") "") (and $port (gt (int64 $port) 65535)) -}}
{{- $problems = append $problems (printf "%s: must be an http(s) URL with a host and a port up to 65535, e.g. https://host.example:443/path" $shown) -}}
{{- else if and (not $secret) (or (contains "@" $authority) (contains "?" $url)) -}}
{{- $problems = append $problems (printf "%s: must not carry credentials (user:password@ or a ?query such as a SAS token), which the job would log with the URL (not shown here); give credentials by other means (IRSA, workload identity, OTEL_EXPORTER_OTLP_HEADERS in extraEnv from a Secret)" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- /* REPORT_TIMEZONE (src/report/time-zone.ts): names of the zone files that are not zones, which the API server takes and the worker does not. */ -}}
{{- if or (has $v.timeZone (list "Factory" "localtime" "posixrules")) (regexMatch "^(posix|right)/" $v.timeZone) -}}
{{- $problems = append $problems (printf "timeZone=%s: is a file of the zone database, not a time zone the worker knows: use an IANA name such as America/Sao_Paulo or Etc/UTC" $v.timeZone) -}}
{{- end -}}

{{- toJson $problems -}}
{{- end -}}

{{/* report.statementTimeout as the worker reads it: a duration, or milliseconds given as a YAML number. */}}
{{- define "daily-report.statementTimeout" -}}
{{- $t := .Values.report.statementTimeout -}}
{{- if kindIs "string" $t }}{{ $t }}{{ else }}{{ int64 $t }}{{ end -}}
{{- end -}}
