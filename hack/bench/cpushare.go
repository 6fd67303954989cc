package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"k8s.io/client-go/kubernetes"
)

// cpuShare is the CPU time each process on the machine spent between two
// readings: which of kube-apiserver, etcd, the manager and the bench holds
// the cores while the manager converges.
type cpuShare map[string]float64 // process -> CPU seconds

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// 100 on every Linux the bench runs on.
const clockTicks = 100

// cpuSeconds reads every process's user + system CPU seconds by name
// (kube-apiserver, etcd, manager, bench: the names the bench starts), and
// "other" for the rest of the machine.
func cpuSeconds(managerPID int) (cpuShare, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := cpuShare{}
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone since the listing
		}
		// comm is in parentheses and may hold spaces; the fields after
		// the last ')' are fixed.
		s := string(raw)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < i {
			continue
		}
		comm, f := s[i+1:j], strings.Fields(s[j+1:])
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		name := "other"
		switch {
		case pid == self:
			name = "bench"
		case pid == managerPID:
			name = "manager"
		case comm == "kube-apiserver" || comm == "etcd":
			name = comm
		}
		out[name] += (ut + st) / clockTicks
	}
	return out, nil
}

// since is the CPU seconds spent from earlier to c.
func (c cpuShare) since(earlier cpuShare) cpuShare {
	out := cpuShare{}
	for k, v := range c {
		out[k] = v - earlier[k]
	}
	return out
}

// String lists the processes by CPU seconds, largest first, with each one's
// share of the total.
func (c cpuShare) String() string {
	total := 0.0
	keys := make([]string, 0, len(c))
	for k, v := range c {
		total += v
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return c[keys[i]] > c[keys[j]] })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.1f s (%.0f %%)", k, c[k], 100*c[k]/max(total, 1e-9)))
	}
	return strings.Join(parts, ", ")
}

// apiServerProfile saves a CPU profile of kube-apiserver (envtest serves
// /debug/pprof to its admin user) and returns its top 10.
func (b *bench) apiServerProfile(ctx context.Context, seconds int, out string) (string, error) {
	cs, err := kubernetes.NewForConfig(b.cfg)
	if err != nil {
		return "", err
	}
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/debug/pprof/profile").
		Param("seconds", strconv.Itoa(seconds)).Stream(ctx)
	if err != nil {
		return "", err
	}
	defer body.Close()
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, body); err != nil {
		f.Close()
		return "", err
	}
	f.Close()
	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=100000", out).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w: %s", err, top)
	}
	return apiServerSpend(string(top)), nil
}

// apiServerFrames are the kube-apiserver functions whose cumulative CPU
// says what the manager's requests cost it, in the order reported.
var apiServerFrames = []struct{ frame, what string }{
	{"k8s.io/apiserver/pkg/registry/generic/registry.(*Store).Update", "updates (PUT and PATCH, /status included)"},
	{"k8s.io/apiextensions-apiserver/pkg/registry/customresource.(*StatusREST).Update", "… of which custom resources' /status"},
	{"k8s.io/apiserver/pkg/registry/generic/registry.(*Store).Create", "creates"},
	{"k8s.io/apiserver/pkg/registry/generic/registry.(*Store).Get", "gets"},
	{"k8s.io/apiserver/pkg/endpoints/handlers.handleWatch", "serving watches"},
	{"k8s.io/apiserver/pkg/storage/etcd3.(*watchChan).transform", "decoding etcd's watch events"},
	{"k8s.io/apiserver/pkg/authentication/request/x509.(*Authenticator).AuthenticateRequest", "client-certificate authentication"},
	{"k8s.io/apiserver/pkg/server/filters.(*priorityAndFairnessHandler).Handle", "priority and fairness (around every request)"},
	{"runtime.gcBgMarkWorker", "garbage collection (marking)"},
}

// apiServerSpend picks apiServerFrames out of `pprof -top -cum`: one line
// each with its cumulative seconds and share of the profile.
func apiServerSpend(top string) string {
	var b strings.Builder
	total := ""
	for _, l := range strings.Split(top, "\n") {
		if strings.HasPrefix(l, "Duration:") {
			total = strings.TrimSpace(l)
		}
	}
	fmt.Fprintf(&b, "%s\n", total)
	for _, f := range apiServerFrames {
		for _, l := range strings.Split(top, "\n") {
			fs := strings.Fields(l)
			if len(fs) >= 6 && fs[5] == f.frame {
				fmt.Fprintf(&b, "%8s %7s  %s\n", fs[3], fs[4], f.what)
				break
			}
		}
	}
	return b.String()
}
