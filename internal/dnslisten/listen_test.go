package dnslisten

import (
	"net"
	"strings"
	"testing"
)

func TestListenGivesUDPAndTCPOneFreePort(t *testing.T) {
	for range 50 {
		pc, l, err := Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		u, tc := pc.LocalAddr().(*net.UDPAddr).Port, l.Addr().(*net.TCPAddr).Port
		_ = pc.Close()
		_ = l.Close()
		if u != tc || u == 0 {
			t.Fatalf("udp port %d, tcp port %d: want one port for both", u, tc)
		}
	}
}

func TestListenOnATakenPortSaysWhich(t *testing.T) {
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, _, err = Listen(busy.LocalAddr().String())
	if err == nil {
		t.Fatal("listening on a port whose UDP side is taken succeeded")
	}
	if want := "listening on udp " + busy.LocalAddr().String(); !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}

func TestListenRefusesABadAddress(t *testing.T) {
	if _, _, err := Listen("no-port"); err == nil || !strings.Contains(err.Error(), `address "no-port"`) {
		t.Fatalf("Listen(no-port) = %v, want an error naming the address", err)
	}
}
