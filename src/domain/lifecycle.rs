//! The sample lifecycle: states, actions, who may take them, and the legal transitions
//! (DESIGN.md "Sample lifecycle").
//!
//! ```text
//! registered → received → initial_testing ⇄ initial_review → initial_released
//! initial_released → closed | retest_testing ⇄ retest_review → retest_released → closed
//! any open state → rejected | cancelled
//! ```
//! Only the state machine and roles live here; four-eyes review, the appeal window (the retest
//! request must come in time, closing only after it passes) and reasons are checked by other rules.

use super::terms::{coded_enum, Role, Stage, UnknownCode};
use serde::{Deserialize, Serialize};
use std::fmt;

coded_enum!(
    /// Where a sample is in its lifecycle (DESIGN.md "Sample lifecycle").
    SampleState, "sample state" {
        /// Registered (sampling record entered), not yet at the lab.
        Registered => "registered",
        /// Received by the lab; the initial-test clock runs from here.
        Received => "received",
        /// Initial test (初检) determinations being entered.
        InitialTesting => "initial_testing",
        /// Initial results submitted, awaiting review.
        InitialReview => "initial_review",
        /// Initial result released; the appeal window runs.
        InitialReleased => "initial_released",
        /// Retest (复检) on the retained sample being entered.
        RetestTesting => "retest_testing",
        /// Retest results submitted, awaiting review.
        RetestReview => "retest_review",
        /// Retest result released; its verdict is final.
        RetestReleased => "retest_released",
        /// Closed with its final verdict (terminal).
        Closed => "closed",
        /// Refused as unusable, e.g. broken seal (terminal).
        Rejected => "rejected",
        /// Withdrawn (terminal).
        Cancelled => "cancelled",
    }
);

coded_enum!(
    /// Something a user (or the scheduler) does to a sample.
    Action, "action" {
        /// registered → received.
        Receive => "receive",
        /// received → initial_testing.
        Start => "start",
        /// *_testing → *_review.
        Submit => "submit",
        /// *_review → *_released.
        Release => "release",
        /// *_review → *_testing (sent back for rework).
        Return => "return",
        /// initial_released → retest_testing (the enterprise appealed in time).
        RequestRetest => "request_retest",
        /// *_released → closed.
        Close => "close",
        /// any open state → rejected.
        Reject => "reject",
        /// any open state → cancelled.
        Cancel => "cancel",
    }
);

/// Who takes an action: a user in a role, or the system (the scheduler that closes samples whose
/// appeal window has passed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// A signed-in user acting in a role.
    User(Role),
    /// coallab itself (scheduled jobs).
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(role) => f.write_str(role.as_code()),
            Actor::System => f.write_str("system"),
        }
    }
}

/// A refused transition (the API answers 409 with the message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The action is not legal in the state; `legal` lists the ones that are.
    #[error(
        "cannot {action} a sample in state {state}; legal actions: {}",
        list(legal, "none (terminal state)")
    )]
    IllegalAction {
        /// The sample's current state.
        state: SampleState,
        /// The action refused.
        action: Action,
        /// The actions legal in `state`, in declaration order.
        legal: Vec<Action>,
    },
    /// The actor may not take this action.
    #[error("{actor} may not {action}; allowed: {}", list(allowed, "nobody"))]
    ActorNotAllowed {
        /// The action refused.
        action: Action,
        /// Who tried.
        actor: Actor,
        /// Who may.
        allowed: Vec<Actor>,
    },
}

fn list<T: fmt::Display>(items: &[T], empty: &str) -> String {
    if items.is_empty() {
        return empty.to_string();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl SampleState {
    /// Closed, rejected and cancelled: nothing more happens to the sample.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SampleState::Closed | SampleState::Rejected | SampleState::Cancelled
        )
    }

    /// Lab work in progress (registered, received, testing, review): the states a sample can be
    /// rejected or cancelled from. Released and terminal states are not open.
    pub fn is_open(self) -> bool {
        use SampleState::*;
        matches!(
            self,
            Registered | Received | InitialTesting | InitialReview | RetestTesting | RetestReview
        )
    }

    /// The stage in progress or just released: `initial_test` from receipt (its clock starts
    /// there, DESIGN.md "Deadlines and turnaround") to initial_released, `retest` from
    /// retest_testing to retest_released; none before receipt or once terminal.
    pub fn stage(self) -> Option<Stage> {
        use SampleState::*;
        match self {
            Received | InitialTesting | InitialReview | InitialReleased => Some(Stage::InitialTest),
            RetestTesting | RetestReview | RetestReleased => Some(Stage::Retest),
            Registered | Closed | Rejected | Cancelled => None,
        }
    }
}

/// The state `action` leads to from `state`, if legal (DESIGN.md "Sample lifecycle").
fn next_state(state: SampleState, action: Action) -> Option<SampleState> {
    use Action::*;
    use SampleState::*;
    match (state, action) {
        (Registered, Receive) => Some(Received),
        (Received, Start) => Some(InitialTesting),
        (InitialTesting, Submit) => Some(InitialReview),
        (InitialReview, Release) => Some(InitialReleased),
        (InitialReview, Return) => Some(InitialTesting),
        (InitialReleased, RequestRetest) => Some(RetestTesting),
        (InitialReleased, Close) => Some(Closed),
        (RetestTesting, Submit) => Some(RetestReview),
        (RetestReview, Release) => Some(RetestReleased),
        (RetestReview, Return) => Some(RetestTesting),
        (RetestReleased, Close) => Some(Closed),
        (s, Reject) if s.is_open() => Some(Rejected),
        (s, Cancel) if s.is_open() => Some(Cancelled),
        _ => None,
    }
}

/// The actions legal in `state`, in declaration order of [`Action`]; empty for terminal states.
pub fn legal_actions(state: SampleState) -> Vec<Action> {
    Action::ALL
        .iter()
        .copied()
        .filter(|a| next_state(state, *a).is_some())
        .collect()
}

/// Who may take `action` (DESIGN.md "Who uses it"): receive, start, submit, reject: technician,
/// reviewer; release, return: reviewer; request_retest: regulator, admin; close: system,
/// reviewer, admin; cancel: reviewer, admin.
pub fn allowed_actors(action: Action) -> Vec<Actor> {
    use Action::*;
    use Role::*;
    let users: &[Role] = match action {
        Receive | Start | Submit | Reject => &[Technician, Reviewer],
        Release | Return => &[Reviewer],
        RequestRetest => &[Regulator, Admin],
        Close | Cancel => &[Reviewer, Admin], // close: plus the system, below
    };
    let system = (action == Close).then_some(Actor::System);
    system
        .into_iter()
        .chain(users.iter().map(|r| Actor::User(*r)))
        .collect()
}

/// Applies `action` by `actor` to a sample in `state` and returns the new state.
///
/// # Errors
/// - [`TransitionError::IllegalAction`] when `action` is not legal in `state` (lists the legal
///   ones); checked first.
/// - [`TransitionError::ActorNotAllowed`] when `actor` may not take `action` (lists who may).
pub fn transition(
    state: SampleState,
    action: Action,
    actor: Actor,
) -> Result<SampleState, TransitionError> {
    let Some(next) = next_state(state, action) else {
        return Err(TransitionError::IllegalAction {
            state,
            action,
            legal: legal_actions(state),
        });
    };
    let allowed = allowed_actors(action);
    if !allowed.contains(&actor) {
        return Err(TransitionError::ActorNotAllowed {
            action,
            actor,
            allowed,
        });
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected machine, written out by hand from DESIGN.md: (state, [(action, next)]).
    fn expected(state: SampleState) -> Vec<(&'static str, &'static str)> {
        let open = [("reject", "rejected"), ("cancel", "cancelled")];
        let mut t: Vec<(&str, &str)> = match state.as_code() {
            "registered" => vec![("receive", "received")],
            "received" => vec![("start", "initial_testing")],
            "initial_testing" => vec![("submit", "initial_review")],
            "initial_review" => vec![
                ("release", "initial_released"),
                ("return", "initial_testing"),
            ],
            "initial_released" => vec![("request_retest", "retest_testing"), ("close", "closed")],
            "retest_testing" => vec![("submit", "retest_review")],
            "retest_review" => vec![("release", "retest_released"), ("return", "retest_testing")],
            "retest_released" => vec![("close", "closed")],
            _ => vec![], // closed, rejected, cancelled
        };
        if !matches!(
            state.as_code(),
            "initial_released" | "retest_released" | "closed" | "rejected" | "cancelled"
        ) {
            t.extend(open);
        }
        t
    }

    #[test]
    fn every_state_and_action_against_the_table() {
        let (mut legal, mut refused) = (0, 0);
        for &state in SampleState::ALL {
            let table = expected(state);
            for &action in Action::ALL {
                let actor = allowed_actors(action)[0];
                match table.iter().find(|(a, _)| *a == action.as_code()) {
                    Some((_, next)) => {
                        legal += 1;
                        assert_eq!(transition(state, action, actor).unwrap().as_code(), *next);
                    }
                    None => {
                        refused += 1;
                        let Err(TransitionError::IllegalAction { legal: l, .. }) =
                            transition(state, action, actor)
                        else {
                            panic!("{state} {action} should be refused");
                        };
                        let mut want: Vec<&str> = table.iter().map(|(a, _)| *a).collect();
                        let mut got: Vec<&str> = l.iter().map(|a| a.as_code()).collect();
                        want.sort_unstable();
                        got.sort_unstable();
                        assert_eq!(got, want, "legal actions of {state}");
                    }
                }
            }
        }
        // 3 + 3 + 3 + 4 + 2 + 3 + 4 + 1 = 23 legal; 11 states × 9 actions − 23 = 76 refused.
        assert_eq!((legal, refused), (23, 76));
    }

    #[test]
    fn roles_by_action() {
        let all: Vec<Actor> = Role::ALL
            .iter()
            .map(|r| Actor::User(*r))
            .chain([Actor::System])
            .collect();
        let table = [
            ("receive", "technician reviewer"),
            ("start", "technician reviewer"),
            ("submit", "technician reviewer"),
            ("reject", "technician reviewer"),
            ("release", "reviewer"),
            ("return", "reviewer"),
            ("request_retest", "regulator admin"),
            ("close", "system reviewer admin"),
            ("cancel", "reviewer admin"),
        ];
        assert_eq!(table.len(), Action::ALL.len());
        for (code, who) in table {
            let action = Action::from_code(code).unwrap();
            let state = SampleState::ALL
                .iter()
                .copied()
                .find(|s| legal_actions(*s).contains(&action))
                .unwrap();
            for actor in &all {
                let may = who.split(' ').any(|w| w == actor.to_string());
                let result = transition(state, action, *actor);
                assert_eq!(result.is_ok(), may, "{actor} {action} from {state}");
                if !may {
                    assert!(matches!(
                        result,
                        Err(TransitionError::ActorNotAllowed { .. })
                    ));
                }
            }
        }
    }

    #[test]
    fn messages_name_the_legal_choices() {
        let e = transition(
            SampleState::InitialReleased,
            Action::Submit,
            Actor::User(Role::Technician),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "cannot submit a sample in state initial_released; legal actions: request_retest, close");
        let e = transition(
            SampleState::Closed,
            Action::Cancel,
            Actor::User(Role::Admin),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot cancel a sample in state closed; legal actions: none (terminal state)"
        );
        let e = transition(
            SampleState::InitialReview,
            Action::Release,
            Actor::User(Role::Technician),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "technician may not release; allowed: reviewer"
        );
        // The legality of the action is checked before the actor.
        let e = transition(
            SampleState::Registered,
            Action::Release,
            Actor::User(Role::Auditor),
        )
        .unwrap_err();
        assert!(matches!(e, TransitionError::IllegalAction { .. }));
        // The scheduler closes a sample whose appeal window passed.
        assert_eq!(
            transition(SampleState::InitialReleased, Action::Close, Actor::System),
            Ok(SampleState::Closed)
        );
    }

    #[test]
    fn state_properties() {
        use SampleState::*;
        let terminal: Vec<_> = SampleState::ALL
            .iter()
            .copied()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(terminal, [Closed, Rejected, Cancelled]);
        for s in SampleState::ALL {
            assert_eq!(s.is_terminal(), legal_actions(*s).is_empty()); // terminal ⇔ no way out
            assert_eq!(s.is_open(), legal_actions(*s).contains(&Action::Cancel));
        }
        assert_eq!(Registered.stage(), None);
        assert_eq!(Received.stage(), Some(Stage::InitialTest));
        assert_eq!(InitialReleased.stage(), Some(Stage::InitialTest));
        assert_eq!(RetestTesting.stage(), Some(Stage::Retest));
        assert_eq!(RetestReleased.stage(), Some(Stage::Retest));
        assert_eq!(Closed.stage(), None);
        assert_eq!(SampleState::from_code("retest_review"), Ok(RetestReview));
        assert_eq!(
            serde_json::to_string(&Actor::User(Role::Admin)).unwrap(),
            r#"{"user":"admin"}"#
        );
        assert_eq!(
            serde_json::to_string(&Actor::System).unwrap(),
            r#""system""#
        );
    }
}
