package codestore

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"fmt"
	"io"
	"time"
)

// DeviceSecretSize is the length of a generated device secret (160 bits).
const DeviceSecretSize = 20

const deviceColumns = `id, user_id, type, label, digits, period, enabled, created_at, last_used_at`

func scanDevice(r scanner) (Device, error) {
	var d Device
	var typ string
	var created int64
	var lastUsed sql.NullInt64
	if err := r.Scan(&d.ID, &d.UserID, &typ, &d.Label, &d.Digits, &d.Period, &d.Enabled, &created, &lastUsed); err != nil {
		return Device{}, err
	}
	d.Type = DeviceType(typ)
	d.CreatedAt = time.Unix(created, 0)
	d.LastUsedAt = unixTime(lastUsed)
	return d, nil
}

// AddDevice enrols a device for user and returns it with its secret (the
// only time the secret leaves the store). The secret is stored sealed with
// AES-256-GCM under a subkey of the key file.
func (s *Store) AddDevice(ctx context.Context, user string, nd NewDevice, admin string) (Device, []byte, error) {
	if err := checkAdmin(admin); err != nil {
		return Device{}, nil, err
	}
	if err := checkDevice(&nd); err != nil {
		return Device{}, nil, err
	}
	secret := nd.Secret
	if secret == nil {
		secret = make([]byte, DeviceSecretSize)
		if _, err := io.ReadFull(s.rand, secret); err != nil {
			return Device{}, nil, fmt.Errorf("codestore: device secret: %w", err)
		}
	}
	var d Device
	err := s.update(ctx, func(tx *dbTx) error {
		u, err := userByName(ctx, tx, user)
		if err != nil {
			return err
		}
		if err := s.checkSecretUnused(ctx, tx, u, secret); err != nil {
			return err
		}
		sealed, err := s.sealSecret(u.ID, secret)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO devices (user_id, type, label, secret_enc, digits, period, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, u.ID, string(nd.Type), nd.Label, sealed, nd.Digits, nd.Period, tx.now.Unix())
		if err != nil {
			return fmt.Errorf("codestore: add device: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("codestore: add device: %w", err)
		}
		d, err = scanDevice(tx.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE id = ?`, id))
		if err != nil {
			return fmt.Errorf("codestore: add device: %w", err)
		}
		return adminEvent(ctx, tx, admin, "device.add", user, fmt.Sprintf("device=%d type=%s", id, nd.Type))
	})
	if err != nil {
		return Device{}, nil, err
	}
	return d, secret, nil
}

// checkSecretUnused refuses a secret that one of u's devices already holds
// (ErrExists): each device records the TOTP steps and HOTP counters it has
// accepted, so a second device with the same secret would accept each of
// its codes once more.
func (s *Store) checkSecretUnused(ctx context.Context, tx *dbTx, u User, secret []byte) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, secret_enc FROM devices WHERE user_id = ?`, u.ID)
	if err != nil {
		return fmt.Errorf("codestore: add device: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var sealed []byte
		if err := rows.Scan(&id, &sealed); err != nil {
			return fmt.Errorf("codestore: add device: %w", err)
		}
		held, err := s.openSecret(u.ID, sealed)
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare(held, secret) == 1 {
			return fmt.Errorf("codestore: add device: %s already has this secret as device %d (a second device would accept each code again; remove that one first): %w",
				u.Name, id, ErrExists)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("codestore: add device: %w", err)
	}
	return nil
}

// Devices lists a user's devices; ErrNotFound when there is no such user.
func (s *Store) Devices(ctx context.Context, user string) ([]Device, error) {
	out, err := s.devices(ctx, user)
	if err != nil || len(out) > 0 {
		return out, err
	}
	// No rows: a user without devices, or no such user.
	if _, err := s.UserByName(ctx, user); err != nil {
		return nil, err
	}
	return nil, nil
}

// devices reads the devices of the named user in one prepared join.
func (s *Store) devices(ctx context.Context, user string) ([]Device, error) {
	rows, err := s.stmts.devicesOfName.QueryContext(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("codestore: devices: %w", err)
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("codestore: devices: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("codestore: devices: %w", err)
	}
	return out, nil
}

// RemoveDevice deletes one of user's devices; ErrNotFound when the user
// does not exist or the device is not theirs.
func (s *Store) RemoveDevice(ctx context.Context, user string, id int64, admin string) error {
	if err := checkAdmin(admin); err != nil {
		return err
	}
	return s.update(ctx, func(tx *dbTx) error {
		u, err := userByName(ctx, tx, user)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE id = ? AND user_id = ?`, id, u.ID)
		if err != nil {
			return fmt.Errorf("codestore: remove device: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("codestore: remove device: %w", err)
		} else if n == 0 {
			return fmt.Errorf("codestore: device %d of %q: %w", id, user, ErrNotFound)
		}
		return adminEvent(ctx, tx, admin, "device.remove", user, fmt.Sprintf("device=%d", id))
	})
}

// HasEnabledDevice reports whether the user has at least one enabled
// device (rule 3).
func (s *Store) HasEnabledDevice(ctx context.Context, userID int64) (bool, error) {
	var ok bool
	err := s.rdb.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM devices WHERE user_id = ? AND enabled = 1)`, userID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("codestore: has enabled device: %w", err)
	}
	return ok, nil
}

// VerifyDeviceCode tries code against the user's enabled devices. TOTP
// accepts the steps now-1..now+1, each at most once: the accepted step is
// recorded with a conditional UPDATE (last_step < step) whose rows affected
// are checked, so a replay, even a concurrent one, is refused. HOTP tries
// counters c..c+HOTPWindow and advances c past the match with a
// conditional UPDATE (counter = c). Codes are compared in constant time. A
// wrong code is ok == false with a nil error; a matching one is returned
// once its UPDATE is on disk.
func (s *Store) VerifyDeviceCode(ctx context.Context, userID int64, code string) (deviceID int64, ok bool, err error) {
	err = s.withUserID(ctx, userID, func(t *userTx) error {
		deviceID, ok, err = t.VerifyDeviceCode(code)
		return err
	})
	return deviceID, ok, err
}

type deviceState struct {
	id       int64
	typ      DeviceType
	sealed   []byte
	digits   int
	period   int
	counter  int64
	lastStep int64
}

func scanDeviceStates(rows *sql.Rows) ([]deviceState, error) {
	defer rows.Close()
	var devs []deviceState
	for rows.Next() {
		var d deviceState
		var typ string
		if err := rows.Scan(&d.id, &typ, &d.sealed, &d.digits, &d.period, &d.counter, &d.lastStep); err != nil {
			return nil, fmt.Errorf("codestore: read devices: %w", err)
		}
		d.typ = DeviceType(typ)
		devs = append(devs, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("codestore: read devices: %w", err)
	}
	return devs, nil
}

// matchDevice returns the index of the first device that code matches at
// unix time now, with the matched TOTP step or HOTP counter.
func (s *Store) matchDevice(devs []deviceState, userID int64, code string, now int64) (int, int64, bool, error) {
	for i, d := range devs {
		if d.digits != len(code) {
			continue
		}
		secret, err := s.openSecret(userID, d.sealed)
		if err != nil {
			return 0, 0, false, err
		}
		match := int64(-1)
		switch d.typ {
		case TOTP:
			step := now / int64(d.period)
			for st := step - TOTPSkew; st <= step+TOTPSkew; st++ {
				if st < 0 || st <= d.lastStep {
					continue
				}
				if codeEqual(hotpCode(secret, uint64(st), d.digits), code) && match < 0 {
					match = st
				}
			}
		case HOTP:
			for c := d.counter; c <= d.counter+HOTPWindow; c++ {
				if codeEqual(hotpCode(secret, uint64(c), d.digits), code) && match < 0 {
					match = c
				}
			}
		}
		if match >= 0 {
			return i, match, true, nil
		}
	}
	return 0, 0, false, nil
}

// oneRow reports whether a conditional UPDATE touched exactly one row.
func oneRow(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, fmt.Errorf("codestore: update: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("codestore: update: %w", err)
	}
	return n == 1, nil
}
