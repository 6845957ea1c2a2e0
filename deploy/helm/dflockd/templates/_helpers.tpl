{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "dflockd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; pods are <fullname>-<ordinal>, so keep room for it. */}}
{{- define "dflockd.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dflockd.headless" -}}
{{- printf "%s-headless" (include "dflockd.fullname" .) }}
{{- end }}

{{- define "dflockd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dflockd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "dflockd.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "dflockd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: lock-server
{{- end }}

{{- define "dflockd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dflockd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "dflockd.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "dflockd.testImage" -}}
{{- $repo := default .Values.image.repository .Values.tests.image.repository }}
{{- $tag := default (default .Chart.AppVersion .Values.image.tag) .Values.tests.image.tag }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}

{{- define "dflockd.authSecretName" -}}
{{- default (printf "%s-auth" (include "dflockd.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{/* Durable mode with several shards: each shard is its own group of replicas. */}}
{{- define "dflockd.durableShards" -}}
{{- if and .Values.durable.enabled (gt (int .Values.shards) 1) }}true{{- end }}
{{- end }}

{{/* The StatefulSets (a JSON list): one, or with durable shards one per shard
     (<fullname>-shard-<i>, labelled dflockd.io/shard), each with its shard index
     and etcd prefix. */}}
{{- define "dflockd.groups" -}}
{{- $fullname := include "dflockd.fullname" . }}
{{- $prefix := default (printf "/dflockd/%s" $fullname) .Values.durable.etcd.prefix }}
{{- $groups := list }}
{{- if include "dflockd.durableShards" . }}
{{- range $i := until (int .Values.shards) }}
{{- $groups = append $groups (dict "name" (printf "%s-shard-%d" $fullname $i) "replicas" (int $.Values.durable.replicas) "shardSelf" (toString $i) "etcdPrefix" (printf "%s/%d" $prefix $i) "labels" (dict "dflockd.io/shard" (toString $i))) }}
{{- end }}
{{- else }}
{{- $groups = append $groups (dict "name" $fullname "replicas" (int (.Values.durable.enabled | ternary .Values.durable.replicas .Values.shards)) "shardSelf" "auto" "etcdPrefix" $prefix "labels" (dict)) }}
{{- end }}
{{- toJson $groups }}
{{- end }}

{{/* Ordered native addresses of the shards: clients route by crc32(key) % count.
     A pod per shard (headless names), or with durable shards each shard's Service
     (it reaches any replica; each forwards to its leader). */}}
{{- define "dflockd.shardAddresses" -}}
{{- $addresses := list }}
{{- range $i := until (int .Values.shards) }}
{{- if include "dflockd.durableShards" $ }}
{{- $addresses = append $addresses (printf "%s-shard-%d.%s.svc.%s:%d" (include "dflockd.fullname" $) $i $.Release.Namespace $.Values.clusterDomain (int $.Values.ports.native)) }}
{{- else if $.Values.durable.enabled }}
{{- $addresses = append $addresses (printf "%s.%s.svc.%s:%d" (include "dflockd.fullname" $) $.Release.Namespace $.Values.clusterDomain (int $.Values.ports.native)) }}
{{- else }}
{{- $addresses = append $addresses (printf "%s-%d.%s.%s.svc.%s:%d" (include "dflockd.fullname" $) $i (include "dflockd.headless" $) $.Release.Namespace $.Values.clusterDomain (int $.Values.ports.native)) }}
{{- end }}
{{- end }}
{{- join "," $addresses }}
{{- end }}

{{/* Durable mode: every replica's native address (each forwards to the leader). */}}
{{- define "dflockd.replicaAddresses" -}}
{{- $addresses := list }}
{{- range $g := include "dflockd.groups" . | fromJsonArray }}
{{- range $i := until (int $g.replicas) }}
{{- $addresses = append $addresses (printf "%s-%d.%s.%s.svc.%s:%d" $g.name $i (include "dflockd.headless" $) $.Release.Namespace $.Values.clusterDomain (int $.Values.ports.native)) }}
{{- end }}
{{- end }}
{{- join "," $addresses }}
{{- end }}

{{/* Durable mode: the etcd members, as configured or as deployed by this chart. */}}
{{- define "dflockd.etcdEndpoints" -}}
{{- if .Values.durable.etcd.endpoints }}
{{- join "," .Values.durable.etcd.endpoints }}
{{- else }}
{{- $fullname := include "dflockd.fullname" . }}
{{- $members := list }}
{{- range $i := until 3 }}
{{- $members = append $members (printf "%s-etcd-%d.%s-etcd.%s.svc.%s:2379" $fullname $i $fullname $.Release.Namespace $.Values.clusterDomain) }}
{{- end }}
{{- join "," $members }}
{{- end }}
{{- end }}

{{/* Which probe kind the pods use (see values.yaml, probes.type). */}}
{{- define "dflockd.probeType" -}}
{{- if ne .Values.probes.type "auto" }}
{{- .Values.probes.type }}
{{- else if ne (int .Values.ports.http) 0 }}
{{- "http" }}
{{- else if and (ne (int .Values.ports.grpc) 0) (not .Values.tls.enabled) }}
{{- "grpc" }}
{{- else }}
{{- "tcp" }}
{{- end }}
{{- end }}

{{/* One probe's handler for the chosen kind; `path` is used by HTTP probes. */}}
{{- define "dflockd.probeHandler" -}}
{{- $type := include "dflockd.probeType" .root }}
{{- if eq $type "http" }}
httpGet:
  path: {{ .path }}
  port: http
  scheme: {{ ternary "HTTPS" "HTTP" .root.Values.tls.enabled }}
{{- else if eq $type "grpc" }}
grpc:
  port: {{ .root.Values.ports.grpc }}
{{- else }}
tcpSocket:
  port: native
{{- end }}
{{- end }}

{{/* Rules the schema cannot express; a bad combination fails the render. */}}
{{- define "dflockd.validate" -}}
{{- if le (int .Values.terminationGracePeriodSeconds) (int .Values.server.shutdownTimeoutSeconds) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be larger than server.shutdownTimeoutSeconds (%d): the pod is killed before it has drained" (int .Values.terminationGracePeriodSeconds) (int .Values.server.shutdownTimeoutSeconds)) }}
{{- end }}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) }}
{{- fail "tls.enabled needs tls.existingSecret: a kubernetes.io/tls Secret (tls.crt, tls.key), e.g. from cert-manager" }}
{{- end }}
{{- $type := include "dflockd.probeType" . }}
{{- if and (eq $type "http") (eq (int .Values.ports.http) 0) }}
{{- fail "probes.type http needs ports.http" }}
{{- end }}
{{- if and (eq $type "grpc") (eq (int .Values.ports.grpc) 0) }}
{{- fail "probes.type grpc needs ports.grpc" }}
{{- end }}
{{- if and (eq $type "grpc") .Values.tls.enabled }}
{{- fail "probes.type grpc cannot check a TLS port (kubelet's gRPC probe speaks plaintext): use tcp or http" }}
{{- end }}
{{- if .Values.durable.enabled }}
{{- if and (gt (int .Values.shards) 1) (not .Values.shardRouting) }}
{{- fail "durable.enabled with several shards needs shardRouting: true (a replica forwards other shards' keys)" }}
{{- end }}
{{- if and (not .Values.durable.etcd.endpoints) (not .Values.durable.etcd.deploy) }}
{{- fail "durable.enabled needs durable.etcd.endpoints (or durable.etcd.deploy: true)" }}
{{- end }}
{{- if and .Values.durable.etcd.tls.enabled (not .Values.durable.etcd.tls.existingSecret) }}
{{- fail "durable.etcd.tls.enabled needs durable.etcd.tls.existingSecret (ca.crt, and tls.crt/tls.key for client certificates)" }}
{{- end }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (eq (int .Values.ports.http) 0) }}
{{- fail "metrics.serviceMonitor needs ports.http (/metrics is served there)" }}
{{- end }}
{{- end }}
