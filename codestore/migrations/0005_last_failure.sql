-- 0005: a user's failure count is forgotten once lockout.window passes
-- with no failure, as Active Directory's "reset account lockout counter
-- after" does, instead of a window after the first failure.
--
-- Counted from the first failure, the window restarted in the middle of a
-- run of guesses: failures just before and just after the restart were
-- never counted together, so up to twice max_failures - 2 could come
-- within one window. Counted from the last failure, any max_failures
-- failures within one window lock the user. The column that held the
-- window's start now holds the last failure's time; a value kept from
-- before is an earlier time, so it can only forget sooner, once.

ALTER TABLE users RENAME COLUMN failure_start TO last_failure_at;
