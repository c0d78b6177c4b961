-- A project's own provider definition for a `custom.<name>` integration
-- (issue 19): the definition document as the admin API accepted it, checked
-- by the catalog's loader before it is stored. NULL for every other type.
ALTER TABLE integrations
    ADD COLUMN definition jsonb,
    ADD CONSTRAINT integrations_definition_custom
        CHECK (definition IS NULL OR (jsonb_typeof(definition) = 'object' AND integration_type LIKE 'custom.%'));
