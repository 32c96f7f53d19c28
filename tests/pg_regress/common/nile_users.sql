-- Shared set-up: a fresh nile_reset on Nile's shape (users.users +
-- auth.credentials + auth.sessions, created as ordinary tables) and the
-- demo origin. Nile's tables are application data, so a test drops them
-- itself: DROP EXTENSION leaves them.
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP TABLE IF EXISTS auth.sessions, auth.credentials, users.users;
CREATE EXTENSION nile_reset;
SELECT auth.use_nile_users();
SELECT auth.add_trusted_origin('http://localhost:3000');
