package externaldns

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"sigs.k8s.io/external-dns/endpoint"
	"sigs.k8s.io/external-dns/pkg/apis/externaldns"
	"sigs.k8s.io/external-dns/plan"
	edprovider "sigs.k8s.io/external-dns/provider"
	"sigs.k8s.io/external-dns/registry/txt"

	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
	"github.com/scopedns/scopedns/internal/testdns"
)

const (
	accountID   = "0123456789abcdef0123456789abcdef"
	masterToken = "scopedns-externaldns-test-master-token"
	zone        = "example.com"

	// cluster is the ClusterName of the front doors, in the owner comment
	// of the records they write.
	cluster = "it"
	scope   = "prod"
)

// The namespaces' names: team-a runs external-dns; team-b's names are
// another namespace's.
var (
	webA     = "web.team-a.apps.example.com"
	apiA     = "api.team-a.apps.example.com"
	webB     = "web.team-b.apps.example.com"
	otherWeb = "www.example.com"
)

// registryName is the name of the TXT record external-dns's TXT registry
// keeps beside an endpoint (registry/mapper: "<type>-" before the first
// label, no prefix or suffix configured). A namespace that runs external-dns
// reserves it with the endpoint's name.
func registryName(name, typ string) string {
	return strings.ToLower(typ) + "-" + name
}

// suite is one Cloudflare simulator holding zone example.com: its API over
// plain HTTP for scopedns's provider, its DNS on a loopback port.
type suite struct {
	sim     *sim.Server
	api     *httptest.Server
	dnsAddr string
}

func newSuite(t testing.TB) *suite {
	t.Helper()
	s, err := sim.New(sim.Config{AccountID: accountID, AccountName: "scopedns-externaldns", Zones: []string{zone}, MasterToken: masterToken})
	if err != nil {
		t.Fatal(err)
	}
	st := &suite{sim: s, api: httptest.NewServer(s)}
	t.Cleanup(st.api.Close)
	st.dnsAddr = testdns.Serve(t, s)
	return st
}

// master is scopedns's Cloudflare provider on the simulator with the master
// token, as the operator runs it behind the front doors.
func (s *suite) master(t testing.TB) *cloudflare.Provider {
	t.Helper()
	p, err := cloudflare.New(cloudflare.Options{AccountID: accountID, APIToken: provider.Secret(masterToken), BaseURL: s.api.URL + "/client/v4/"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// seed writes records at the simulator directly, as another namespace or
// someone by hand would have.
func (s *suite) seed(t testing.TB, recs ...provider.Record) {
	t.Helper()
	if _, err := s.master(t).ApplyChanges(context.Background(), s.sim.ZoneID(zone), provider.Changes{Create: recs}); err != nil {
		t.Fatal(err)
	}
}

// stored lists "name type content comment" of the simulator's records at
// names, sorted.
func (s *suite) stored(names ...string) []string {
	var out []string
	for _, r := range s.sim.Records(zone) {
		if slices.Contains(names, r.Name) {
			out = append(out, r.Name+" "+r.Type+" "+r.Content+" "+r.Comment)
		}
	}
	slices.Sort(out)
	return out
}

// lookup asks the simulator's DNS for name and type, as a resolver would, and
// returns the answers' data, sorted.
func (s *suite) lookup(t *testing.T, name string, qtype uint16) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	r, err := dns.Exchange(m, s.dnsAddr)
	if err != nil {
		t.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	var out []string
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == qtype {
			out = append(out, strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
	}
	slices.Sort(out)
	return out
}

// staticSource is an external-dns source with a fixed set of endpoints,
// standing for the Services and Ingresses external-dns would watch.
type staticSource []*endpoint.Endpoint

func (s staticSource) Endpoints(context.Context) ([]*endpoint.Endpoint, error) {
	out := make([]*endpoint.Endpoint, len(s))
	for i, e := range s {
		out[i] = e.DeepCopy()
	}
	return out, nil
}

func (staticSource) AddEventHandler(context.Context, func()) {}

// baseConfig is external-dns's configuration of a namespace's instance: its
// owner ID in the TXT registry, the zone, the record types it manages (its
// defaults).
func baseConfig(owner string) *externaldns.Config {
	cfg := externaldns.NewConfig()
	cfg.TXTOwnerID = owner
	cfg.DomainFilter = []string{zone}
	cfg.ManagedDNSRecordTypes = []string{endpoint.RecordTypeA, endpoint.RecordTypeAAAA, endpoint.RecordTypeCNAME}
	cfg.Policy = "sync"
	return cfg
}

// syncOnce runs one sync of external-dns as its controller does
// (controller.Controller.RunOnce, with --registry=txt --policy=sync): list
// through the TXT registry, adjust the source's endpoints, plan
// (plan.Calculate), apply through the registry when the plan has changes.
// The controller package itself is not imported: it links every provider
// (provider/factory), and the module proxy does not serve all of their
// dependencies. These lines are RunOnce's, without its metrics and events.
func syncOnce(ctx context.Context, t testing.TB, cfg *externaldns.Config, p edprovider.Provider, desired ...*endpoint.Endpoint) error {
	t.Helper()
	reg, err := txt.New(cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	current, err := reg.Records(ctx)
	if err != nil {
		return err
	}
	ctx = context.WithValue(ctx, edprovider.RecordsContextKey, current)
	wanted, err := staticSource(desired).Endpoints(ctx)
	if err != nil {
		return err
	}
	wanted, err = reg.AdjustEndpoints(wanted)
	if err != nil {
		return fmt.Errorf("adjusting endpoints: %w", err)
	}
	pl := (&plan.Plan{
		Policies:       []plan.Policy{&plan.SyncPolicy{}},
		Current:        current,
		Desired:        wanted,
		DomainFilter:   endpoint.MatchAllDomainFilters{endpoint.NewDomainFilter(cfg.DomainFilter), reg.GetDomainFilter()},
		ManagedRecords: cfg.ManagedDNSRecordTypes,
		ExcludeRecords: cfg.ExcludeDNSRecordTypes,
		OwnerID:        reg.OwnerID(),
		OldOwnerID:     cfg.TXTOwnerOld,
	}).Calculate()
	if !pl.Changes.HasChanges() {
		return nil
	}
	return reg.ApplyChanges(ctx, pl.Changes)
}
