// Package dnslisten opens the UDP and TCP sockets a DNS server answers on,
// on one port.
package dnslisten

import (
	"fmt"
	"net"
	"strconv"
)

// Listen opens TCP and UDP on the same port of addr. With port 0 the port TCP
// gets may already be taken for UDP by someone else; it then tries again
// with another, up to ten times.
func Listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("address %q: %w", addr, err)
	}
	var lastErr error
	for range 10 {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listening on tcp %s: %w", addr, err)
		}
		p := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, p))
		if err == nil {
			return pc, l, nil
		}
		_ = l.Close()
		lastErr = err
		if port != "0" {
			break
		}
	}
	return nil, nil, fmt.Errorf("listening on udp %s: %w", addr, lastErr)
}
