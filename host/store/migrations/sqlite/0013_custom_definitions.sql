-- A project's own provider definition for a `custom.<name>` integration
-- (issue 19): the definition document as the admin API accepted it, checked
-- by the catalog's loader before it is stored. NULL for every other type.
ALTER TABLE integrations ADD COLUMN definition TEXT
    CHECK (definition IS NULL OR (json_type(definition) = 'object' AND integration_type LIKE 'custom.%'));
