{{- define "tenantgate.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tenantgate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tenantgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tenantgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: proxy
{{- end -}}

{{- define "tenantgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "tenantgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "tenantgate.tlsSecret" -}}
{{- .Values.tls.existingSecret | default (printf "%s-tls" (include "tenantgate.fullname" .)) -}}
{{- end -}}

{{- define "tenantgate.tokenSecret" -}}
{{- .Values.adminToken.existingSecret | default (printf "%s-admin-token" (include "tenantgate.fullname" .)) -}}
{{- end -}}

{{/* A tenantgate duration ("500ms", "60s", "5m", "1h") in whole seconds, rounded up. */}}
{{- define "tenantgate.seconds" -}}
{{- $d := toString . -}}
{{- $n := regexFind "^[0-9]+" $d -}}
{{- $unit := trimPrefix $n $d -}}
{{- if not $n -}}{{- fail (printf "not a duration: %q" $d) -}}{{- end -}}
{{- $n = atoi $n -}}
{{- if eq $unit "ms" -}}{{- div (add $n 999) 1000 -}}
{{- else if eq $unit "s" -}}{{- $n -}}
{{- else if eq $unit "m" -}}{{- mul $n 60 -}}
{{- else if eq $unit "h" -}}{{- mul $n 3600 -}}
{{- else -}}{{- fail (printf "not a duration: %q" $d) -}}
{{- end -}}
{{- end -}}

{{/* The longest drain: propagation wait, the longest web request, WebSocket grace, slack. */}}
{{- define "tenantgate.drainSeconds" -}}
{{- $response := include "tenantgate.seconds" (dig "timeouts" "upstream_response" "60s" .Values.config) | atoi -}}
{{- add (int .Values.drain.propagationSeconds) $response 5 5 -}}
{{- end -}}
