// Command radiusd is the radgate RADIUS server: it answers Access-Requests
// from the configured clients with a password check and a second factor.
//
//	radiusd [-config PATH] [-check] [-version]
//
// SIGHUP reloads clients and policy without closing the socket; SIGTERM and
// SIGINT stop reading, finish in-flight requests and close the store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	keepFreedMemory()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its streams and exit status made explicit.
func run(args []string, stdout, stderr io.Writer) int {
	m := NewMain()
	m.Stderr = stderr
	if err := m.ParseFlags(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "radiusd: %v\n", err)
		return 2
	}
	switch {
	case m.ShowVersion:
		fmt.Fprintf(stdout, "radiusd %s\n", version)
		return 0
	case m.CheckOnly:
		if err := m.Check(context.Background()); err != nil {
			fmt.Fprintf(stderr, "radiusd: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, "config ok")
		return 0
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	if err := m.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "radiusd: %v\n", err)
		m.Close()
		return 1
	}
	for {
		select {
		case <-hup:
			m.Reload()
		case <-ctx.Done():
			if err := m.Close(); err != nil {
				fmt.Fprintf(stderr, "radiusd: %v\n", err)
				return 1
			}
			return 0
		case err := <-m.Done():
			fmt.Fprintf(stderr, "radiusd: %v\n", err)
			m.Close()
			return 1
		}
	}
}
