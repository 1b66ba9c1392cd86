{{/*
The worker's pod, shared by the CronJob (command "run") and the `helm test` hook (command "validate"),
so the check before the first night runs with exactly the image, environment, mounts and security context
the nightly run will have. Called with (dict "root" $ "command" "run").
*/}}
{{- define "daily-report.podSpec" -}}
{{- with .root -}}
{{- $secretFiles := include "daily-report.secretFiles" . | fromJsonArray -}}
restartPolicy: Never
serviceAccountName: {{ include "daily-report.serviceAccountName" . }}
# The token is mounted only when the worker talks to the Kubernetes API.
automountServiceAccountToken: {{ .Values.alerts.kubernetes.enabled }}
terminationGracePeriodSeconds: {{ .Values.job.terminationGracePeriodSeconds }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
containers:
  - name: daily-report
    image: {{ include "daily-report.image" . | quote }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    args: [{{ $.command | quote }}]
    securityContext:
      {{- toYaml .Values.securityContext | nindent 6 }}
    env:
      {{- include "daily-report.env" . | nindent 6 }}
      {{- with .Values.extraEnv }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    resources:
      {{- include "daily-report.resources" . | nindent 6 }}
    volumeMounts:
      - name: sql
        mountPath: /etc/daily-report/sql
        readOnly: true
      {{- if $secretFiles }}
      - name: credentials
        mountPath: /etc/daily-report/credentials
        readOnly: true
      {{- end }}
      {{- if .Values.database.caCertificate.configMap }}
      - name: db-ca
        mountPath: /etc/daily-report/db-ca
        readOnly: true
      {{- end }}
      {{- if .Values.sources.services }}
      - name: pg-service
        mountPath: /etc/daily-report/pg-service
        readOnly: true
      - name: pgpass
        mountPath: /etc/daily-report/pgpass
        readOnly: true
      {{- end }}
      {{- if gt (int .Values.parallelism) 1 }}
      - name: spill
        mountPath: {{ include "daily-report.spillDir" . }}
      {{- end }}
volumes:
  - name: sql
    configMap:
      name: {{ include "daily-report.sqlConfigMapName" . }}
      defaultMode: 292  # 0444
  {{- if $secretFiles }}
  - name: credentials
    secret:
      secretName: {{ include "daily-report.secretName" . }}
      # Owner-read only; fsGroup (podSecurityContext) lets the non-root worker's group read it.
      defaultMode: 256  # 0400, written in decimal so no YAML parser can read it as 400
      items:
        {{- range $secretFiles }}
        - key: {{ index . 1 }}
          path: {{ index . 1 }}
        {{- end }}
  {{- end }}
  {{- if .Values.database.caCertificate.configMap }}
  - name: db-ca
    configMap:
      name: {{ .Values.database.caCertificate.configMap }}
      defaultMode: 292  # 0444
      items:
        - key: {{ .Values.database.caCertificate.key }}
          path: ca.crt
  {{- end }}
  {{- if .Values.sources.services }}
  - name: pg-service
    configMap:
      name: {{ include "daily-report.pgServiceConfigMapName" . }}
      defaultMode: 292  # 0444
  - name: pgpass
    secret:
      secretName: {{ .Values.sources.pgpass.existingSecret }}
      # The worker refuses a pgpass file others may read (libpq ignores one): 0400, which fsGroup
      # makes 0440 for the worker's group; never the Secret default 0644.
      defaultMode: 256  # 0400
      items:
        - key: {{ .Values.sources.pgpass.key }}
          path: pgpass
  {{- end }}
  {{- if gt (int .Values.parallelism) 1 }}
  # Segments running ahead of the upload (REPORT_SPILL_DIR); gone with the pod.
  - name: spill
    emptyDir:
      sizeLimit: {{ .Values.spill.sizeLimit }}
  {{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
{{- end -}}

