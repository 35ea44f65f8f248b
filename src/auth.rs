//! Authentication: choose the mechanism and drive it over a session. The
//! mechanisms themselves are pure functions in the submodules.

pub mod apop;
pub mod sasl;
