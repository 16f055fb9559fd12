package radiusd

import (
	"container/list"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/radgate/radgate/policy"
	"github.com/radgate/radgate/radattr"
)

// stateLength is the length of the random State sent in Access-Challenge.
const stateLength = 32

// challengeEntry is one pending challenge, keyed by its State.
type challengeEntry struct {
	key string
	// client and matchUser bind the State: the answer must come from the
	// same client block with the same User-Name.
	client    string
	matchUser string
	// user is the user name policy decided about (Decision.UserName).
	user string
	// attrs are the pass-through attributes for the final Accept; their
	// size is bounded by radattr.Selector.
	attrs   []radattr.Attribute
	expires time.Time
	elem    *list.Element
}

// challengeTable holds the State values of outstanding Access-Challenges.
//
//	add ──▶ pending ──take (first use) ──▶ gone
//	           └──── expiry ────────────▶ gone
//
// It is bounded: add removes expired entries first and fails with
// errChallengeTableFull when max are still pending.
type challengeTable struct {
	mu      sync.Mutex
	timeout time.Duration
	max     int
	m       map[string]*challengeEntry
	order   list.List // *challengeEntry, oldest first (= soonest expiry)
}

func newChallengeTable(timeout time.Duration, max int) *challengeTable {
	return &challengeTable{timeout: timeout, max: max, m: make(map[string]*challengeEntry)}
}

// add creates a State bound to client and matchUser, remembering user and
// attrs for policy. It returns the State bytes to send.
func (t *challengeTable) add(client, matchUser, user string, attrs []radattr.Attribute, now time.Time) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expire(now)
	if len(t.m) >= t.max {
		return nil, errChallengeTableFull
	}
	state := make([]byte, stateLength)
	for {
		if _, err := rand.Read(state); err != nil {
			return nil, fmt.Errorf("radiusd: generate state: %w", err)
		}
		if _, dup := t.m[string(state)]; !dup {
			break
		}
	}
	e := &challengeEntry{
		key:       string(state),
		client:    client,
		matchUser: matchUser,
		user:      user,
		attrs:     radattr.Clone(attrs),
		expires:   now.Add(t.timeout),
	}
	e.elem = t.order.PushBack(e)
	t.m[e.key] = e
	return state, nil
}

// take removes the entry for state (a State is single use, whatever the
// outcome) and returns its challenge when it is unexpired and bound to
// client and userName.
func (t *challengeTable) take(state []byte, client, userName string, now time.Time) (*policy.ChallengeState, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[string(state)]
	if !ok {
		return nil, false
	}
	t.remove(e)
	if !now.Before(e.expires) || e.client != client || e.matchUser != userName {
		return nil, false
	}
	return &policy.ChallengeState{UserName: e.user, Attributes: e.attrs}, true
}

// setTimeout sets the lifetime of the States added from now on. After a
// shorter one the list is no longer in expiry order: expire then stops at
// an older, unexpired entry and leaves newer expired ones for later, but
// take still refuses them and max still bounds the table.
func (t *challengeTable) setTimeout(d time.Duration) {
	t.mu.Lock()
	t.timeout = d
	t.mu.Unlock()
}

func (t *challengeTable) expire(now time.Time) {
	for f := t.order.Front(); f != nil; f = t.order.Front() {
		e := f.Value.(*challengeEntry)
		if now.Before(e.expires) {
			return
		}
		t.remove(e)
	}
}

func (t *challengeTable) remove(e *challengeEntry) {
	t.order.Remove(e.elem)
	delete(t.m, e.key)
}

func (t *challengeTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
