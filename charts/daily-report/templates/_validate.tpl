{{/*
Refuses a release that could only fail at 01:00: values that have no usable default and were not set,
and values that contradict each other. The schema checks each value on its own (types, enums, patterns);
this checks what needs several values at once, and lists every problem in one message so one retry is enough.
*/}}
{{- define "daily-report.validate" -}}
{{- $v := .Values -}}
{{- $creds := $v.credentials -}}
{{- $missing := list -}}
{{- $contradictions := list -}}

{{- if not $v.image.repository -}}
{{- $missing = append $missing "image.repository: the registry path your CI pushes the daily-report image to (no public image is published), e.g. --set image.repository=registry.example.com/team/daily-report" -}}
{{- end -}}
{{- $sources := $v.sources.services -}}
{{- if and (not $v.database.host) (not $sources) -}}
{{- $missing = append $missing "database.host: the PostgreSQL server (PGHOST), e.g. --set database.host=app-db.prod.svc.cluster.local" -}}
{{- end -}}
{{- if and $sources (not $v.sources.pgpass.existingSecret) -}}
{{- $missing = append $missing (printf "sources.pgpass.existingSecret: a Secret holding a pgpass file (host:port:dbname:user:password, one line per service) under the key %q, e.g. kubectl create secret generic daily-report-pgpass --from-file=%s=./pgpass" $v.sources.pgpass.key $v.sources.pgpass.key) -}}
{{- end -}}
{{- if and $creds.keys.password (not $creds.existingSecret) (not $creds.values.password) (not $sources) -}}
{{- $missing = append $missing (printf "credentials.existingSecret: a Secret holding the database password under the key %q (kubectl create secret generic daily-report-db --from-literal=%s=...); for development only, credentials.values.password instead; for a role without a password, credentials.keys.password=\"\"" $creds.keys.password $creds.keys.password) -}}
{{- end -}}
{{- if eq $v.storage.provider "s3" -}}
{{- if not $v.storage.s3.region -}}
{{- $missing = append $missing "storage.s3.region: the bucket's AWS region (AWS_REGION), e.g. --set storage.s3.region=sa-east-1 (any value for an S3-compatible endpoint)" -}}
{{- end -}}
{{- else -}}
{{- $azure := $v.storage.azure -}}
{{- if $azure.workloadIdentity.enabled -}}
{{- if not $azure.accountUrl -}}
{{- $missing = append $missing "storage.azure.accountUrl: the storage account URL workload identity authenticates to, e.g. https://acct.blob.core.windows.net" -}}
{{- end -}}
{{- if and (not $azure.workloadIdentity.clientId) $v.serviceAccount.create (not (hasKey $v.serviceAccount.annotations "azure.workload.identity/client-id")) -}}
{{- $missing = append $missing "storage.azure.workloadIdentity.clientId: the client id of the managed identity (the ServiceAccount's azure.workload.identity/client-id annotation)" -}}
{{- end -}}
{{- else if not $azure.accountUrl -}}
{{- if not $creds.keys.azureConnectionString -}}
{{- $missing = append $missing "credentials.keys.azureConnectionString: the Secret key of the Azure Storage connection string (or storage.azure.accountUrl with workload identity)" -}}
{{- else if and (not $creds.existingSecret) (not $creds.values.azureConnectionString) -}}
{{- $missing = append $missing (printf "credentials.existingSecret: a Secret holding the Azure Storage connection string under the key %q; for development only, credentials.values.azureConnectionString instead; or storage.azure.accountUrl with storage.azure.workloadIdentity.enabled=true" $creds.keys.azureConnectionString) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- if $creds.existingSecret -}}
{{- range $name, $value := $creds.values -}}
{{- if $value -}}
{{- $contradictions = append $contradictions (printf "credentials.values.%s is set but credentials.existingSecret=%s is used, so it would be ignored: put it in that Secret (key credentials.keys.%s) and unset credentials.values.%s" $name $creds.existingSecret $name $name) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- range $name := list "password" "awsCredentials" "alertWebhookUrl" -}}
{{- if and (get $creds.values $name) (not (get $creds.keys $name)) -}}
{{- $contradictions = append $contradictions (printf "credentials.values.%s is set but credentials.keys.%s is empty, so it would be ignored: set the key (e.g. %s) or unset the value" $name $name (kebabcase $name)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $serviceNames := list -}}
{{- $serviceDatabases := dict -}}
{{- range $sources -}}
{{- if has .name $serviceNames -}}
{{- $contradictions = append $contradictions (printf "sources.services names %s twice: the report would hold its rows twice; list each service once" .name) -}}
{{- end -}}
{{- $serviceNames = append $serviceNames .name -}}
{{- $target := printf "%s:%v/%s" .host (.port | default 5432) .dbname -}}
{{- if hasKey $serviceDatabases $target -}}
{{- $contradictions = append $contradictions (printf "sources.services %s and %s are the same database (%s): the report would hold its rows twice; list it once" (get $serviceDatabases $target) .name $target) -}}
{{- else -}}
{{- $_ := set $serviceDatabases $target .name -}}
{{- end -}}
{{- end -}}
{{- if and $sources $v.database.host -}}
{{- $contradictions = append $contradictions (printf "database.host=%s is set with sources.services, which name their own hosts, so it would be ignored: unset database.host (database.user and database.sslMode remain the services' defaults)" $v.database.host) -}}
{{- end -}}
{{- if and $sources $creds.values.password -}}
{{- $contradictions = append $contradictions "credentials.values.password is set with sources.services, whose passwords are in the sources.pgpass Secret, so it would be ignored: unset it" -}}
{{- end -}}
{{- if and (eq $v.storage.provider "s3") $v.storage.azure.workloadIdentity.enabled -}}
{{- $contradictions = append $contradictions "storage.azure.workloadIdentity.enabled=true with storage.provider=s3: workload identity is for Azure; set storage.provider=azure or disable it" -}}
{{- end -}}
{{- if and (eq $v.storage.provider "azure") $v.storage.s3.roleArn -}}
{{- $contradictions = append $contradictions "storage.s3.roleArn is set with storage.provider=azure: IRSA is for S3; unset it or set storage.provider=s3" -}}
{{- end -}}
{{- if and (eq $v.storage.provider "azure") $v.storage.s3.endpoint -}}
{{- $contradictions = append $contradictions "storage.s3.endpoint is set with storage.provider=azure: it would be ignored; unset it or set storage.provider=s3" -}}
{{- end -}}
{{- if and $v.database.caCertificate.configMap (eq $v.database.sslMode "disable") -}}
{{- $contradictions = append $contradictions "database.caCertificate.configMap is set with database.sslMode=disable: the CA verifies a TLS connection; set database.sslMode=verify-full (or unset the CA)" -}}
{{- end -}}
{{- if and $v.alerts.webhook.onSuccess (not $creds.keys.alertWebhookUrl) -}}
{{- $contradictions = append $contradictions "alerts.webhook.onSuccess=true without a webhook: set credentials.keys.alertWebhookUrl (and the URL in the Secret)" -}}
{{- end -}}
{{- if and $v.job.ttlSecondsAfterFinished $v.alerts.prometheusRule.enabled (lt (int $v.job.ttlSecondsAfterFinished) 93600) -}}
{{- $contradictions = append $contradictions (printf "job.ttlSecondsAfterFinished=%v deletes a failed Job before alerts.prometheusRule's 26 h window ends, silencing DailyReportJobFailed: unset it or make it at least 93600" $v.job.ttlSecondsAfterFinished) -}}
{{- end -}}
{{- $keySuffix := regexFind "\\.(gz|zst)$" $v.report.keyTemplate -}}
{{- if and $keySuffix (ne $keySuffix (get (dict "none" "" "gzip" ".gz" "zstd" ".zst") $v.report.compression)) -}}
{{- $contradictions = append $contradictions (printf "report.keyTemplate ends in %s but report.compression is %s: set report.compression=%s, or remove %s from the template (the worker appends the suffix itself)" $keySuffix $v.report.compression (ternary "gzip" "zstd" (eq $keySuffix ".gz")) $keySuffix) -}}
{{- end -}}
{{- $chartEnv := include "daily-report.chartEnvNames" . | fromJsonArray -}}
{{- range $v.extraEnv -}}
{{- if has .name $chartEnv -}}
{{- $contradictions = append $contradictions (printf "extraEnv sets %s, which the chart sets from its values: set the value instead (see the chart README%s)" .name (ternary ", report.keyTemplate" "" (eq .name "REPORT_KEY_TEMPLATE"))) -}}
{{- else if has (printf "%s_FILE" .name) $chartEnv -}}
{{- /* The worker refuses X beside X_FILE (exit 2); the value is not shown: PGPASSWORD and its kin are secrets. */ -}}
{{- $contradictions = append $contradictions (printf "extraEnv sets %s, while the chart sets %s_FILE (a file from the Secret): the worker refuses both at once; put the value in the Secret (credentials.*) and remove it from extraEnv" .name .name) -}}
{{- else if and (hasSuffix "_FILE" .name) (has (trimSuffix "_FILE" .name) $chartEnv) -}}
{{- $contradictions = append $contradictions (printf "extraEnv sets %s, while the chart sets %s from its values: the worker refuses both at once; set the value instead" .name (trimSuffix "_FILE" .name)) -}}
{{- end -}}
{{- end -}}
{{- /*
A name with one of the worker's prefixes that the worker does not know is a typo or a setting that no
longer exists: the worker refuses a near-miss (REPORT_LOCK_LEAS) with exit 2 at 01:00 and ignores the
rest, the setting meant keeping its default. files/worker-settings.json is the worker's list
(`npm run docs:config` writes it from the settings spec).
*/ -}}
{{- $worker := .Files.Get "files/worker-settings.json" | fromJson -}}
{{- range $v.extraEnv -}}
{{- $name := .name -}}
{{- $ours := false -}}
{{- range $worker.prefixes -}}
{{- if hasPrefix . $name -}}{{- $ours = true -}}{{- end -}}
{{- end -}}
{{- if and $ours (not (has $name $worker.variables)) -}}
{{- $contradictions = append $contradictions (printf "extraEnv sets %s, which is not a setting of daily-report (a typo, or a setting that no longer exists): the worker would refuse it or ignore it; the settings are listed in docs/configuration.md" $name) -}}
{{- end -}}
{{- end -}}
{{- /* The worker's secret settings (secret: true in its spec; test/chart/chart-worker-agreement.test.ts keeps this list whole). */ -}}
{{- $secretSettings := list "PGPASSWORD" "AZURE_STORAGE_CONNECTION_STRING" "ALERT_WEBHOOK_URL" "OTEL_EXPORTER_OTLP_HEADERS" -}}
{{- range $v.extraEnv -}}
{{- if and (has .name $secretSettings) (hasKey . "value") -}}
{{- $contradictions = append $contradictions (printf "extraEnv gives %s a literal value, which would be written into the CronJob for anyone who can read it (not shown here): take it from a Secret with valueFrom.secretKeyRef%s" .name (ternary ", or better put it in the chart's Secret (credentials.*), mounted as a file" "" (ne .name "OTEL_EXPORTER_OTLP_HEADERS"))) -}}
{{- end -}}
{{- end -}}
{{- /*
With a cluster to ask (helm install, upgrade, test; `helm template` has none and lookup returns nothing), an
existing Secret or ConfigMap the pod mounts must hold the key it mounts: without it the pod waits in
ContainerCreating from 01:00 until the Job's deadline. One not created yet is left alone (an operator may
create it after the release, e.g. external-secrets); NOTES.txt says so.
*/ -}}
{{- range (include "daily-report.mountedKeys" . | fromJsonArray) -}}
{{- $kind := index . 0 -}}{{- $name := index . 1 -}}{{- $key := index . 2 -}}{{- $value := index . 3 -}}
{{- $found := lookup "v1" $kind $.Release.Namespace $name -}}
{{- if $found -}}
{{- $keys := concat (keys ($found.data | default dict)) (keys ($found.binaryData | default dict)) | sortAlpha -}}
{{- if not (has $key $keys) -}}
{{- $missing = append $missing (printf "%s: %s %s in namespace %s has no key %q, so the pod could not start; its keys: %s (set %s to one of them, or add the key)" $value $kind $name $.Release.Namespace $key (join ", " $keys | default "none") $value) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $invalid := include "daily-report.workerRuleProblems" . | fromJsonArray -}}
{{- $invalid = concat $invalid (include "daily-report.scheduleProblems" . | fromJsonArray) -}}

{{- if or $missing $contradictions $invalid -}}
{{- $message := "\n\ndaily-report cannot be installed with these values: the job would fail on its first night." -}}
{{- if $missing -}}
{{- $message = printf "%s\n\nSet (in a values file or with --set):\n  - %s" $message (join "\n  - " $missing) -}}
{{- end -}}
{{- if $contradictions -}}
{{- $message = printf "%s\n\nResolve these contradictions:\n  - %s" $message (join "\n  - " $contradictions) -}}
{{- end -}}
{{- if $invalid -}}
{{- $message = printf "%s\n\nFix these values (each would fail the Job when it runs, with exit 2, or keep it from ever running):\n  - %s" $message (join "\n  - " $invalid) -}}
{{- end -}}
{{- fail (printf "%s\n\nEvery value is described in the chart's README.md (helm show readme).\n" $message) -}}
{{- end -}}
{{- end -}}
