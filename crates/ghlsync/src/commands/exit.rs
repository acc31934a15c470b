//! The exit codes every command keeps (written down in `docs/CLI.md`):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | it worked |
//! | 1 | it failed (anything not below) |
//! | 2 | bad usage or input: a flag, a JSON input that does not fit the schema, an API's 400/422 |
//! | 3 | authentication or permission: a refused token, a missing scope, a connection that needs reauth |
//! | 4 | not found: an unknown catalog id, connection, flow or job; an API's 404 |
//! | 5 | try again later: rate limited (429), the server failed (5xx), no connection to it |
//!
//! A command fails with a code by returning a [`Fail`]; `main` maps it to the process
//! exit code and prints its message.

use std::fmt;
use std::process::ExitCode;

/// An exit code with a meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Failure = 1,
    Usage = 2,
    Auth = 3,
    NotFound = 4,
    Later = 5,
}

impl From<Code> for ExitCode {
    fn from(c: Code) -> Self {
        ExitCode::from(c as u8)
    }
}

/// A failure with its exit code and a message that names the problem and the fix.
#[derive(Debug)]
pub struct Fail {
    pub code: Code,
    pub message: String,
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fail {}

impl Fail {
    pub fn with(code: Code, message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Self {
            code,
            message: message.into(),
        })
    }

    pub fn usage(message: impl Into<String>) -> anyhow::Error {
        Self::with(Code::Usage, message)
    }

    pub fn not_found(message: impl Into<String>) -> anyhow::Error {
        Self::with(Code::NotFound, message)
    }

    pub fn auth(message: impl Into<String>) -> anyhow::Error {
        Self::with(Code::Auth, message)
    }
}

/// The exit code for an error: a [`Fail`]'s own, else 1.
pub fn code_of(e: &anyhow::Error) -> ExitCode {
    e.downcast_ref::<Fail>()
        .map_or(ExitCode::FAILURE, |f| f.code.into())
}

/// The code for an API's HTTP status (or none: the request never got an answer).
pub fn for_status(status: Option<u16>, reauth: bool) -> Code {
    match status {
        _ if reauth => Code::Auth,
        Some(401 | 403) => Code::Auth,
        Some(404) => Code::NotFound,
        Some(429) => Code::Later,
        Some(s) if s >= 500 => Code::Later,
        None => Code::Later,
        Some(400..=499) => Code::Usage,
        Some(_) => Code::Failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_their_documented_codes() {
        assert_eq!(for_status(Some(422), false), Code::Usage);
        assert_eq!(for_status(Some(400), false), Code::Usage);
        assert_eq!(for_status(Some(401), false), Code::Auth);
        assert_eq!(for_status(Some(403), false), Code::Auth);
        assert_eq!(for_status(Some(400), true), Code::Auth);
        assert_eq!(for_status(Some(404), false), Code::NotFound);
        assert_eq!(for_status(Some(429), false), Code::Later);
        assert_eq!(for_status(Some(503), false), Code::Later);
        assert_eq!(for_status(None, false), Code::Later);
        let e = Fail::not_found("x");
        assert_eq!(code_of(&e), ExitCode::from(4));
        assert_eq!(code_of(&anyhow::anyhow!("plain")), ExitCode::FAILURE);
    }
}
