package controllers

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func echoSecretAt(rv string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "dns-credentials", ResourceVersion: rv}}
}

// write is one announced write of the Secret answered with rv (or err).
func write(e *echoes, rv string, err error) {
	e.writing(echoSecret, echoSecretAt(""))
	e.wrote(echoSecret, echoSecretAt(rv), err)
}

func TestEchoesFilterOnlyTheControllersOwnWrite(t *testing.T) {
	cases := []struct {
		name   string
		writes func(e *echoes)
		event  string // version of the event
		kind   string
		routed bool
	}{
		{"the version this controller wrote is its echo", func(e *echoes) { write(e, "7", nil) }, "7", echoSecret, false},
		{"another version is someone else's write", func(e *echoes) { write(e, "7", nil) }, "8", echoSecret, true},
		{"a later write replaces the earlier one", func(e *echoes) { write(e, "7", nil); write(e, "9", nil) }, "7", echoSecret, true},
		{"a write whose answer was an error filters nothing", func(e *echoes) { write(e, "7", nil); write(e, "7", errors.New("timeout")) }, "7", echoSecret, true},
		{"an object of another kind of the same name is not the echo", func(e *echoes) { write(e, "7", nil) }, "7", echoCredential, true},
		{"nothing written, nothing filtered (a restart's initial list)", func(*echoes) {}, "7", echoSecret, true},
		{"a forgotten object is no echo", func(e *echoes) { write(e, "7", nil); e.forget(echoSecret, echoSecretAt("")) }, "7", echoSecret, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e echoes
			c.writes(&e)
			routed := false
			if !e.filter(c.kind, echoSecretAt(c.event), func() { routed = true }) {
				routed = true
			}
			if routed != c.routed {
				t.Fatalf("routed = %v, want %v", routed, c.routed)
			}
		})
	}
}

func TestEchoesHoldEventsThatComeBeforeTheWritesAnswer(t *testing.T) {
	cases := []struct {
		name     string
		event    string
		answer   string
		err      error
		routed   bool
		leftOver int
	}{
		{"the echo arriving first is dropped when the answer names its version", "7", "7", nil, false, 0},
		{"someone else's write arriving meanwhile is routed at the answer", "6", "7", nil, true, 1},
		{"everything held is routed when the write failed", "7", "", errors.New("timeout"), true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e echoes
			e.writing(echoSecret, echoSecretAt(""))
			routed := false
			if !e.filter(echoSecret, echoSecretAt(c.event), func() { routed = true }) {
				t.Fatal("an event during a write in flight was routed at once")
			}
			if routed {
				t.Fatal("the held event was routed before the write's answer")
			}
			e.wrote(echoSecret, echoSecretAt(c.answer), c.err)
			if routed != c.routed {
				t.Fatalf("routed = %v, want %v", routed, c.routed)
			}
			if len(e.m) != c.leftOver {
				t.Fatalf("%d objects remembered, want %d", len(e.m), c.leftOver)
			}
		})
	}
}

func TestEchoesComeBackOnce(t *testing.T) {
	var e echoes
	write(&e, "7", nil)
	if !e.filter(echoSecret, echoSecretAt("7"), func() {}) {
		t.Fatal("the echo was routed")
	}
	if e.filter(echoSecret, echoSecretAt("7"), func() {}) {
		t.Fatal("a second event at the written version was filtered too")
	}
	if len(e.m) != 0 {
		t.Fatalf("%d writes still remembered after their echo", len(e.m))
	}
}
