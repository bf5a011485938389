//! Running coallab for years (issue 9): request ids and access logs, limits on bad traffic
//! (body size, JSON depth, per-client rate limits), error bodies for errors produced outside the
//! handlers, and the validation of server settings at start.

pub mod cli;
pub mod json_errors;
pub mod nul_bytes;
pub mod progress;
pub mod rate_limit;
pub mod request_id;
pub mod settings;
