-- 0002: a check value of the key file.
--
-- One row: HMAC-SHA256 of a fixed label under its own subkey of the key
-- file (key.go, infoKeyCheck), never the key itself. Open writes it with
-- the first key that opens the database and refuses any other key after,
-- so that a lost or swapped key file is reported when the store opens
-- instead of at the next login. A database from before this migration
-- adopts the first key it is opened with, the one that sealed its data
-- unless that key file had already been replaced.

CREATE TABLE key_check (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	mac        BLOB    NOT NULL CHECK (length(mac) = 32),
	created_at INTEGER NOT NULL
);
