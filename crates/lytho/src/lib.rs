//! Lytho client (being written).
