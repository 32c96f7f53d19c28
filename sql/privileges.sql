-- Nothing is open to PUBLIC: tokens, the outbox (it holds reset links until
-- sent) and every function need an explicit grant. See README "Security".
REVOKE ALL ON ALL TABLES IN SCHEMA auth, users FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA auth, users FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA auth FROM PUBLIC;
REVOKE ALL ON SCHEMA auth, users FROM PUBLIC;
