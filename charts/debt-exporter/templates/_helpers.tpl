{{/*
Name of the chart, or nameOverride.
*/}}
{{- define "debt-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, at most 63 characters (DNS label). A release name
that already contains the chart name is used as is.
*/}}
{{- define "debt-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "debt-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "debt-exporter.labels" -}}
helm.sh/chart: {{ include "debt-exporter.chart" . }}
{{ include "debt-exporter.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: debt-exporter
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: fixed for the life of a release (a Deployment's selector
cannot change).
*/}}
{{- define "debt-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "debt-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Name of the ServiceAccount to use.
*/}}
{{- define "debt-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "debt-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Namespace of the release's objects.
*/}}
{{- define "debt-exporter.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{/*
Image reference: a digest, when given, pins the image whatever the tag.
*/}}
{{- define "debt-exporter.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
Where the chart mounts files in the container. Fixed paths: the flags and the
accounts file refer to them.
*/}}
{{- define "debt-exporter.privateKeyFile" -}}/etc/debt-exporter/private-key/private-key{{- end }}
{{- define "debt-exporter.accountKeysDir" -}}/etc/debt-exporter/accounts{{- end }}
{{- define "debt-exporter.configFile" -}}/etc/debt-exporter/config/accounts.yml{{- end }}
{{- define "debt-exporter.webConfigDir" -}}/etc/debt-exporter/web{{- end }}

{{/*
Whether the exporter is configured with an account of its own by flags
(privateKey.existingSecret), and whether it has an accounts file.
*/}}
{{- define "debt-exporter.flagAccount" -}}
{{- if .Values.privateKey.existingSecret.name }}true{{ end }}
{{- end }}

{{/*
Configuration errors that a schema cannot express, reported at render time
with one clear line each. Included by the Deployment.
*/}}
{{- define "debt-exporter.validate" -}}
{{- $pk := .Values.privateKey.existingSecret }}
{{- if and (not $pk.name) (not .Values.accounts) }}
{{- fail "debt-exporter: no API credentials. Set privateKey.existingSecret.name (and .key) to an existing Secret holding the private key, or list accounts. The chart never takes a key value." }}
{{- end }}
{{- if and $pk.name (not $pk.key) }}
{{- fail "debt-exporter: privateKey.existingSecret.key is empty: name the key of Secret privateKey.existingSecret.name that holds the private key." }}
{{- end }}
{{- $pub := .Values.publicKey }}
{{- if and $pub.value $pub.existingSecret.name }}
{{- fail "debt-exporter: set publicKey.value or publicKey.existingSecret, not both." }}
{{- end }}
{{- if and $pk.name (not $pub.value) (not $pub.existingSecret.name) }}
{{- fail "debt-exporter: privateKey.existingSecret is set but the public key is not: set publicKey.value or publicKey.existingSecret.name." }}
{{- end }}
{{- if and (not $pk.name) (or $pub.value $pub.existingSecret.name) }}
{{- fail "debt-exporter: a public key is set without privateKey.existingSecret: set both, or neither and list accounts." }}
{{- end }}
{{- if and .Values.accounts (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "debt-exporter: replicaCount is %d with accounts: the replicas' series of an account would share its job and instance, and the rules would add them up. Use 1." (int .Values.replicaCount)) }}
{{- end }}
{{- $seen := dict }}
{{- range $i, $a := .Values.accounts }}
{{- if hasKey $seen $a.name }}
{{- fail (printf "debt-exporter: accounts[%d]: name %q is used twice; account names must be unique." $i $a.name) }}
{{- end }}
{{- $_ := set $seen $a.name true }}
{{- end }}
{{- range .Values.extraArgs }}
{{- if regexMatch "^--api[.]private-key(=|$)" . }}
{{- fail "debt-exporter: extraArgs: the private key is never an argument (anyone who can read the Deployment or run ps would see it): use privateKey.existingSecret." }}
{{- end }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if eq (toString .name) "DEBT_EXPORTER_PRIVATE_KEY" }}
{{- fail "debt-exporter: extraEnv: DEBT_EXPORTER_PRIVATE_KEY is not set by the chart (a value would be in clear in the Deployment, and the exporter refuses it beside the key file the chart mounts): use privateKey.existingSecret." }}
{{- end }}
{{- end }}
{{- $wc := .Values.webConfig }}
{{- if and $wc.enabled (not $wc.existingSecret.name) }}
{{- fail "debt-exporter: webConfig.enabled is true but webConfig.existingSecret.name is empty: name the Secret holding the exporter-toolkit web config." }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled $wc.enabled $wc.basicAuth (not .Values.serviceMonitor.basicAuth) }}
{{- fail "debt-exporter: webConfig.basicAuth is true but serviceMonitor.basicAuth is empty: Prometheus would be refused (HTTP 401). Set serviceMonitor.basicAuth.username and .password to Secret keys." }}
{{- end }}
{{- end }}

{{/*
HTTP scheme the exporter serves.
*/}}
{{- define "debt-exporter.scheme" -}}
{{- if and .Values.webConfig.enabled .Values.webConfig.tls }}https{{ else }}http{{ end }}
{{- end }}

{{/*
Probe handler. The probes hit the landing page "/", never the metrics path:
a scrape of /metrics sweeps the provider API (paid, rate-limited calls).
With basic auth every path answers 401 without credentials, and kubelet
counts 401 as a failure; putting the password in the probe's httpHeaders
would write it in clear into the Deployment. The same holds when TLS
requires client certificates (kubelet presents none). In both cases the
probe is tcpSocket: it proves the listener is up without credentials.
With TLS alone, kubelet speaks HTTPS and does not verify the certificate.
*/}}
{{- define "debt-exporter.probeHandler" -}}
{{- $wc := .Values.webConfig }}
{{- if and $wc.enabled (or $wc.basicAuth $wc.clientCertificates) }}
tcpSocket:
  port: http
{{- else }}
httpGet:
  path: /
  port: http
  scheme: {{ include "debt-exporter.scheme" . | upper }}
{{- end }}
{{- end }}

{{/*
The rules' selector of the exporter's job. The rule files select
job="debt"; under the Prometheus Operator the job label is the Service name
unless serviceMonitor.jobLabel says otherwise.
*/}}
{{- define "debt-exporter.ruleSelector" -}}
{{- .Values.prometheusRule.selector | default (printf "job=%q" (include "debt-exporter.fullname" .)) }}
{{- end }}

{{/*
A number or string from values as text. Values files hold numbers as
floats, which print as 1e+06: whole numbers print as integers.
*/}}
{{- define "debt-exporter.number" -}}
{{- if kindIs "string" . }}
{{- . }}
{{- else if and (kindIs "float64" .) (eq (floor .) .) (lt . 1e15) (gt . -1e15) }}
{{- int64 . }}
{{- else }}
{{- . }}
{{- end }}
{{- end }}

{{/*
Account filters from values (camelCase) to the exporter's names: flag
suffixes and accounts-file keys.
*/}}
{{- define "debt-exporter.filterNames" -}}
resourceId: resource-id
model: model
pricingUnit: pricing-unit
orderType: order-type
region: region
pricingSku: pricing-sku
productCode: product-code
{{- end }}

{{/*
The exporter's command line, as a YAML list. Every value is quoted by
toYaml, so no value can break the list. Empty values leave their flag out.
*/}}
{{- define "debt-exporter.args" -}}
{{- $v := .Values }}
{{- $args := list (printf "--web.listen-address=:%v" $v.containerPort) }}
{{- if include "debt-exporter.flagAccount" . }}
{{- $args = append $args (printf "--api.private-key-file=%s" (include "debt-exporter.privateKeyFile" .)) }}
{{- end }}
{{- $flags := list
  (list "api.endpoint" $v.api.endpoint)
  (list "api.project-id" $v.api.projectId)
  (list "api.timeout" $v.api.timeout)
  (list "api.page-size" $v.api.pageSize)
  (list "api.concurrency" $v.api.concurrency)
  (list "window" $v.window)
  (list "sweep.interval" $v.sweep.interval)
  (list "sweep.max-timeout" $v.sweep.maxTimeout) }}
{{- range $flags }}
{{- if not (kindIs "invalid" (index . 1)) }}
{{- if ne (toString (index . 1)) "" }}
{{- $args = append $args (printf "--%s=%s" (index . 0) (include "debt-exporter.number" (index . 1))) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $key, $flag := include "debt-exporter.filterNames" . | fromYaml }}
{{- range (get $v.filters $key) }}
{{- $args = append $args (printf "--filter.%s=%s" $flag (include "debt-exporter.number" .)) }}
{{- end }}
{{- end }}
{{- if $v.accounts }}
{{- $args = append $args (printf "--config.file=%s" (include "debt-exporter.configFile" .)) }}
{{- end }}
{{- if $v.enableLifecycle }}
{{- $args = append $args "--web.enable-lifecycle" }}
{{- end }}
{{- if $v.webConfig.enabled }}
{{- $args = append $args (printf "--web.config.file=%s/%s" (include "debt-exporter.webConfigDir" .) $v.webConfig.existingSecret.key) }}
{{- end }}
{{- $args = append $args (printf "--log.level=%s" $v.log.level) }}
{{- $args = append $args (printf "--log.format=%s" $v.log.format) }}
{{- range $v.extraArgs }}
{{- $args = append $args . }}
{{- end }}
{{- toYaml $args }}
{{- end }}

{{/*
Dashboard panels that draw a threshold of alerts/thresholds.yaml as their
last threshold step, by file and panel id (panels nested in rows included).
The same panels as thresholdPanels in mixin/dashboards.libsonnet;
charts/test checks that the two lists agree.
*/}}
{{- define "debt-exporter.thresholdPanels" -}}
debt-outstanding.json:
  "2": debt:threshold_last_success_age_seconds
  "8": debt:threshold_oldest_unpaid_order_age_seconds
  "14": debt:threshold_oldest_unpaid_order_age_seconds
debt-exporter-health.json:
  "3": debt:threshold_last_success_age_seconds
  "9": debt:threshold_last_success_age_seconds
{{- end }}

{{/*
A threshold that the dashboards draw, as a number: a number, or a string
that is a product of numbers ("7 * 86400"), as the mixin accepts. A line
cannot be drawn at any other PromQL expression, nor at one value per label
set, so anything else fails the render, naming .what. Prints the number;
%v of a float64 reads back exactly.
*/}}
{{- define "debt-exporter.thresholdNumber" -}}
{{- $v := .value }}
{{- $n := 1.0 }}
{{- $ok := true }}
{{- if has (kindOf $v) (list "float64" "float32" "int" "int64" "int32" "uint64") }}
{{- $n = float64 $v }}
{{- else if kindIs "string" $v }}
{{- range splitList "*" $v }}
{{- $f := trim . }}
{{- /* float64 reads an unparsable string as 0: check the syntax first. */}}
{{- if regexMatch "^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$" $f }}
{{- $n = mulf $n (float64 $f) }}
{{- else }}
{{- $ok = false }}
{{- end }}
{{- end }}
{{- else }}
{{- $ok = false }}
{{- end }}
{{- if not $ok }}
{{- fail (printf "debt-exporter: %s: the dashboards draw it as one line, so it must be a number or a product of numbers (e.g. 7 * 86400), not %s." .what (toJson $v | trunc 100)) }}
{{- end }}
{{- printf "%v" $n }}
{{- end }}
