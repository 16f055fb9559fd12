package radiusd_test

import (
	"context"
	"log"
	"net"
	"net/netip"
	"time"

	"github.com/radgate/radgate/policy"
	"github.com/radgate/radgate/radiusd"
)

type denyAll struct{}

func (denyAll) Decide(context.Context, policy.Request) (policy.Decision, error) {
	return policy.Decision{Result: policy.Reject, Reason: policy.ReasonBadPassword, ReplyMessage: "Authentication failed"}, nil
}

// A server for one NAS network, served until shut down.
func Example() {
	srv, err := radiusd.NewServer(radiusd.Config{
		Clients: []radiusd.Client{{
			Name:                        "vpn",
			Network:                     netip.MustParsePrefix("10.0.0.0/24"),
			Secret:                      []byte("a long random shared secret"),
			Mode:                        policy.ModeAuto,
			RequireMessageAuthenticator: true,
		}},
	}, denyAll{})
	if err != nil {
		log.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer pc.Close()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(pc) }()

	// On SIGTERM:
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Print(err)
	}
	if err := <-done; err != nil {
		log.Print(err)
	}
}
