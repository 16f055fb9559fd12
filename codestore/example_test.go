package codestore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/policy"
)

// *codestore.Store is the store the policy engine calls.
var _ policy.Store = (*codestore.Store)(nil)

// Example issues a single-use bypass code and spends it.
func Example() {
	dir, err := os.MkdirTemp("", "codestore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := codestore.Open(ctx, codestore.Options{
		Path:    filepath.Join(dir, "radgate.db"),
		KeyFile: filepath.Join(dir, "radgate.key"),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	u, err := s.AddUser(ctx, "alice", "", false, "admin")
	if err != nil {
		log.Fatal(err)
	}
	codes, err := s.IssueBypassCodes(ctx, codestore.IssueRequest{
		User: "alice", Count: 1, Uses: 1, TTL: time.Hour, Admin: "admin",
	})
	if err != nil {
		log.Fatal(err)
	}
	_, ok, err := s.ConsumeBypassCode(ctx, u.ID, codes[0].Code)
	fmt.Println("first use accepted:", ok, err)
	_, ok, err = s.ConsumeBypassCode(ctx, u.ID, codes[0].Code)
	fmt.Println("second use accepted:", ok, err)
	// Output:
	// first use accepted: true <nil>
	// second use accepted: false <nil>
}
