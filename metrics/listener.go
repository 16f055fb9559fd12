package metrics

import (
	"net"
	"sync"
)

// MaxConnections bounds the connections the metrics listener holds open at
// once. A scraper and a health checker need one each; the rest of the
// slots leave room for retries.
const MaxConnections = 16

// LimitListener returns ln holding at most n accepted connections open at
// once. A connection accepted past that is closed at once, before a byte
// of it is read, so that clients cannot hold goroutines and file
// descriptors without bound. A slot is freed when its connection closes.
func LimitListener(ln net.Listener, n int) net.Listener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n)}
}

type limitListener struct {
	net.Listener
	slots chan struct{}
}

// Accept returns the next connection that finds a free slot, closing
// those that do not.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitConn{Conn: c, release: sync.OnceFunc(func() { <-l.slots })}, nil
		default:
			c.Close()
		}
	}
}

// limitConn frees its slot on the first Close.
type limitConn struct {
	net.Conn
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
