-- 0003: device and bypass-code ids are never reused.
--
-- Without AUTOINCREMENT, SQLite gives a new row the largest id + 1, so once
-- the newest codes (or devices) were spent or removed, the next ones got
-- their ids again, and an audit detail such as "code=12" or "device=3"
-- could name two different things over time. AUTOINCREMENT never hands out
-- an id again. Ids above the largest one left when this migration runs,
-- used and deleted before it, can still come back once.
--
-- SQLite cannot add AUTOINCREMENT to a table: each is rebuilt, rows and ids
-- kept, and its indexes and triggers made again as 0001 made them.

CREATE TABLE devices_new (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	type         TEXT    NOT NULL CHECK (type IN ('totp', 'hotp')),
	label        TEXT    NOT NULL DEFAULT '',
	secret_enc   BLOB    NOT NULL,
	digits       INTEGER NOT NULL CHECK (digits BETWEEN 6 AND 8),
	period       INTEGER NOT NULL CHECK (period BETWEEN 1 AND 3600),
	counter      INTEGER NOT NULL DEFAULT 0 CHECK (counter >= 0),
	last_step    INTEGER NOT NULL DEFAULT -1,
	enabled      INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER
);

INSERT INTO devices_new (id, user_id, type, label, secret_enc, digits, period, counter, last_step, enabled, created_at, last_used_at)
	SELECT id, user_id, type, label, secret_enc, digits, period, counter, last_step, enabled, created_at, last_used_at FROM devices;
DROP TABLE devices;
ALTER TABLE devices_new RENAME TO devices;
CREATE INDEX devices_user ON devices (user_id);

CREATE TABLE bypass_codes_new (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	code_hash    BLOB    NOT NULL CHECK (length(code_hash) = 32),
	created_at   INTEGER NOT NULL,
	created_by   TEXT    NOT NULL,
	expires_at   INTEGER CHECK (expires_at IS NULL OR expires_at > created_at),
	uses_left    INTEGER CHECK (uses_left IS NULL OR uses_left >= 0),
	last_used_at INTEGER,
	-- Rule 4: never both unlimited and eternal.
	CHECK (uses_left IS NOT NULL OR expires_at IS NOT NULL)
);

INSERT INTO bypass_codes_new (id, user_id, code_hash, created_at, created_by, expires_at, uses_left, last_used_at)
	SELECT id, user_id, code_hash, created_at, created_by, expires_at, uses_left, last_used_at FROM bypass_codes;
DROP TABLE bypass_codes;
ALTER TABLE bypass_codes_new RENAME TO bypass_codes;
CREATE UNIQUE INDEX bypass_codes_user_hash ON bypass_codes (user_id, code_hash);
CREATE INDEX bypass_codes_expires ON bypass_codes (expires_at);

-- Rule 4: a new code has at least one use when its uses are limited.
CREATE TRIGGER bypass_codes_insert_uses
BEFORE INSERT ON bypass_codes
WHEN NEW.uses_left IS NOT NULL AND NEW.uses_left < 1
BEGIN
	SELECT RAISE(ABORT, 'bypass code must have at least one use');
END;

-- Rule 5 backstop: never more than 100 rows per user.
CREATE TRIGGER bypass_codes_hard_cap
BEFORE INSERT ON bypass_codes
WHEN (SELECT count(*) FROM bypass_codes WHERE user_id = NEW.user_id) >= 100
BEGIN
	SELECT RAISE(ABORT, 'bypass code hard cap of 100 per user');
END;

-- Rule 6: a code's terms can only shrink, and it stays with its user.
CREATE TRIGGER bypass_codes_no_raise
BEFORE UPDATE ON bypass_codes
WHEN (OLD.uses_left IS NOT NULL AND (NEW.uses_left IS NULL OR NEW.uses_left > OLD.uses_left))
  OR (OLD.expires_at IS NOT NULL AND (NEW.expires_at IS NULL OR NEW.expires_at > OLD.expires_at))
  OR NEW.user_id IS NOT OLD.user_id
  OR NEW.code_hash IS NOT OLD.code_hash
  OR NEW.id IS NOT OLD.id
BEGIN
	SELECT RAISE(ABORT, 'bypass code terms cannot be raised');
END;

-- Rule 7: a code whose last use is consumed is deleted in the same statement.
CREATE TRIGGER bypass_codes_spent
AFTER UPDATE OF uses_left ON bypass_codes
WHEN NEW.uses_left = 0
BEGIN
	DELETE FROM bypass_codes WHERE id = NEW.id;
END;
