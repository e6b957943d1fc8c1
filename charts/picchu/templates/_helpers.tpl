{{/* Names and labels shared by every template. */}}
{{- define "picchu.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "picchu.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "picchu.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "picchu.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "picchu.selectorLabels" -}}
app.kubernetes.io/name: {{ include "picchu.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "picchu.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "picchu.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "picchu.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "picchu.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The port of a ":8080" or "0.0.0.0:8080" address. */}}
{{- define "picchu.port" -}}
{{- splitList ":" (toString .) | last -}}
{{- end -}}

{{/* The namespace picchu watches and keeps its Secrets in: run.namespace, else the release namespace. */}}
{{- define "picchu.watchedNamespace" -}}
{{- default .Release.Namespace .Values.run.namespace -}}
{{- end -}}

{{/* Where the leader Lease lives (picchu.handlers.leadership.lease_namespace): configured, watched, own. */}}
{{- define "picchu.leaseNamespace" -}}
{{- default (default .Release.Namespace .Values.run.namespace) (index .Values.run "leader-election-namespace") -}}
{{- end -}}

{{/* The kubeconfig path in the pod: run.kubeconfig, else a default when a Secret is mounted, else "". */}}
{{- define "picchu.kubeconfig" -}}
{{- if .Values.run.kubeconfig -}}
{{- .Values.run.kubeconfig -}}
{{- else if .Values.kubeconfigSecret.name -}}
/etc/picchu/kubeconfig/kubeconfig
{{- end -}}
{{- end -}}

{{/* Combinations values.schema.json cannot express; each fails the install with what to change. */}}
{{- define "picchu.validate" -}}
{{- if and (not (index .Values.run "enable-leader-election")) (gt (int .Values.replicaCount) 1) -}}
{{- fail (printf "replicaCount=%v needs run.enable-leader-election=true: without a leader every replica acts (set replicaCount=1 or enable leader election)" .Values.replicaCount) -}}
{{- end -}}
{{- if and .Values.run.kubeconfig (not .Values.kubeconfigSecret.name) -}}
{{- fail (printf "run.kubeconfig=%s names a file in the pod: set kubeconfigSecret.name to a Secret holding it (it is mounted at that path), or leave run.kubeconfig empty to use the service account" .Values.run.kubeconfig) -}}
{{- end -}}
{{- end -}}

{{/*
What the operator does to namespaced objects of the delivery cluster. Bound in the watched namespace by a Role
when run.namespace is set, cluster-wide by the ClusterRole when it is not. Every grant is either used by the
end-to-end suite (measured from the apiserver's audit log, tests/e2e) or says in a comment when it is needed.
*/}}
{{- define "picchu.namespacedRules" -}}
# used on every start and pass: kopf watches these, the passes read them
- apiGroups: ["picchu.medium.engineering"]
  resources: [clusters, clustersecrets, releasemanagers, revisions]
  verbs: [get, list, watch]
# used on every start: kopf watches these too, so passes read Mirrors and FaultInjectors from memory
- apiGroups: ["picchu.medium.engineering"]
  resources: [mirrors, faultinjectors]
  verbs: [list, watch]
# used every pass: Revision labels and ReleaseManager annotations; finalizers of Clusters and (when one exists)
# ClusterSecrets
- apiGroups: ["picchu.medium.engineering"]
  resources: [clusters, clustersecrets, releasemanagers, revisions]
  verbs: [patch]
# used when a Revision of a new app or target appears: its ReleaseManager (also what an apply creating one needs)
- apiGroups: ["picchu.medium.engineering"]
  resources: [releasemanagers]
  verbs: [create]
# used when garbage collection retires an expired Revision; a ReleaseManager is deleted when its app has no
# Revision left
- apiGroups: ["picchu.medium.engineering"]
  resources: [revisions, releasemanagers]
  verbs: [delete]
# used every pass: status; ClusterSecrets status when one exists
- apiGroups: ["picchu.medium.engineering"]
  resources: [clusters/status, clustersecrets/status, releasemanagers/status, revisions/status]
  verbs: [patch]
# needed when a Revision's configs select ConfigMaps to copy into the app namespace
- apiGroups: [""]
  resources: [configmaps]
  verbs: [list]
# used when a pass changes state or fails: Kubernetes Events; a repeat patches the earlier Event's count
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
# needed when a Revision copies ExternalSecrets (configs, Mirrors)
- apiGroups: ["external-secrets.io"]
  resources: [externalsecrets]
  verbs: [list]
{{- end -}}

{{/* Secrets: Cluster credentials, config copies, ClusterSecrets sources (bound like picchu.namespacedRules,
but cluster-wide only with rbac.clusterSecrets). */}}
{{- define "picchu.secretRules" -}}
# used on every start: the Secrets of the namespace holding Clusters are watched (list, watch), so passes read
# credentials from memory (get when that watch is down); list is also needed when a Revision's configs select
# Secrets or a ClusterSecrets copies them
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch]
{{- end -}}

{{/* The leader Lease (run.enable-leader-election), in picchu.leaseNamespace. */}}
{{- define "picchu.leaseRules" -}}
# used when leader election is on: the Lease de705aec.picchu.medium.engineering
- apiGroups: ["coordination.k8s.io"]
  resources: [leases]
  verbs: [create, get, update]
{{- end -}}
