package metrics_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"layeh.com/radius"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/metrics"
	"github.com/radgate/radgate/policy"
)

// Example wires metrics to a store and serves /healthz and /metrics, as
// radiusd does on metrics_listen.
func Example() {
	dir, _ := os.MkdirTemp("", "metrics-example-")
	defer os.RemoveAll(dir)
	store, err := codestore.Open(context.Background(), codestore.Options{
		Path:    filepath.Join(dir, "radgate.db"),
		KeyFile: filepath.Join(dir, "radgate.key"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := metrics.New(nil)
	// radiusd.Config.Observer = m; policy.NewEngine(cfg, m.Store(store), …)
	m.Answered("vpn", radius.CodeAccessAccept, policy.Decision{Result: policy.Accept, Reason: policy.ReasonDeviceCode}, 3*time.Millisecond)

	srv := httptest.NewServer(m.Handler(store, nil))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/healthz")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println("healthz:", resp.StatusCode)

	store.Close()
	resp, err = srv.Client().Get(srv.URL + "/healthz")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println("healthz after the store closed:", resp.StatusCode)
	// Output:
	// healthz: 200
	// healthz after the store closed: 503
}
