package webhook

import (
	"io"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

// zapDiscard is the manager's logger (cmd/manager), writing nowhere.
func zapDiscard() logr.Logger { return zap.New(zap.WriteTo(io.Discard)) }

func testRequest() *admission.Request {
	return &admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "uid-1", Namespace: "team-a", Name: "web",
		Resource: metav1.GroupVersionResource{Group: "scopedns.io", Version: "v1alpha1", Resource: "dnsrecordclaims"},
		UserInfo: authenticationv1.UserInfo{Username: "alice"},
	}}
}

// capture is a funcr logger that keeps its lines, with their callers.
func capture() (logr.Logger, *[]string) {
	var lines []string
	return funcr.New(func(prefix, args string) { lines = append(lines, prefix+" "+args) },
		funcr.Options{LogCaller: funcr.All}), &lines
}

func TestRequestLoggerWritesTheRequestFieldsWithTheCallersLine(t *testing.T) {
	base, lines := capture()
	log := requestLogger(v1alpha1.GroupVersion.WithKind("DNSRecordClaim"))(base, testRequest())
	log.WithValues("extra", 1).Info("concealed holder")
	log.Error(nil, "failed")
	if len(*lines) != 2 {
		t.Fatalf("want 2 lines, got %q", *lines)
	}
	for _, want := range []string{`"webhookGroup"="scopedns.io"`, `"webhookKind"="DNSRecordClaim"`,
		`"namespace"="team-a"`, `"name"="web"`, `"user"="alice"`, `"requestID"="uid-1"`, `"DNSRecordClaim"={"name"="web" "namespace"="team-a"}`,
		`"file"="lazylog_test.go"`} {
		for _, l := range *lines {
			if !strings.Contains(l, want) {
				t.Errorf("line %q lacks %s", l, want)
			}
		}
	}
	if !strings.Contains((*lines)[0], `"extra"=1`) || strings.Contains((*lines)[1], `"extra"`) {
		t.Errorf("a derived logger's values leaked or went missing: %q", *lines)
	}
}

func TestRequestLoggerEncodesNothingUntilALineIsWritten(t *testing.T) {
	s := &countingSink{}
	log := requestLogger(v1alpha1.GroupVersion.WithKind("DNSRecordClaim"))(logr.New(s), testRequest())
	log = log.WithValues("more", 2)
	_ = log.V(5).Enabled()
	if s.withValues != 0 {
		t.Fatalf("the sink's WithValues ran %d times before any line", s.withValues)
	}
	log.Info("now")
	if s.withValues != 1 || s.infos != 1 {
		t.Fatalf("after one line: WithValues %d, Info %d; want 1 and 1", s.withValues, s.infos)
	}
}

func TestLazyValuesSiblingsDoNotShareValues(t *testing.T) {
	base, lines := capture()
	log := lazyValues(base, make([]any, 0, 8)) // spare capacity: an append that reused it would leak
	a, b := log.WithValues("a", 1), log.WithValues("b", 2)
	a.Info("x")
	b.Info("y")
	if !strings.Contains((*lines)[0], `"a"=1`) || strings.Contains((*lines)[0], `"b"`) ||
		!strings.Contains((*lines)[1], `"b"=2`) || strings.Contains((*lines)[1], `"a"`) {
		t.Fatalf("siblings share values: %q", *lines)
	}
}

type countingSink struct{ withValues, infos int }

func (s *countingSink) Init(logr.RuntimeInfo)          {}
func (s *countingSink) Enabled(int) bool               { return true }
func (s *countingSink) Info(int, string, ...any)       { s.infos++ }
func (s *countingSink) Error(error, string, ...any)    {}
func (s *countingSink) WithName(string) logr.LogSink   { return s }
func (s *countingSink) WithValues(...any) logr.LogSink { s.withValues++; return s }

// BenchmarkRequestLogger compares controller-runtime's builder's logger for
// a request, built twice per request as its webhook does, with ours, on the
// manager's zap logger (writing nowhere: no line is logged on this path).
func BenchmarkRequestLogger(b *testing.B) {
	req := testRequest()
	gvk := v1alpha1.GroupVersion.WithKind("DNSRecordClaim")
	base := zapDiscard()
	eager := func(base logr.Logger, req *admission.Request) logr.Logger {
		return base.WithValues("webhookGroup", gvk.Group, "webhookKind", gvk.Kind).WithValues(
			gvk.Kind, klog.KRef(req.Namespace, req.Name), "namespace", req.Namespace, "name", req.Name,
			"resource", req.Resource, "user", req.UserInfo.Username, "requestID", req.UID)
	}
	for _, c := range []struct {
		name string
		f    func(logr.Logger, *admission.Request) logr.Logger
	}{{"eager", eager}, {"lazy", requestLogger(gvk)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = c.f(base, req)
				_ = c.f(base, req)
			}
		})
	}
}
