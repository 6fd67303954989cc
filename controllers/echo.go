package controllers

import (
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// echoes remembers the resourceVersion the API server gave each object this
// controller created or updated, until the watch brings that version back.
// The event that brings it back is the controller's own write: the reconcile
// that made it already acted on everything in it and asked for its own
// requeue, so a second reconcile would only read it all again (every new
// namespace's DNSCredential and tenant Secret, three reads each). Events at
// any other version (someone else's write, a restart's initial list, a
// resync) pass, and a write whose outcome is unknown (an error) passes every
// event, so at worst a reconcile runs that was not needed.
//
// The watch often brings a write back before the write's own answer has
// (a third of them at 1,000 namespaces): an event for an object with a write
// in flight is held until the write's answer tells whether it is the echo.
type echoes struct {
	mu sync.Mutex
	m  map[echoKey]*echo
}

type echoKey struct {
	kind string // "DNSCredential" or "Secret": the one watch that will see it
	key  client.ObjectKey
}

type echo struct {
	rv       string // the version of the last write, until its event comes
	inFlight int    // writes sent and not answered yet
	held     []heldEvent
}

// heldEvent is an event that came while a write was in flight: its version,
// and what routing it does.
type heldEvent struct {
	rv    string
	route func()
}

func (e *echoes) entry(kind string, o client.Object) (echoKey, *echo) {
	k := echoKey{kind, client.ObjectKeyFromObject(o)}
	if e.m == nil {
		e.m = map[echoKey]*echo{}
	}
	en := e.m[k]
	if en == nil {
		en = &echo{}
		e.m[k] = en
	}
	return k, en
}

// writing notes that a write of o is about to be sent.
func (e *echoes) writing(kind string, o client.Object) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, en := e.entry(kind, o)
	en.inFlight++
}

// wrote notes the answer to a write of o that writing announced: o carries
// the version the API server gave it, or err says the outcome is not known.
// Events held for the object are routed now, but for the echo.
func (e *echoes) wrote(kind string, o client.Object, err error) {
	e.mu.Lock()
	k, en := e.entry(kind, o)
	en.inFlight = max(en.inFlight-1, 0)
	en.rv = ""
	if err == nil {
		en.rv = o.GetResourceVersion()
	}
	var route []func()
	for _, h := range en.held {
		if en.rv != "" && h.rv == en.rv {
			en.rv = "" // came back already
			continue
		}
		route = append(route, h.route)
	}
	en.held = nil
	if en.rv == "" && en.inFlight == 0 {
		delete(e.m, k)
	}
	e.mu.Unlock()
	for _, r := range route {
		r()
	}
}

// write runs one write of o (of kind), announced before and noted after.
func (e *echoes) write(kind string, o client.Object, do func() error) error {
	e.writing(kind, o)
	err := do()
	e.wrote(kind, o, err)
	return err
}

// filter decides an event for o, as a watch brings it: true when it is this
// controller's own last write (forgotten then: a version comes back once),
// or when it is held until a write in flight is answered (route runs then,
// unless it was that write's echo); false when it is routed as usual.
func (e *echoes) filter(kind string, o client.Object, route func()) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := echoKey{kind, client.ObjectKeyFromObject(o)}
	en := e.m[k]
	switch {
	case en == nil:
		return false
	case en.rv != "" && en.rv == o.GetResourceVersion():
		en.rv = ""
		if en.inFlight == 0 && len(en.held) == 0 {
			delete(e.m, k)
		}
		return true
	case en.inFlight > 0:
		en.held = append(en.held, heldEvent{rv: o.GetResourceVersion(), route: route})
		return true
	}
	return false
}

// forget drops what is remembered of an object that is gone; a write in
// flight still gets its answer noted.
func (e *echoes) forget(kind string, o client.Object) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := echoKey{kind, client.ObjectKeyFromObject(o)}
	if en := e.m[k]; en != nil && en.inFlight == 0 && len(en.held) == 0 {
		delete(e.m, k)
	}
}

const (
	echoCredential = "DNSCredential"
	echoSecret     = "Secret"
)
