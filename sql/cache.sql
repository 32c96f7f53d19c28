-- Every backend caches the configuration it reads on each call (src/cache.rs):
-- a change to these tables reaches every cache once it commits, through the
-- relcache invalidation this trigger queues. Statement-level, so a bulk
-- change costs one message.
CREATE TRIGGER configuration_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nile_reset.user_directory
    FOR EACH STATEMENT EXECUTE FUNCTION nile_reset.configuration_changed();
CREATE TRIGGER configuration_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nile_reset.trusted_origins
    FOR EACH STATEMENT EXECUTE FUNCTION nile_reset.configuration_changed();
CREATE TRIGGER configuration_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nile_reset.email_templates
    FOR EACH STATEMENT EXECUTE FUNCTION nile_reset.configuration_changed();
CREATE TRIGGER configuration_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nile_reset.template_variables
    FOR EACH STATEMENT EXECUTE FUNCTION nile_reset.configuration_changed();
