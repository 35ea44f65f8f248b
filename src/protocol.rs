//! POP3 (RFC 1939, 2449, 5034): pure parsers and encoders in the submodules,
//! and a thin blocking [`session::Session`] that drives them over any
//! `Read + Write`.

pub mod capa;
pub mod command;
pub mod multiline;
pub mod response;
pub mod session;

#[cfg(test)]
mod proptests;

pub use capa::Capabilities;
pub use command::Command;
pub use response::{ProtoError, RespCode};
pub use session::Session;
