package app

// The manager's permissions. Each broad-looking one says why it is needed.

// Scopes and claims are the API this operator serves.
// +kubebuilder:rbac:groups=scopedns.io,resources=dnsscopes;dnsrecordclaims,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=scopedns.io,resources=dnsscopes/status;dnsrecordclaims/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=scopedns.io,resources=dnsrecordclaims/finalizers,verbs=update

// DNSCredentials are the operator's own record of what it issued: it alone
// creates, updates and deletes them (no tenant role names them).
// +kubebuilder:rbac:groups=scopedns.io,resources=dnscredentials,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=scopedns.io,resources=dnscredentials/status,verbs=get;update;patch

// Namespaces are read to evaluate each scope's namespaceSelector and to
// revoke credentials when a namespace goes away.
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// Secrets cluster-wide: the credentials Secret lives in each tenant's
// namespace. RBAC cannot filter by label, but the manager's cache lists and
// watches only Secrets labelled app.kubernetes.io/managed-by=scopedns (plus
// its own namespace, for master credentials), and never overwrites or deletes
// a Secret without that label.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete

// Events report every credential and record change.
// +kubebuilder:rbac:groups="";events.k8s.io,resources=events,verbs=create;patch

// Leader election.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete

// The webhook's serving certificate, with --webhook-cert-rotation. The
// rotator watches ValidatingWebhookConfigurations through a cache, which
// cannot list by name (reading them reveals nothing secret), and writes the
// caBundle of ours only. The name is the kustomize tree's; the chart renames
// resourceNames as it renames the roles, to <fullname>-…. The rotator's
// Secret is covered by the Secrets rule above.
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=list;watch
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=get;update,resourceNames=scopedns-validating-webhook-configuration
