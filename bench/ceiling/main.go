// Command ceiling answers RADIUS with radgate's protocol server (package
// radiusd) in front of a chosen write instead of the policy engine, to
// measure what each layer of a login costs. It is a benchmark helper for
// bench/run.sh (scenarios ceil-*), not part of radgate; docs/performance.md
// shows its numbers.
//
//	ceiling -listen ADDR -secret S -write none|fsync|sqlite|codestore [-dir DIR] [-config FILE]
//
// Every write but none is durable before the Accept leaves:
//
//	none       accept at once: the protocol server alone
//	fsync      one 64-byte record per login in a preallocated file under
//	           -dir, one fdatasync per batch (group commit)
//	sqlite     one UPDATE by rowid per login in a WAL database under -dir
//	           at synchronous=FULL, one COMMIT per batch
//	codestore  radgate's store named by -config: WithUser and
//	           ConsumeBypassCode with the password as the code (a
//	           bypass-code login without the policy engine and its audit row)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/config"
	"github.com/radgate/radgate/policy"
	"github.com/radgate/radgate/radiusd"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:1812", "UDP address to answer on")
	secret := flag.String("secret", "", "shared secret of the client 127.0.0.1")
	write := flag.String("write", "none", "what a login writes: none, fsync, sqlite or codestore")
	dir := flag.String("dir", ".", "directory of the fsync and sqlite files")
	cfgPath := flag.String("config", "", "radgate config whose store codestore opens")
	flag.Parse()
	if err := run(*listen, *secret, *write, *dir, *cfgPath); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}

func run(listen, secret, write, dir, cfgPath string) error {
	if secret == "" {
		return errors.New("-secret is required")
	}
	decider, closeWriter, err := openWriter(write, dir, cfgPath)
	if err != nil {
		return err
	}
	defer closeWriter()
	server, err := radiusd.NewServer(radiusd.Config{
		Clients: []radiusd.Client{{
			Name:                        "bench",
			Network:                     netip.MustParsePrefix("127.0.0.1/32"),
			Secret:                      []byte(secret),
			Mode:                        policy.ModeConcat,
			RequireMessageAuthenticator: true,
		}},
		Logger: hclog.New(&hclog.LoggerOptions{Name: "ceiling", Level: hclog.Warn}),
	}, decider)
	if err != nil {
		return err
	}
	conn, err := net.ListenPacket("udp", listen)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(conn) }()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err = <-served:
	case <-stop:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = server.Shutdown(ctx)
		cancel()
	}
	conn.Close()
	return err
}

// openWriter returns the Decider for write and the function that closes
// what it opened.
func openWriter(write, dir, cfgPath string) (radiusd.Decider, func(), error) {
	switch write {
	case "none":
		return acceptAll{}, func() {}, nil
	case "fsync":
		return groupCommitted(openRecordLog(filepath.Join(dir, "ceiling.log")))
	case "sqlite":
		return groupCommitted(openCounters(filepath.Join(dir, "ceiling.db")))
	case "codestore":
		cfg, err := config.Load(cfgPath)
		if err != nil {
			return nil, nil, err
		}
		s, err := codestore.Open(context.Background(), codestore.Options{Path: cfg.Store.Path, KeyFile: cfg.Store.KeyFile})
		if err != nil {
			return nil, nil, err
		}
		return storeLogin{s}, func() { s.Close() }, nil
	}
	return nil, nil, fmt.Errorf("unknown -write %q (none, fsync, sqlite, codestore)", write)
}

// groupCommitted returns a group-commit Decider over w, opened with err,
// and the function that closes both.
func groupCommitted(w committer, err error) (radiusd.Decider, func(), error) {
	if err != nil {
		return nil, nil, err
	}
	g := newGroupCommit(w.commit)
	return g, func() { g.close(); w.close() }, nil
}

// acceptAll accepts every request at once.
type acceptAll struct{}

// Decide accepts.
func (acceptAll) Decide(_ context.Context, req policy.Request) (policy.Decision, error) {
	return accept(req), nil
}

func accept(req policy.Request) policy.Decision {
	return policy.Decision{Result: policy.Accept, UserName: req.UserName}
}

// storeLogin spends one use of the bypass code the request carries, in
// radgate's store, and accepts when it did.
type storeLogin struct{ store *codestore.Store }

// Decide consumes the code; a code that matched nothing is a Reject.
func (s storeLogin) Decide(ctx context.Context, req policy.Request) (policy.Decision, error) {
	consumed := false
	err := s.store.WithUser(ctx, req.UserName, func(tx codestore.UserTx) error {
		var err error
		_, consumed, err = tx.ConsumeBypassCode(req.Password)
		return err
	})
	if err != nil {
		return policy.Decision{}, err
	}
	if !consumed {
		return policy.Decision{Result: policy.Reject, UserName: req.UserName}, nil
	}
	return accept(req), nil
}
