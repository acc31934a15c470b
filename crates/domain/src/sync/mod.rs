//! The sync engine's model: the sync file, the mapping language, and the pure
//! decisions the runner acts on.
//!
//! - [`path`]: where a value lives in a record (`customFields[id=x].value`).
//! - [`value`]: what "the same value" means (blanks, numbers, sets).
//! - [`transform`]: the built-in transforms and their inverses.

pub mod path;
pub mod transform;
pub mod value;

pub use path::{Path, PathError};
pub use transform::{Chain, ChainError, Transform, TransformError, TransformSpec};
