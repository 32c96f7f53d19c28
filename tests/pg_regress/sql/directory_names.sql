-- The names the user directory resolves from what it stores: a schema, a
-- table and columns that need quoting; the table followed through a rename
-- and a new owner at the next call; the on_password_reset function kept by
-- its configured signature; a function or a users table that is gone
-- refused.
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP SCHEMA IF EXISTS auth CASCADE;
DROP SCHEMA IF EXISTS "App Data", "Renamed Data" CASCADE;
DROP ROLE IF EXISTS regress_names_owner;
CREATE ROLE regress_names_owner;
CREATE SCHEMA "App Data";
CREATE TABLE "App Data"."User Accounts" (
    "ID"        bigserial PRIMARY KEY,
    "E-mail"    text NOT NULL,
    "Pass Word" text NOT NULL DEFAULT ''
);
INSERT INTO "App Data"."User Accounts" ("E-mail") VALUES ('jane@example.com');
CREATE FUNCTION "App Data"."After Reset"(user_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE WARNING 'after reset: %', user_id;
END
$$;

CREATE EXTENSION nile_reset;
SELECT auth.add_trusted_origin('http://localhost:3000');
SELECT auth.use_user_table('"App Data"."User Accounts"', 'ID', 'E-mail', 'Pass Word', 'bcrypt',
    on_password_reset => '"App Data"."After Reset"(bigint)');
SET nile_reset.bcrypt_cost = 4;
SET nile_reset.min_resend_interval = 0;

-- Quoted names in every statement: a token, a check, a reset, the hook.
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox ORDER BY id DESC LIMIT 1 \gset
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');
SELECT auth.reset_password('jane@example.com', :'token', 'correct horse battery') AS user_id;
SELECT "ID", "Pass Word" LIKE '$2a$04$%' AS reset FROM "App Data"."User Accounts";

-- The table renamed and given to another owner: the next call in this
-- session uses the new name and runs the statements as the new owner (the
-- cache follows the catalog).
ALTER TABLE "App Data"."User Accounts" RENAME TO "Users";
ALTER TABLE "App Data"."Users" OWNER TO regress_names_owner;
SELECT user_table FROM nile_reset.user_directory;
-- The new owner may not use the schema yet: its statements are refused.
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r2');
\echo :LAST_ERROR_SQLSTATE
GRANT USAGE ON SCHEMA "App Data" TO regress_names_owner;
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r2');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox ORDER BY id DESC LIMIT 1 \gset
SELECT auth.reset_password('jane@example.com', :'token', 'another horse battery') AS user_id;

-- The schema renamed: the table follows, but the function is kept by the
-- signature it was configured with, which now names nothing: refused
-- (55000) until it is configured again.
ALTER SCHEMA "App Data" RENAME TO "Renamed Data";
SELECT user_table FROM nile_reset.user_directory;
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r3');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.use_user_table('"Renamed Data"."Users"', 'ID', 'E-mail', 'Pass Word', 'bcrypt',
    on_password_reset => '"Renamed Data"."After Reset"(bigint)');
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r4');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox ORDER BY id DESC LIMIT 1 \gset
SELECT auth.reset_password('jane@example.com', :'token', 'a third horse battery') AS user_id;

-- The function dropped: refused (55000).
DROP FUNCTION "Renamed Data"."After Reset"(bigint);
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r5');
\echo :LAST_ERROR_SQLSTATE

-- The users table dropped: refused (55000).
SELECT auth.use_user_table('"Renamed Data"."Users"', 'ID', 'E-mail', 'Pass Word', 'bcrypt');
DROP TABLE "Renamed Data"."Users";
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r6');
\echo :LAST_ERROR_SQLSTATE

DROP EXTENSION nile_reset CASCADE;
DROP SCHEMA auth CASCADE;
DROP SCHEMA "Renamed Data" CASCADE;
DROP ROLE regress_names_owner;
