package webhook

import (
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// requestLogger is the webhooks' LogConstructor. It gives each request the
// same fields as controller-runtime's builder does (webhookGroup,
// webhookKind, the object, namespace, name, resource, user and request ID),
// but lazily: controller-runtime builds the logger twice for every request,
// and zap's WithValues clones and encodes the fields there and then. That
// was a third of the webhook's allocations at 200 requests a second (the
// scale benchmark's heap profile), for a logger that logs nothing on almost
// every request. Here the fields are kept as they are and reach the real
// sink only when a line is written.
func requestLogger(gvk schema.GroupVersionKind) func(logr.Logger, *admission.Request) logr.Logger {
	return func(base logr.Logger, req *admission.Request) logr.Logger {
		kv := []any{"webhookGroup", gvk.Group, "webhookKind", gvk.Kind}
		if req != nil {
			kv = append(kv, gvk.Kind, klog.KRef(req.Namespace, req.Name),
				"namespace", req.Namespace, "name", req.Name,
				"resource", req.Resource, "user", req.UserInfo.Username,
				"requestID", req.UID)
		}
		return lazyValues(base, kv)
	}
}

// lazyValues is base with kv added, encoded only when a line is written.
func lazyValues(base logr.Logger, kv []any) logr.Logger {
	sink := base.GetSink()
	if sink == nil {
		return base
	}
	// One more frame (lazySink's Info or Error) between the caller and the
	// real sink, so that it still reports the caller's line.
	if cd, ok := sink.(logr.CallDepthLogSink); ok {
		sink = cd.WithCallDepth(1)
	}
	return logr.New(&lazySink{sink: sink, kv: kv})
}

// lazySink holds key/value pairs for its sink until a line is written.
type lazySink struct {
	sink logr.LogSink
	kv   []any
}

var _ logr.CallDepthLogSink = &lazySink{}

// Init does not pass on: the sink was set up by its own logr.New, and it is
// shared with the base logger, which a second Init would change.
func (l *lazySink) Init(logr.RuntimeInfo) {}

func (l *lazySink) Enabled(level int) bool { return l.sink.Enabled(level) }

func (l *lazySink) Info(level int, msg string, kv ...any) {
	l.flushed().Info(level, msg, kv...)
}

func (l *lazySink) Error(err error, msg string, kv ...any) {
	l.flushed().Error(err, msg, kv...)
}

func (l *lazySink) flushed() logr.LogSink {
	if len(l.kv) == 0 {
		return l.sink
	}
	return l.sink.WithValues(l.kv...)
}

// WithValues keeps the pairs too; the full slice expression makes the
// append copy, so loggers derived from one another never share kv's array.
// The values are encoded when a line is written, not now: pass values that
// do not change afterwards (strings, numbers, copies), never a pointer into
// an object someone else may still write.
func (l *lazySink) WithValues(kv ...any) logr.LogSink {
	return &lazySink{sink: l.sink, kv: append(l.kv[:len(l.kv):len(l.kv)], kv...)}
}

// WithName is rare (no request path names its logger); it flushes.
func (l *lazySink) WithName(name string) logr.LogSink {
	return &lazySink{sink: l.flushed().WithName(name)}
}

func (l *lazySink) WithCallDepth(depth int) logr.LogSink {
	cd, ok := l.sink.(logr.CallDepthLogSink)
	if !ok {
		return l
	}
	return &lazySink{sink: cd.WithCallDepth(depth), kv: l.kv}
}
