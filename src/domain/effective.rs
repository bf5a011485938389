//! A sample's effective state at an instant (docs/reports.md "Effective state"): its stored
//! state, except that a failed initial test whose appeal window has lapsed with no retest
//! requested counts as closed from the window's end, whether or not the close was recorded yet
//! (by hand or by the closing job of src/service/appeal_close.rs).
//!
//! The reports compute the same in SQL (src/service/reports_sql.rs `effective_state`,
//! `effective_closed_at`) where they filter or group on it; tests/reports_effective.rs checks
//! that both agree on every combination of stored facts.

use super::lifecycle::SampleState;

/// What a sample row stores about its finality. Instants are milliseconds since the Unix epoch
/// (UTC), as in the `samples` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredFinality {
    /// The state as stored.
    pub state: SampleState,
    /// End of the appeal window (exclusive), once the initial result's receipt is recorded.
    pub appeal_closes_at: Option<i64>,
    /// When a retest was requested.
    pub retest_requested_at: Option<i64>,
    /// When the sample was closed, if it was.
    pub closed_at: Option<i64>,
}

impl StoredFinality {
    /// Whether the appeal window of a released failed initial test has ended at `now_ms` with no
    /// retest requested. The window is open while `at < appeal_closes_at`
    /// (`domain::deadline::appeal_open`), so it has ended when `appeal_closes_at <= now_ms`.
    pub fn appeal_lapsed(&self, now_ms: i64) -> bool {
        self.state == SampleState::InitialReleased
            && self.appeal_closes_at.is_some_and(|closes| closes <= now_ms)
    }

    /// The state at `now_ms`: the stored one, or `closed` once [`Self::appeal_lapsed`].
    pub fn effective_state(&self, now_ms: i64) -> SampleState {
        if self.appeal_lapsed(now_ms) {
            SampleState::Closed
        } else {
            self.state
        }
    }

    /// When the verdict became final, seen at `now_ms` (ms); `None` while it is not final.
    /// A failed initial test that nobody appealed became final when its appeal window ended
    /// (`appeal_closes_at`), whenever its close was recorded; any other closed sample at its
    /// `closed_at` (the release of a passing initial test, or of the retest).
    pub fn final_at(&self, now_ms: i64) -> Option<i64> {
        let unappealed_close = self.state == SampleState::Closed
            && self.retest_requested_at.is_none()
            && self.appeal_closes_at.is_some();
        if self.appeal_lapsed(now_ms) || unappealed_close {
            self.appeal_closes_at
        } else if self.state == SampleState::Closed {
            self.closed_at
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOSES: i64 = 1_000_000;

    fn failed_initial(state: SampleState) -> StoredFinality {
        StoredFinality {
            state,
            appeal_closes_at: Some(CLOSES),
            retest_requested_at: None,
            closed_at: None,
        }
    }

    #[test]
    fn an_unappealed_failure_closes_at_the_end_of_its_window() {
        let f = failed_initial(SampleState::InitialReleased);
        // One millisecond before the window's end the appeal is still open (at < closes_at).
        assert_eq!(f.effective_state(CLOSES - 1), SampleState::InitialReleased);
        assert_eq!(f.final_at(CLOSES - 1), None);
        // From the end itself it is closed, final since the end.
        assert_eq!(f.effective_state(CLOSES), SampleState::Closed);
        assert_eq!(f.final_at(CLOSES), Some(CLOSES));
        assert_eq!(f.final_at(CLOSES + 86_400_000), Some(CLOSES));
    }

    #[test]
    fn a_recorded_close_of_an_unappealed_failure_keeps_the_window_end() {
        // The closing job ran an hour after the window ended: final since the end, not since
        // the job.
        let f = StoredFinality {
            closed_at: Some(CLOSES + 3_600_000),
            ..failed_initial(SampleState::Closed)
        };
        assert_eq!(f.effective_state(0), SampleState::Closed);
        assert_eq!(f.final_at(0), Some(CLOSES));
    }

    #[test]
    fn a_retest_is_final_at_its_close() {
        let f = StoredFinality {
            retest_requested_at: Some(CLOSES - 10),
            closed_at: Some(CLOSES + 5_000),
            ..failed_initial(SampleState::Closed)
        };
        assert_eq!(f.final_at(CLOSES + 10_000), Some(CLOSES + 5_000));
        // While the retest runs, the lapsed window does not close the sample.
        let open = StoredFinality {
            closed_at: None,
            ..f
        };
        let open = StoredFinality {
            state: SampleState::RetestTesting,
            ..open
        };
        assert_eq!(
            open.effective_state(CLOSES + 10),
            SampleState::RetestTesting
        );
        assert_eq!(open.final_at(CLOSES + 10), None);
    }

    #[test]
    fn a_pass_is_final_at_its_release() {
        // A passing initial test closes at release; it has no appeal window.
        let f = StoredFinality {
            state: SampleState::Closed,
            appeal_closes_at: None,
            retest_requested_at: None,
            closed_at: Some(42),
        };
        assert_eq!(f.final_at(0), Some(42));
        assert_eq!(f.effective_state(0), SampleState::Closed);
    }

    #[test]
    fn withdrawn_and_open_samples_have_no_final_instant() {
        for state in [
            SampleState::Rejected,
            SampleState::Cancelled,
            SampleState::InitialReview,
        ] {
            let f = StoredFinality {
                state,
                appeal_closes_at: None,
                retest_requested_at: None,
                closed_at: None,
            };
            assert_eq!(f.effective_state(CLOSES), state);
            assert_eq!(f.final_at(CLOSES), None);
        }
    }
}
