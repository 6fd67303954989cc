{{/* The chart name, or nameOverride. */}}
{{- define "scopedns.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every resource name: fullnameOverride, else the release name
(plus the chart name when the release name does not contain it). Truncated so
that the longest suffix added ("-validating-webhook-configuration") still fits
in 63 characters where it matters for Services.
*/}}
{{- define "scopedns.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "scopedns.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "scopedns.labels" -}}
helm.sh/chart: {{ include "scopedns.chart" . }}
{{ include "scopedns.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: scopedns
{{- end }}

{{/* Labels selecting the manager pods. */}}
{{- define "scopedns.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scopedns.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "scopedns.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "scopedns.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "scopedns.webhookServiceName" -}}
{{- printf "%s-webhook-service" (include "scopedns.fullname" .) }}
{{- end }}

{{- define "scopedns.webhookCertSecretName" -}}
{{- printf "%s-webhook-cert" (include "scopedns.fullname" .) }}
{{- end }}

{{- define "scopedns.certificateName" -}}
{{- printf "%s-serving-cert" (include "scopedns.fullname" .) }}
{{- end }}

{{- define "scopedns.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Checks the values that no schema can: fails rendering with a message that
says what to set. Included by the Deployment.
*/}}
{{- define "scopedns.validate" -}}
{{- $cluster := required "clusterName is required: the name of this cluster (e.g. --set clusterName=prod-eu1), at most 32 characters and unique among the clusters that share a DNS provider account" .Values.clusterName }}
{{- if gt (len $cluster) 32 }}
{{- fail (printf "clusterName %q is %d characters long: at most 32 fit in a record's ownership comment" $cluster (len $cluster)) }}
{{- end }}
{{- if not (or .Values.webhook.certManager.enabled .Values.webhook.selfSigned) }}
{{- fail "the webhook needs serving certificates: set webhook.certManager.enabled=true (cert-manager) or webhook.selfSigned=true" }}
{{- end }}
{{- end }}

{{/*
The HTTP gateway Service's port: as set, or 443 with TLS and 80 without.
*/}}
{{- define "scopedns.httpGatewayPort" -}}
{{- $hg := .Values.httpGateway -}}
{{- if $hg.service.port -}}{{ int $hg.service.port }}{{- else if $hg.tls.secretName -}}443{{- else -}}80{{- end -}}
{{- end }}

{{/*
The URL tenants reach the HTTP gateway at: as set, or the Service's.
*/}}
{{- define "scopedns.httpGatewayURL" -}}
{{- $hg := .Values.httpGateway -}}
{{- if $hg.url -}}{{ $hg.url }}{{- else -}}
{{- printf "%s://%s-http-gateway.%s.svc:%s" (ternary "https" "http" (not (empty $hg.tls.secretName))) (include "scopedns.fullname" .) .Release.Namespace (include "scopedns.httpGatewayPort" .) -}}
{{- end -}}
{{- end }}
