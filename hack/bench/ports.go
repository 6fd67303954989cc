package main

import "github.com/scopedns/scopedns/internal/testports"

// Listening ports come from testports, below the ephemeral range: the
// manager process binds them seconds after they are picked.

// freeTCPAddr is a 127.0.0.1 address whose port is free for TCP now.
func freeTCPAddr() (string, error) { return testports.TCP() }

// freeUDPAddr is a 127.0.0.1 address whose port is free for both UDP and
// TCP (a DNS server listens on both).
func freeUDPAddr() (string, error) { return testports.TCPAndUDP() }

// freePort is a port free for TCP on 127.0.0.1 (the webhook server's).
func freePort() (int, error) {
	addr, err := testports.TCP()
	if err != nil {
		return 0, err
	}
	return testports.Port(addr), nil
}
