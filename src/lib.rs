//! coallab: a laboratory information system for coal quality supervision.
//!
//! Layers (DESIGN.md "Architecture"): [`domain`] holds the coal-lab rules as pure functions;
//! [`db`] is storage for SQLite and PostgreSQL; [`service`] combines them in transactions;
//! [`api`] is the HTTP surface; [`cli`] the command line.

pub mod api;
pub mod charts;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod ops;
pub mod server;
pub mod service;
pub mod time;
pub mod web;
