package metrics

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestLimitListener: with two connections held open, a third is closed
// unanswered; once one of the two closes, its slot serves a new client.
func TestLimitListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})}
	go srv.Serve(LimitListener(ln, 2))
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// The server accepts in the order the connections arrived, so the
	// two held ones have the slots when this one is accepted.
	if err := fetch(addr); err == nil {
		t.Fatal("a third connection was answered while two were held open")
	}

	held[0].Close()
	for i := 0; ; i++ {
		err := fetch(addr)
		if err == nil {
			break
		}
		if i == 100 {
			t.Fatalf("no answer after a held connection closed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fetch sends one GET on a new connection and reads its answer.
func fetch(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: radgate\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
