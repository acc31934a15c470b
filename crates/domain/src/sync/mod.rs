//! The sync engine's model: the sync file, the mapping language, and the pure
//! decisions the runner acts on. No IO: the engine loads records, calls this, and
//! acts on the answer.
//!
//! - [`file`]: the sync file (TOML, one per object pair), built into a [`SyncSpec`].
//! - [`registry`]: the fields of each object type, which the file is checked against.
//! - [`path`]: where a value lives in a record (`customFields[id=x].value`).
//! - [`value`]: what "the same value" means (blanks, numbers, sets).
//! - [`transform`]: the built-in transforms and their inverses.
//! - [`expr`]: the expression escape hatch (minijinja, fuel-limited).
//! - [`matching`]: first-time pairing by ordered keys.
//! - [`merge`]: the three-way decision per field against the shadow, and the
//!   fingerprint that recognises our own writes when they come back.
//! - [`recipes`]: the sync files that ship in the binary.

pub mod edit;
pub mod expr;
pub mod file;
pub mod html;
pub mod matching;
pub mod merge;
pub mod path;
pub mod recipes;
pub mod registry;
pub mod transform;
pub mod value;

pub use file::{
    ACCOUNTS_MARKER, AccountField, AccountsSection, ArrayMode, Attach, BlankPolicy, ConflictRule,
    CustomFieldsSection, CustomPairing, DeletePolicy, Direction, FieldRule, OnNone, Parent,
    ParentSection, Side, SyncFile, SyncFileError, SyncSpec, custom_key,
};
pub use matching::{MatchOutcome, PARENT_KEY, decide, key_values};
pub use merge::{Conflict, Diff, Plan, Shadow, ShadowField, Versions, fingerprint, plan};
pub use path::{Path, PathError};
pub use registry::{CustomShape, FieldKind, ObjectType, Registry};
pub use transform::{Chain, ChainError, Transform, TransformError, TransformSpec};
