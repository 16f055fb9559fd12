-- 0004: rule 6 holds for INSERT OR REPLACE too.
--
-- A REPLACE (INSERT OR REPLACE, REPLACE INTO) whose row collides with a
-- code, by id or by user and hash, deletes that code and inserts the new
-- row: no UPDATE trigger sees it, so bypass_codes_no_raise did not stop it
-- from giving a code more uses or a later expiry. An insert that would
-- replace a code is refused here, before SQLite resolves the conflict.
-- A plain INSERT that collides is refused by this trigger too, before its
-- UNIQUE constraint: issuing draws another code on its message
-- (codeExistsMessage in bypass.go).

CREATE TRIGGER bypass_codes_no_replace
BEFORE INSERT ON bypass_codes
WHEN EXISTS (SELECT 1 FROM bypass_codes WHERE id = NEW.id)
  OR EXISTS (SELECT 1 FROM bypass_codes WHERE user_id = NEW.user_id AND code_hash = NEW.code_hash)
BEGIN
	SELECT RAISE(ABORT, 'bypass code already exists');
END;
