{{/* Names: <release>-accessflow unless the release name already says accessflow. */}}
{{- define "accessflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "accessflow.fullname" -}}
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

{{- define "accessflow.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "accessflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "accessflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "accessflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component: call with (dict "root" $ "component" "worker"). */}}
{{- define "accessflow.componentLabels" -}}
{{ include "accessflow.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "accessflow.componentSelector" -}}
{{ include "accessflow.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "accessflow.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "accessflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "accessflow.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding what the chart was given inline (database URL, passwords, keys). */}}
{{- define "accessflow.secretName" -}}
{{ include "accessflow.fullname" . }}
{{- end }}

{{- define "accessflow.databaseSecret" -}}
{{ .Values.database.existingSecret | default (include "accessflow.secretName" .) }}
{{- end }}

{{- define "accessflow.saslSecret" -}}
{{ .Values.kafka.sasl.existingSecret | default (include "accessflow.secretName" .) }}
{{- end }}

{{- define "accessflow.authSecret" -}}
{{ .Values.auth.existingSecret | default (include "accessflow.secretName" .) }}
{{- end }}

{{- define "accessflow.sasl" -}}
{{- hasPrefix "SASL" .Values.kafka.securityProtocol }}
{{- end }}

{{- define "accessflow.tls" -}}
{{- has .Values.kafka.securityProtocol (list "SSL" "SASL_SSL") }}
{{- end }}

{{- define "accessflow.connectorsConfigMap" -}}
{{ .Values.connectors.existingConfigMap | default (printf "%s-connectors" (include "accessflow.fullname" .)) }}
{{- end }}

{{- define "accessflow.hasConnectors" -}}
{{- or .Values.connectors.existingConfigMap (not (empty .Values.connectors.config)) }}
{{- end }}

{{- define "accessflow.hasAuthFiles" -}}
{{- or (not (empty .Values.auth.publicKeys)) .Values.auth.jwks }}
{{- end }}

{{/*
The ACCESSFLOW_* environment every process shares: connections, topics, group, logging.
Call with the root context.
*/}}
{{- define "accessflow.env" -}}
- name: ACCESSFLOW_KAFKA_BOOTSTRAP_SERVERS
  value: {{ .Values.kafka.bootstrapServers | quote }}
- name: ACCESSFLOW_COMMANDS_TOPIC
  value: {{ .Values.kafka.commandsTopic | quote }}
- name: ACCESSFLOW_EVENTS_TOPIC
  value: {{ .Values.kafka.eventsTopic | quote }}
- name: ACCESSFLOW_DLQ_TOPIC
  value: {{ .Values.kafka.dlqTopic | quote }}
- name: ACCESSFLOW_TOPIC_PARTITIONS
  value: {{ .Values.kafka.topicPartitions | quote }}
- name: ACCESSFLOW_TOPIC_REPLICATION_FACTOR
  value: {{ .Values.kafka.replicationFactor | quote }}
- name: ACCESSFLOW_CONSUMER_GROUP_ID
  value: {{ .Values.kafka.consumerGroup | quote }}
- name: ACCESSFLOW_KAFKA_SECURITY_PROTOCOL
  value: {{ .Values.kafka.securityProtocol | quote }}
{{- if eq (include "accessflow.sasl" .) "true" }}
- name: ACCESSFLOW_KAFKA_SASL_MECHANISM
  value: {{ .Values.kafka.sasl.mechanism | quote }}
- name: ACCESSFLOW_KAFKA_SASL_USERNAME
  value: {{ .Values.kafka.sasl.username | quote }}
- name: ACCESSFLOW_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "accessflow.saslSecret" . }}
      key: {{ .Values.kafka.sasl.existingSecretKey }}
{{- end }}
{{- if and (eq (include "accessflow.tls" .) "true") .Values.kafka.tls.existingSecret }}
- name: ACCESSFLOW_KAFKA_SSL_CAFILE
  value: /etc/accessflow/kafka-tls/ca.crt
{{- if .Values.kafka.tls.clientCertificate }}
- name: ACCESSFLOW_KAFKA_SSL_CERTFILE
  value: /etc/accessflow/kafka-tls/tls.crt
- name: ACCESSFLOW_KAFKA_SSL_KEYFILE
  value: /etc/accessflow/kafka-tls/tls.key
{{- end }}
{{- end }}
- name: ACCESSFLOW_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "accessflow.databaseSecret" . }}
      key: {{ .Values.database.existingSecretKey }}
- name: ACCESSFLOW_DATABASE_SCHEMA
  value: {{ .Values.database.schema | quote }}
- name: ACCESSFLOW_LOG_FORMAT
  value: json
- name: ACCESSFLOW_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- if .Values.tracing.otlpEndpoint }}
- name: OTEL_TRACES_EXPORTER
  value: otlp
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.tracing.otlpEndpoint | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ .Values.tracing.sampler | quote }}
{{- if .Values.tracing.samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ .Values.tracing.samplerArg | quote }}
{{- end }}
{{- end }}
{{- range $name, $value := .Values.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}

{{/* Volumes every pod may mount: a writable /tmp (the root filesystem is read-only), TLS. */}}
{{- define "accessflow.volumes" -}}
- name: tmp
  emptyDir: {}
{{- if and (eq (include "accessflow.tls" .) "true") .Values.kafka.tls.existingSecret }}
- name: kafka-tls
  secret:
    secretName: {{ .Values.kafka.tls.existingSecret }}
{{- end }}
{{- end }}

{{- define "accessflow.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if and (eq (include "accessflow.tls" .) "true") .Values.kafka.tls.existingSecret }}
- name: kafka-tls
  mountPath: /etc/accessflow/kafka-tls
  readOnly: true
{{- end }}
{{- end }}

{{/*
Values that cannot work together fail the render with a message that says why (each value's
own type and bounds are in values.schema.json: e.g. at least 1 worker, since timers,
deliveries and housekeeping run in the workers).
*/}}
{{- define "accessflow.validate" -}}
{{- $partitions := int .Values.kafka.topicPartitions }}
{{- $worker := .Values.worker }}
{{- $max := int $worker.replicaCount }}
{{- $min := int $worker.replicaCount }}
{{- if $worker.autoscaling.enabled }}
{{- $max = int $worker.autoscaling.maxReplicas }}
{{- $min = int $worker.autoscaling.minReplicas }}
{{- end }}
{{- if gt $max $partitions }}
{{- fail (printf "worker replicas (at most %d) exceed kafka.topicPartitions (%d): a worker beyond the partition count gets no partition and never becomes ready; lower worker.autoscaling.maxReplicas / worker.replicaCount or create the topics with more partitions" $max $partitions) }}
{{- end }}
{{- if gt $min $max }}
{{- fail (printf "worker.autoscaling.minReplicas (%d) is larger than worker.autoscaling.maxReplicas (%d)" $min $max) }}
{{- end }}
{{- if lt (int $worker.terminationGracePeriodSeconds) (add (int $worker.shutdownTimeoutSeconds) 15) }}
{{- fail (printf "worker.terminationGracePeriodSeconds (%d) must exceed worker.shutdownTimeoutSeconds (%d) by at least 15 s: after the batch the worker still commits, drains its relay and leaves the group" (int $worker.terminationGracePeriodSeconds) (int $worker.shutdownTimeoutSeconds)) }}
{{- end }}
{{- if and (eq (include "accessflow.sasl" .) "true") (not .Values.kafka.sasl.mechanism) }}
{{- fail "kafka.securityProtocol is SASL_* but kafka.sasl.mechanism is empty" }}
{{- end }}
{{- if and (eq (include "accessflow.sasl" .) "true") (not (has .Values.kafka.sasl.mechanism (list "PLAIN" "SCRAM-SHA-256" "SCRAM-SHA-512"))) }}
{{- fail (printf "kafka.sasl.mechanism %q: the chart supports PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (the ones KEDA's scaler shares)" .Values.kafka.sasl.mechanism) }}
{{- end }}
{{- if and .Values.kafka.tls.clientCertificate (not .Values.kafka.tls.existingSecret) }}
{{- fail "kafka.tls.clientCertificate needs kafka.tls.existingSecret (with ca.crt, tls.crt and tls.key)" }}
{{- end }}
{{- if not (or .Values.database.url .Values.database.existingSecret) }}
{{- fail "set database.url or database.existingSecret" }}
{{- end }}
{{- end }}
