-- What a signing key requires of the tokens it verifies: an exact `iss`,
-- and an `aud` naming this audience (issue 24). NULL: `iss` is not checked,
-- and an `aud` a token carries must name the project.
ALTER TABLE signing_keys ADD COLUMN issuer text;
ALTER TABLE signing_keys ADD COLUMN audience text;
