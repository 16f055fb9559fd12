package metrics

import (
	"context"
	"errors"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/policy"
)

// countingStore is a policy.Store that counts the errors of the store it
// wraps. Methods it does not override pass through uncounted.
type countingStore struct {
	policy.Store
	m *Metrics
}

// Store returns s with its failures counted in store_errors_total.
// codestore.ErrNotFound is an answer, not a failure, and is not counted.
func (m *Metrics) Store(s policy.Store) policy.Store {
	return countingStore{Store: s, m: m}
}

func (c countingStore) count(op string, err error) {
	if err != nil && !errors.Is(err, codestore.ErrNotFound) {
		c.m.storeError(op)
	}
}

func (c countingStore) UserByName(ctx context.Context, name string) (codestore.User, error) {
	u, err := c.Store.UserByName(ctx, name)
	c.count("user_by_name", err)
	return u, err
}

// WithUser counts a failed transaction as "with_user", and the failed
// statements inside it by their own names.
func (c countingStore) WithUser(ctx context.Context, name string, fn func(codestore.UserTx) error) error {
	err := c.Store.WithUser(ctx, name, func(tx codestore.UserTx) error {
		return fn(countingTx{UserTx: tx, c: c})
	})
	c.count("with_user", err)
	return err
}

// countingTx counts the errors of the UserTx it wraps.
type countingTx struct {
	codestore.UserTx
	c countingStore
}

func (t countingTx) VerifyDeviceCode(code string) (int64, bool, error) {
	id, ok, err := t.UserTx.VerifyDeviceCode(code)
	t.c.count("verify_device_code", err)
	return id, ok, err
}

func (t countingTx) ConsumeBypassCode(code string) (int64, bool, error) {
	id, ok, err := t.UserTx.ConsumeBypassCode(code)
	t.c.count("consume_bypass_code", err)
	return id, ok, err
}

func (t countingTx) RecordFailure(r codestore.LockoutRules) (bool, error) {
	locked, err := t.UserTx.RecordFailure(r)
	t.c.count("record_failure", err)
	return locked, err
}

func (t countingTx) ResetFailures() error {
	err := t.UserTx.ResetFailures()
	t.c.count("reset_failures", err)
	return err
}

func (t countingTx) Audit(e codestore.AuditEvent) error {
	err := t.UserTx.Audit(e)
	t.c.count("audit", err)
	return err
}
