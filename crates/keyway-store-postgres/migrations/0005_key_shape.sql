-- How a key was generated, so keys.rerollKey can issue a successor with the whole prefix and the
-- same random byte length. NULL byte_length: a key stored before this migration or imported; its
-- prefix is then derived from `start` and its length is the default (`KeyShape::from_start`).
ALTER TABLE keys ADD COLUMN prefix TEXT;
ALTER TABLE keys ADD COLUMN byte_length INTEGER;
