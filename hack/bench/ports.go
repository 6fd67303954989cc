package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
)

// Listening ports are picked below Linux's ephemeral range (32768–60999 by
// default): a port the kernel handed out as ":0" is free only until some
// client connection (the API server's to etcd, the bench's own) is given
// it, and the manager process binds its ports seconds later. A port below
// the range is never given to a client, so the pick holds.
const portLow, portHigh = 20000, 32000

// freeTCPAddr is a 127.0.0.1 address whose port is free for TCP now.
func freeTCPAddr() (string, error) {
	return pickAddr(func(addr string) error {
		l, err := net.Listen("tcp", addr)
		if err == nil {
			l.Close()
		}
		return err
	})
}

// freeUDPAddr is a 127.0.0.1 address whose port is free for both UDP and
// TCP (a DNS server listens on both).
func freeUDPAddr() (string, error) {
	return pickAddr(func(addr string) error {
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

// freePort is a port free for TCP on 127.0.0.1 (the webhook server's).
func freePort() (int, error) {
	addr, err := freeTCPAddr()
	if err != nil {
		return 0, err
	}
	_, p, _ := net.SplitHostPort(addr)
	return strconv.Atoi(p)
}

func pickAddr(try func(addr string) error) (string, error) {
	var last error
	for range 100 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(portLow+rand.IntN(portHigh-portLow)))
		if last = try(addr); last == nil {
			return addr, nil
		}
	}
	return "", fmt.Errorf("no free port in %d-%d: %w", portLow, portHigh, last)
}
