package policy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/policy"
	"github.com/radgate/radgate/primary"
)

// An Engine wired as radiusd wires it: the real store, the local primary
// backend and the default policy. A password without a code gets the
// challenge; the reason goes to the log and audit table, and the NAS sees
// only the prompt.
func ExampleEngine_Decide() {
	dir, err := os.MkdirTemp("", "radgate-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	store, err := codestore.Open(ctx, codestore.Options{
		Path:    filepath.Join(dir, "radgate.db"),
		KeyFile: filepath.Join(dir, "radgate.key"),
	})
	if err != nil {
		panic(err)
	}
	defer store.Close()

	cheap := primary.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	hash, _ := primary.HashPassword("correct horse", cheap)
	store.AddUser(ctx, "alice", hash, false, "admin")
	store.AddDevice(ctx, "alice", codestore.NewDevice{Type: codestore.TOTP}, "admin")

	engine := policy.NewEngine(policy.DefaultConfig(), store, primary.NewLocal(store, cheap), hclog.NewNullLogger())
	for _, pw := range []string{"correct horse", "wrong horse"} {
		d, err := engine.Decide(ctx, policy.Request{
			Client: "vpn", Mode: policy.ModeAuto, UserName: "alice", Password: pw, AuthType: policy.AuthPAP,
		})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s %s %q\n", d.Result, d.Reason, d.ReplyMessage)
	}
	// Output:
	// challenge need_code "Enter your verification code"
	// reject bad_password "Authentication failed"
}
