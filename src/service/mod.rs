//! Use cases: each public function combines the pure rules of [`crate::domain`] with storage
//! in [`crate::db`], inside the caller's transaction. Handlers in [`crate::api`] call these.

pub mod amend;
pub mod amend_release;
pub mod appeal_close;
pub mod audit;
pub mod audit_view;
pub mod auth;
pub mod backup;
pub mod bulk_rows;
pub mod demo;
pub mod entry;
pub mod generate;
pub mod generate_bulk;
pub mod generate_cli;
pub mod generate_plan;
pub mod generate_replay;
pub mod import;
pub mod import_samples;
pub mod limit_set_input;
pub mod preview;
pub mod reference;
pub mod reference_lists;
pub mod reports;
pub mod reports_cli;
pub mod reports_clock;
pub mod reports_doc;
pub mod reports_html;
pub mod reports_params;
pub mod reports_pdf;
pub mod reports_sql;
pub mod reports_status;
pub mod reports_tat;
pub mod reports_tat_load;
pub mod result_rows;
pub mod retention;
pub mod rows;
pub mod samples;
pub mod stats;
pub mod stats_charts;
pub mod stats_cli;
pub mod stats_rank;
pub mod text_input;
pub mod users;
pub mod users_admin;
pub mod users_session;
pub mod view;
pub mod workflow;

use rand::Rng;

/// A random code of `len` characters from an alphabet without look-alikes (0/O, 1/I).
pub fn random_code(len: usize) -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The blind lab code of a sample id: a keyed permutation of the id written in base 32, so that
/// codes are unique (the id is) but do not reveal the registration order at a glance.
pub fn blind_code(id: i64) -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    // Multiplication by an odd constant is a bijection modulo 2^40, so distinct ids below 2^40
    // give distinct codes.
    let mixed = ((id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15 | 1)) & ((1u64 << 40) - 1);
    let mut out = String::with_capacity(8);
    for i in (0..8).rev() {
        out.push(ALPHABET[((mixed >> (i * 5)) & 31) as usize] as char);
    }
    out
}
