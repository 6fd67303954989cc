// Package testports picks listening ports for tests and benchmarks that
// start servers on 127.0.0.1 and hand their addresses on before binding.
//
// Ports are picked below Linux's ephemeral range (32768–60999 by default):
// a port the kernel handed out as ":0" is free only until some client
// connection (the API server's to etcd, a test's own) is given it, and the
// server that is told the port binds it later, then fails with "address
// already in use". A port below the range is never given to a client, so
// the pick holds.
package testports

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
)

const low, high = 20000, 32000

// TCP is a 127.0.0.1 address whose port is free for TCP now.
func TCP() (string, error) {
	return pick(func(addr string) error {
		l, err := net.Listen("tcp", addr)
		if err == nil {
			l.Close()
		}
		return err
	})
}

// TCPAndUDP is a 127.0.0.1 address whose port is free for both TCP and UDP
// (a DNS server listens on both).
func TCPAndUDP() (string, error) {
	return pick(func(addr string) error {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		defer pc.Close()
		l, err := net.Listen("tcp", addr)
		if err == nil {
			l.Close()
		}
		return err
	})
}

// Port is the port of addr.
func Port(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

func pick(try func(addr string) error) (string, error) {
	var last error
	for range 100 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(low+rand.IntN(high-low)))
		if last = try(addr); last == nil {
			return addr, nil
		}
	}
	return "", fmt.Errorf("no free port in %d–%d after 100 tries: %w", low, high, last)
}
