//! Lofty client (being written).
