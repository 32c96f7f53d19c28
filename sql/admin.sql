-- This database's administrators of nile_reset (src/admin.rs): the roles
-- auth.grant_admin named here, each holding the administration grants on
-- this database's objects, and only here. Written only by auth.grant_admin
-- and auth.revoke_admin, as the extension owner. `role` is a regrole, so a
-- renamed role stays recorded and pg_dump writes its name (pg_upgrade keeps
-- regrole columns); `granted_by` is who named it, by name at the time;
-- `auth_usage` says whether grant_admin gave it USAGE on `auth` (only on an
-- `auth` the install created, to a role that had none), which revoke_admin
-- then takes back.
CREATE TABLE nile_reset.admins (
    role       regrole     PRIMARY KEY,
    granted_by name        NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    auth_usage boolean     NOT NULL DEFAULT false
);
-- Its rows are dumped; the grants are too (they are never the extension's
-- initial privileges).
SELECT pg_catalog.pg_extension_config_dump('nile_reset.admins', '');
