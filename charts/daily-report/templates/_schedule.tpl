{{/*
What the schema's pattern cannot say about `schedule`, checked before anything reaches the cluster:
a step of 0 or a range that runs backwards (the API server refuses both, mid-install), and a day of the
month that no listed month has (`0 1 31 2 *`, `0 1 30 2 *`, `0 1 31 4,6,9,11 *`): a valid cron expression
the API server and the worker accept, whose CronJob never creates a Job. The day-of-week field must be
`*` for the last check: with both restricted, cron fires on either. Returns a JSON list of problems.
*/}}
{{- define "daily-report.scheduleProblems" -}}
{{- $schedule := trim .Values.schedule -}}
{{- $problems := list -}}
{{- if not (hasPrefix "@" $schedule) -}}
{{- $fields := regexSplit "\\s+" $schedule -1 -}}
{{- $names := dict "jan" 1 "feb" 2 "mar" 3 "apr" 4 "may" 5 "jun" 6 "jul" 7 "aug" 8 "sep" 9 "oct" 10 "nov" 11 "dec" 12 "sun" 0 "mon" 1 "tue" 2 "wed" 3 "thu" 4 "fri" 5 "sat" 6 -}}
{{- $bounds := list (list 0 59) (list 0 23) (list 1 31) (list 1 12) (list 0 6) -}}
{{- $months := list -}}
{{- $firstDay := 31 -}}
{{- range $i, $field := $fields -}}
{{- range $item := splitList "," $field -}}
{{- $parts := splitList "/" $item -}}
{{- $base := index $parts 0 -}}
{{- $step := 1 -}}
{{- if gt (len $parts) 1 -}}
{{- $step = int (index $parts 1) -}}
{{- if eq $step 0 }}{{ $problems = append $problems (printf "schedule=%q: the step in %q must be at least 1" $schedule $item) }}{{ $step = 1 }}{{ end -}}
{{- end -}}
{{- $low := index (index $bounds $i) 0 -}}
{{- $high := index (index $bounds $i) 1 -}}
{{- if not (or (eq $base "*") (eq $base "?")) -}}
{{- $ends := list -}}
{{- range splitList "-" $base }}{{ $ends = append $ends (ternary (get $names (lower .)) (int .) (hasKey $names (lower .))) }}{{ end -}}
{{- $low = int (first $ends) -}}
{{- $high = ternary (int (last $ends)) (ternary $high $low (gt (len $parts) 1)) (gt (len $ends) 1) -}}
{{- if gt $low $high }}{{ $problems = append $problems (printf "schedule=%q: the range %q runs backwards" $schedule $base) }}{{ $high = $low }}{{ end -}}
{{- end -}}
{{- if eq $i 2 }}{{ $firstDay = min $firstDay $low }}{{ end -}}
{{- if eq $i 3 }}{{ range $m := untilStep (int $low) (int (add $high 1)) (int $step) }}{{ $months = append $months $m }}{{ end }}{{ end -}}
{{- end -}}
{{- end -}}
{{- if and (eq (len $fields) 5) (has (index $fields 4) (list "*" "?")) (not (has (index $fields 2) (list "*" "?"))) -}}
{{- $longest := 0 -}}
{{- range $months }}{{ $longest = max $longest (index (list 0 31 29 31 30 31 30 31 31 30 31 30 31) .) }}{{ end -}}
{{- if gt $firstDay $longest -}}
{{- $problems = append $problems (printf "schedule=%q: never fires (no month it names has day %d), so the CronJob would never create a Job; e.g. \"0 1 * * *\"" $schedule $firstDay) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $problems -}}
{{- end -}}
