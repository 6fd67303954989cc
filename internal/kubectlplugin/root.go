package kubectlplugin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

// ErrAnswerNo is returned when the answer is no (can-i denied, a doctor
// check failed): the binary exits 1 after printing it, as `kubectl auth
// can-i` does, without an error line.
var ErrAnswerNo = errors.New("the answer is no")

// options are the flags every command shares.
type options struct {
	config        *genericclioptions.ConfigFlags
	streams       genericiooptions.IOStreams
	output        string
	allNamespaces bool
	// newClient is replaced by tests; it reads the kubeconfig flags.
	newClient func() (client.Client, error)
}

// NewCommand is `kubectl scopedns` with its subcommands.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	return newCommand(streams, nil)
}

// newCommand builds the command; newClient, when set, replaces the client
// the kubeconfig flags make (tests pass a fake).
func newCommand(streams genericiooptions.IOStreams, newClient func() (client.Client, error)) *cobra.Command {
	o := &options{config: genericclioptions.NewConfigFlags(true), streams: streams, newClient: newClient}
	if o.newClient == nil {
		o.newClient = o.client
	}
	root := &cobra.Command{
		Use:   "kubectl-scopedns",
		Short: "Ask scopedns what a namespace may claim, who holds which DNS credential, and whether the operator is healthy",
		Long: `kubectl scopedns answers, from the same verdict the admission webhook uses:

  can-i NAME TYPE   may this namespace hold the name? which scope, zone and rule allow it, or why not
  grants            what each scope that selects the namespace lets it claim, and its credentials
  audit             every credential the operator issued: kind, reach, expiry, rotation, state
  doctor            CRDs, webhook, master credentials, quota, gateway, stuck claims: pass or fail, and the fix`,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl scopedns"},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	o.config.AddFlags(root.PersistentFlags())
	root.PersistentFlags().StringVarP(&o.output, "output", "o", outputTable, "Output format: table, yaml or json.")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputFormats, cobra.ShellCompDirectiveNoFileComp))
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return validateOutput(o.output) }
	root.AddCommand(o.canICommand(), o.grantsCommand(), o.auditCommand(), o.doctorCommand())
	return root
}

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = v1alpha1.AddToScheme(s)
	return s
}

func (o *options) client() (client.Client, error) {
	cfg, err := o.config.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: scheme()})
}

// namespace is -n, or the kubeconfig context's namespace, or "default".
func (o *options) namespace() (string, error) {
	ns, _, err := o.config.ToRawKubeConfigLoader().Namespace()
	return ns, err
}

func (o *options) print(r result) error { return printResult(o.streams.Out, o.output, r) }

func (o *options) canICommand() *cobra.Command {
	var q Question
	var ttl string
	cmd := &cobra.Command{
		Use:   "can-i NAME TYPE",
		Short: "Say whether the namespace may hold a record, and which scope, zone and rule allow it or why not",
		Example: `  kubectl scopedns can-i web.team-a.apps.example.com A -n team-a
  kubectl scopedns can-i _acme-challenge.web.team-a.apps.example.com TXT -n team-a --scope prod
  kubectl scopedns can-i web.team-a.apps.example.com A -n team-a --ttl 300 --value 203.0.113.10 -o yaml`,
		Args: cobra.ExactArgs(2),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 1 {
				return recordTypes(), cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			q.Name, q.Type = args[0], args[1]
			if ttl != "" {
				n, err := strconv.ParseInt(ttl, 10, 32)
				if err != nil {
					return fmt.Errorf("--ttl %q: must be a number of seconds", ttl)
				}
				q.TTL = int32(n)
			}
			ns, err := o.namespace()
			if err != nil {
				return err
			}
			q.Namespace = ns
			c, err := o.newClient()
			if err != nil {
				return err
			}
			a, err := CanI(cmd.Context(), NewCluster(c, ns), q)
			if err != nil {
				return err
			}
			if err := o.print(a); err != nil {
				return err
			}
			if !a.Allowed {
				return ErrAnswerNo
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&q.Scope, "scope", "", "Ask only this DNSScope (default: every scope that selects the namespace).")
	cmd.Flags().StringVar(&ttl, "ttl", "", "The TTL the claim would ask for, in seconds (checked against the rule's maxTTL).")
	cmd.Flags().StringArrayVar(&q.Values, "value", nil, "A value the record would hold (repeat for several); none reserves the name for the namespace's credentials.")
	_ = cmd.RegisterFlagCompletionFunc("scope", o.completeScopes)
	return cmd
}

func (o *options) grantsCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "grants",
		Short:   "List what each scope that selects the namespace lets it claim: zones, rules, types, maxTTL, credentials",
		Example: "  kubectl scopedns grants -n team-a",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ns, err := o.namespace()
			if err != nil {
				return err
			}
			c, err := o.newClient()
			if err != nil {
				return err
			}
			g, err := GrantsOf(cmd.Context(), NewCluster(c, ns), ns)
			if err != nil {
				return err
			}
			return o.print(g)
		},
	}
}

func (o *options) auditCommand() *cobra.Command {
	var f AuditFilter
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List every credential the operator issued: namespace, scope, kind, reach, expiry, rotation, state",
		Example: `  kubectl scopedns audit -A
  kubectl scopedns audit -A --expiring-within 72h
  kubectl scopedns audit -A --broad`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !o.allNamespaces {
				ns, err := o.namespace()
				if err != nil {
					return err
				}
				f.Namespace = ns
			}
			c, err := o.newClient()
			if err != nil {
				return err
			}
			f.Now = time.Now()
			a, err := readAudit(cmd.Context(), c, f)
			if err != nil {
				return err
			}
			return o.print(a)
		},
	}
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "List the credentials of every namespace.")
	cmd.Flags().DurationVar(&f.ExpiringWithin, "expiring-within", 0, "Only credentials that expire within this long (e.g. 72h).")
	cmd.Flags().BoolVar(&f.Broad, "broad", false, "Only zone-wide credentials whose zones other namespaces claim in too (the scope's SharedZoneTokens condition).")
	return cmd
}

// readAudit reads what audit prints: DNSCredentials (cluster-scoped, the
// admins'), their scopes, and the claims whose names they reach.
func readAudit(ctx context.Context, c client.Reader, f AuditFilter) (Audit, error) {
	var creds v1alpha1.DNSCredentialList
	if err := c.List(ctx, &creds); err != nil {
		return Audit{}, fmt.Errorf("listing DNSCredentials: %w", err)
	}
	var scopes v1alpha1.DNSScopeList
	if err := c.List(ctx, &scopes); err != nil {
		return Audit{}, fmt.Errorf("listing DNSScopes: %w", err)
	}
	byName := make(map[string]*v1alpha1.DNSScope, len(scopes.Items))
	for i := range scopes.Items {
		byName[scopes.Items[i].Name] = &scopes.Items[i]
	}
	var claims v1alpha1.DNSRecordClaimList
	var opts []client.ListOption
	if f.Namespace != "" {
		opts = append(opts, client.InNamespace(f.Namespace))
	}
	if err := c.List(ctx, &claims, opts...); err != nil {
		return Audit{}, fmt.Errorf("listing DNSRecordClaims: %w", err)
	}
	return AuditOf(creds.Items, byName, claims.Items, f), nil
}

// completeScopes completes --scope with the cluster's scopes.
func (o *options) completeScopes(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	c, err := o.newClient()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var list v1alpha1.DNSScopeList
	if err := c.List(cmd.Context(), &list); err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	out := make([]string, 0, len(list.Items))
	for _, s := range list.Items {
		out = append(out, s.Name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func recordTypes() []string {
	types := []v1alpha1.RecordType{v1alpha1.RecordTypeA, v1alpha1.RecordTypeAAAA, v1alpha1.RecordTypeCNAME, v1alpha1.RecordTypeTXT,
		v1alpha1.RecordTypeMX, v1alpha1.RecordTypeSRV, v1alpha1.RecordTypeCAA, v1alpha1.RecordTypeNS}
	out := make([]string, len(types))
	for i, t := range types {
		out[i] = string(t)
	}
	return out
}

func (o *options) doctorCommand() *cobra.Command {
	d := DoctorOptions{OperatorNamespace: "scopedns-system", StuckAfter: 10 * time.Minute}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the CRDs, the webhook, each scope's master credential, the token quota, the gateways and stuck claims",
		Example: `  kubectl scopedns doctor
  kubectl scopedns doctor --gateway 127.0.0.1:5353 --http-gateway http://127.0.0.1:8053`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ns, err := o.namespace()
			if err != nil {
				return err
			}
			d.Namespace = ns
			cfg, err := o.config.ToRESTConfig()
			if err != nil {
				return err
			}
			c, err := o.newClient()
			if err != nil {
				return err
			}
			d.Now = time.Now()
			d.Resources = servedResources(cfg)
			doc := RunDoctor(cmd.Context(), c, d)
			if err := o.print(doc); err != nil {
				return err
			}
			if !doc.Passed {
				return ErrAnswerNo
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&d.OperatorNamespace, "operator-namespace", d.OperatorNamespace, "The operator's namespace, where the manager's Deployment tells the gateways' addresses and the token quota.")
	f.StringVar(&d.Gateway, "gateway", "", "host:port of the RFC 2136 gateway (default: the manager's --gateway-nameserver).")
	f.StringVar(&d.HTTPGateway, "http-gateway", "", "URL of the HTTP front doors (default: the manager's --http-gateway-url).")
	f.IntVar(&d.TokenQuota, "token-quota", 0, "The provider account's token limit (default: the manager's --token-quota, else 500).")
	f.DurationVar(&d.StuckAfter, "stuck-after", d.StuckAfter, "A claim not Ready for longer than this is stuck.")
	return cmd
}

// servedResources lists the resources API discovery serves for the group.
func servedResources(cfg *rest.Config) func(context.Context) ([]string, error) {
	return func(context.Context) ([]string, error) {
		dc, err := discovery.NewDiscoveryClientForConfig(cfg)
		if err != nil {
			return nil, err
		}
		list, err := dc.ServerResourcesForGroupVersion(v1alpha1.GroupVersion.String())
		if err != nil {
			return nil, err
		}
		var out []string
		for _, r := range list.APIResources {
			out = append(out, r.Name)
		}
		return out, nil
	}
}
