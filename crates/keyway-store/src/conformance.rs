//! The conformance suite: written by the SQLite adapter work.
