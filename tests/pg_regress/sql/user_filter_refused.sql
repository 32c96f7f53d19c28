-- A user_filter is checked when configured: exactly one expression
-- (PostgreSQL's parser says so: text that escapes its parentheses, adds
-- clauses or statements is a syntax error, 42601), then planned against
-- the table as the table's owner: a missing column (42703), a value that
-- is not boolean (42804), a table the owner may not read (42501, even for a
-- superuser configuring it). A refused filter leaves the configuration as
-- it was.
\set VERBOSITY terse
\i tests/pg_regress/common/sqlstate_of.sql
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP TABLE IF EXISTS public.members, public.bans, public.payroll;
DROP ROLE IF EXISTS regress_members_owner;
CREATE EXTENSION nile_reset;
CREATE ROLE regress_members_owner;
CREATE TABLE public.members (
    id          bigint PRIMARY KEY,
    email       text NOT NULL,
    password    text,
    is_active   boolean NOT NULL DEFAULT true,
    login_count integer NOT NULL DEFAULT 0
);
CREATE TABLE public.bans (member_id bigint NOT NULL);
ALTER TABLE public.members OWNER TO regress_members_owner;
ALTER TABLE public.bans OWNER TO regress_members_owner;
-- Not the members table's owner's to read.
CREATE TABLE public.payroll (member_id bigint NOT NULL);
INSERT INTO public.members (id, email) VALUES (1, 'one@example.com');

CREATE FUNCTION pg_temp.configure(filter text) RETURNS text
LANGUAGE sql AS $$
    SELECT pg_temp.sqlstate_of(pg_catalog.format(
        'SELECT auth.use_user_table(%L, %L, %L, %L, %L, user_filter => %L)',
        'public.members', 'id', 'email', 'password', 'bcrypt', filter))
$$;

SELECT pg_temp.configure('is_active');
SELECT filter, pg_temp.configure(filter) AS outcome FROM (VALUES
    -- Not one expression.
    ('true) OR (true'),
    ('true) AND (false'),
    ('true) FROM public.payroll WHERE (true'),
    ('true), (false'),
    ('true); DELETE FROM public.members; SELECT (true'),
    ('true) GROUP BY (1'),
    ('true) ORDER BY (1'),
    ('true) LIMIT (1'),
    ('true) UNION SELECT (true'),
    -- Escapes where backslashes escape quotes (standard_conforming_strings off).
    ('email = ''\'' || '') OR (true --'''),
    ('is_active AND'),
    ('is_active /* unterminated'),
    (''),
    -- One expression, but not one the lookups can use.
    ('no_such_column'),
    ('login_count'),
    ('login_count + 1'),
    ('email = $1'),
    ('count(*) > 0'),
    ('NOT EXISTS (SELECT 1 FROM public.payroll p WHERE p.member_id = id)'),
    ('members.is_active')
) AS t(filter);
SELECT user_filter FROM nile_reset.user_directory;
SELECT count(*) AS members_left FROM public.members;

-- Accepted: a comment, a backslash that is harmless under either rule for
-- string literals, a subquery on a table the owner may read.
SELECT filter, pg_temp.configure(filter) AS outcome FROM (VALUES
    ('is_active -- a trailing comment'),
    ('email ~ ''@example\.com$'''),
    ('u.is_active AND NOT EXISTS (SELECT 1 FROM public.bans b WHERE b.member_id = u.id)')
) AS t(filter);
SELECT user_filter FROM nile_reset.user_directory;

DROP EXTENSION nile_reset;
DROP TABLE public.members, public.bans, public.payroll;
DROP ROLE regress_members_owner;
