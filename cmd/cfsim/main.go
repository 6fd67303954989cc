// Command cfsim runs the Cloudflare v4 API simulator of
// internal/cloudflare/sim: the API over HTTP under /client/v4/ and the
// zones' authoritative DNS over UDP and TCP.
//
//	cfsim -seed seed.yaml -master-token-file token.txt
//	CFSIM_MASTER_TOKEN=... cfsim -zones example.com,example.org
//
// The master token is an account token allowed everything, API Tokens
// Write included; its value is read from -master-token-file, the
// CFSIM_MASTER_TOKEN environment variable, or the seed's masterTokenFile,
// in that order, and is never logged.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"sigs.k8s.io/yaml"

	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/dnslisten"
)

const masterTokenEnv = "CFSIM_MASTER_TOKEN"

// seed is the -seed file, YAML or JSON.
type seed struct {
	AccountID       string       `json:"accountID"`
	AccountName     string       `json:"accountName"`
	Zones           []string     `json:"zones"`
	Records         []seedRecord `json:"records"`
	MasterTokenFile string       `json:"masterTokenFile"`
	TokenQuota      int          `json:"tokenQuota"`
	RateLimit       int          `json:"rateLimit"`
	RateWindow      string       `json:"rateWindow"`
	BatchLimit      int          `json:"batchLimit"`
	NameServers     []string     `json:"nameServers"`
}

type seedRecord struct {
	Zone     string          `json:"zone"`
	Name     string          `json:"name"`
	Type     string          `json:"type"`
	Content  string          `json:"content"`
	TTL      int             `json:"ttl"`
	Priority int             `json:"priority"`
	Proxied  bool            `json:"proxied"`
	Comment  string          `json:"comment"`
	Tags     []string        `json:"tags"`
	Data     *sim.RecordData `json:"data"`
}

// options are the parsed flags, merged with the seed.
type options struct {
	httpAddr, dnsAddr string
	seed              seed
	masterToken       string
	rateWindow        time.Duration
	logFormat         string
	logLevel          slog.Level
}

func parseOptions(args []string, getenv func(string) string, usage io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("cfsim", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&o.httpAddr, "http-addr", "127.0.0.1:8787", "address of the HTTP API")
	fs.StringVar(&o.dnsAddr, "dns-addr", "127.0.0.1:8753", "address of the DNS server, UDP and TCP")
	seedPath := fs.String("seed", "", "YAML or JSON seed file: accountID, accountName, zones, records, masterTokenFile, tokenQuota, rateLimit, rateWindow, batchLimit, nameServers")
	tokenFile := fs.String("master-token-file", "", "file holding the master token value (else $"+masterTokenEnv+")")
	accountID := fs.String("account-id", "", "account ID, 32 hex characters (overrides the seed)")
	accountName := fs.String("account-name", "", "account name (overrides the seed)")
	zones := fs.String("zones", "", "comma-separated zone names (added to the seed's)")
	quota := fs.Int("token-quota", 0, "account token quota (default 500)")
	rate := fs.Int("rate-limit", 0, "requests per token per window (default 1200; negative disables)")
	window := fs.Duration("rate-window", 0, "rate-limit window (default 5m)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := o.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return o, fmt.Errorf("-log-level: %w", err)
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return o, fmt.Errorf("-log-format: %q is neither text nor json", o.logFormat)
	}
	if *seedPath != "" {
		raw, err := os.ReadFile(*seedPath)
		if err != nil {
			return o, fmt.Errorf("seed: %w", err)
		}
		if err := yaml.UnmarshalStrict(raw, &o.seed); err != nil {
			return o, fmt.Errorf("seed %s: %w", *seedPath, err)
		}
	}
	if *accountID != "" {
		o.seed.AccountID = *accountID
	}
	if *accountName != "" {
		o.seed.AccountName = *accountName
	}
	for _, z := range strings.Split(*zones, ",") {
		if z = strings.TrimSpace(z); z != "" {
			o.seed.Zones = append(o.seed.Zones, z)
		}
	}
	if *quota != 0 {
		o.seed.TokenQuota = *quota
	}
	if *rate != 0 {
		o.seed.RateLimit = *rate
	}
	o.rateWindow = *window
	if o.rateWindow == 0 && o.seed.RateWindow != "" {
		d, err := time.ParseDuration(o.seed.RateWindow)
		if err != nil {
			return o, fmt.Errorf("seed rateWindow: %w", err)
		}
		o.rateWindow = d
	}
	switch {
	case *tokenFile != "":
		v, err := readSecretFile(*tokenFile)
		if err != nil {
			return o, fmt.Errorf("-master-token-file: %w", err)
		}
		o.masterToken = v
	case getenv(masterTokenEnv) != "":
		o.masterToken = strings.TrimSpace(getenv(masterTokenEnv))
	case o.seed.MasterTokenFile != "":
		v, err := readSecretFile(o.seed.MasterTokenFile)
		if err != nil {
			return o, fmt.Errorf("seed masterTokenFile: %w", err)
		}
		o.masterToken = v
	default:
		return o, fmt.Errorf("no master token: give -master-token-file, $%s or the seed's masterTokenFile", masterTokenEnv)
	}
	if len(o.seed.Zones) == 0 {
		return o, errors.New("no zones: give -zones or the seed's zones")
	}
	return o, nil
}

func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return v, nil
}

// instance is a running simulator.
type instance struct {
	srv      *sim.Server
	httpAddr string
	dnsAddr  string
	http     *http.Server
	udp, tcp *dns.Server
	errc     chan error
}

func start(o options, log *slog.Logger) (*instance, error) {
	srv, err := sim.New(sim.Config{
		AccountID:   o.seed.AccountID,
		AccountName: o.seed.AccountName,
		Zones:       o.seed.Zones,
		MasterToken: o.masterToken,
		TokenQuota:  o.seed.TokenQuota,
		RateLimit:   o.seed.RateLimit,
		RateWindow:  o.rateWindow,
		BatchLimit:  o.seed.BatchLimit,
		NameServers: o.seed.NameServers,
		Logger:      log,
	})
	if err != nil {
		return nil, err
	}
	for i, r := range o.seed.Records {
		stored, err := srv.AddRecord(r.Zone, sim.Record{
			Name: r.Name, Type: r.Type, Content: r.Content, TTL: r.TTL, Priority: r.Priority,
			Proxied: r.Proxied, Comment: r.Comment, Tags: r.Tags, Data: r.Data,
		})
		if err != nil {
			return nil, fmt.Errorf("seed records[%d]: %w", i, err)
		}
		log.Info("seeded record", "zone", r.Zone, "name", stored.Name, "type", stored.Type, "id", stored.ID)
	}

	hl, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	// One port for UDP and TCP, also when asked for ":0".
	pc, tl, err := dnslisten.Listen(o.dnsAddr)
	if err != nil {
		hl.Close()
		return nil, fmt.Errorf("dns: %w", err)
	}
	in := &instance{
		srv:      srv,
		httpAddr: hl.Addr().String(),
		dnsAddr:  pc.LocalAddr().String(),
		http:     &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second},
		udp:      &dns.Server{PacketConn: pc, Handler: srv},
		tcp:      &dns.Server{Listener: tl, Handler: srv},
		errc:     make(chan error, 3),
	}
	started := make(chan struct{}, 2)
	in.udp.NotifyStartedFunc = func() { started <- struct{}{} }
	in.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go func() {
		if err := in.http.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			in.errc <- fmt.Errorf("http: %w", err)
		}
	}()
	go func() {
		if err := in.udp.ActivateAndServe(); err != nil {
			in.errc <- fmt.Errorf("dns udp: %w", err)
		}
	}()
	go func() {
		if err := in.tcp.ActivateAndServe(); err != nil {
			in.errc <- fmt.Errorf("dns tcp: %w", err)
		}
	}()
	for i := 0; i < 2; i++ {
		select {
		case <-started:
		case err := <-in.errc:
			in.stop()
			return nil, err
		}
	}

	for _, z := range o.seed.Zones {
		log.Info("serving zone", "zone", z, "zone_id", srv.ZoneID(z))
	}
	for _, t := range srv.Tokens() {
		log.Info("master token ready", "token_id", t.ID, "name", t.Name) // never the value
	}
	log.Info("listening", "account_id", srv.AccountID(),
		"api", "http://"+in.httpAddr+"/client/v4/", "dns_udp", in.dnsAddr, "dns_tcp", in.dnsAddr)
	return in, nil
}

func (in *instance) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = in.http.Shutdown(ctx)
	_ = in.udp.ShutdownContext(ctx)
	_ = in.tcp.ShutdownContext(ctx)
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	o, err := parseOptions(args, getenv, stderr)
	if err != nil {
		return err
	}
	hopts := &slog.HandlerOptions{Level: o.logLevel}
	var h slog.Handler = slog.NewTextHandler(stderr, hopts)
	if o.logFormat == "json" {
		h = slog.NewJSONHandler(stderr, hopts)
	}
	log := slog.New(h)
	in, err := start(o, log)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		in.stop()
		return nil
	case err := <-in.errc:
		in.stop()
		return err
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "cfsim:", err)
		os.Exit(1)
	}
}
