{{/* The release's name, cut to what Kubernetes names allow. */}}
{{- define "switchyard.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "switchyard.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "switchyard.labels" -}}
{{ include "switchyard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "switchyard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "switchyard.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* The admin listener's port, or "" when the configuration sets none. */}}
{{- define "switchyard.adminPort" -}}
{{- $admin := .Values.config.admin | default dict -}}
{{- with $admin.listen -}}
{{- regexReplaceAll "^.*:" . "" -}}
{{- end -}}
{{- end -}}

{{/* The name of the port the probes and the metrics use. */}}
{{- define "switchyard.opsPort" -}}
{{- if include "switchyard.adminPort" . -}}admin{{- else -}}http{{- end -}}
{{- end -}}
