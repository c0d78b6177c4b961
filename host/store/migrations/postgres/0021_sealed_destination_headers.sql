-- An event destination's header values, sealed by the vault as one JSON
-- object (owner: the destination, field "headers"); `headers` then keeps
-- the names only, each with an empty value. Rows written before this
-- keep their values in `headers` until they are next changed.
ALTER TABLE event_destinations ADD COLUMN sealed_headers bytea;
