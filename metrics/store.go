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

func (c countingStore) Devices(ctx context.Context, user string) ([]codestore.Device, error) {
	d, err := c.Store.Devices(ctx, user)
	c.count("devices", err)
	return d, err
}

func (c countingStore) VerifyDeviceCode(ctx context.Context, userID int64, code string) (int64, bool, error) {
	id, ok, err := c.Store.VerifyDeviceCode(ctx, userID, code)
	c.count("verify_device_code", err)
	return id, ok, err
}

func (c countingStore) ConsumeBypassCode(ctx context.Context, userID int64, code string) (int64, bool, error) {
	id, ok, err := c.Store.ConsumeBypassCode(ctx, userID, code)
	c.count("consume_bypass_code", err)
	return id, ok, err
}

func (c countingStore) RecordFailure(ctx context.Context, userID int64, r codestore.LockoutRules) (bool, error) {
	locked, err := c.Store.RecordFailure(ctx, userID, r)
	c.count("record_failure", err)
	return locked, err
}

func (c countingStore) ResetFailures(ctx context.Context, userID int64) error {
	err := c.Store.ResetFailures(ctx, userID)
	c.count("reset_failures", err)
	return err
}
