//! Which analyses a reported result needs (GB/T 483-2007 §7.2 conversions; STANDARDS.md §2).
//!
//! A stage can be submitted only when every analysis needed by a limit it is judged against has
//! an accepted mean.

use crate::domain::terms::{Analysis, ResultParameter};

/// The analyses whose accepted means a result is computed from.
///
/// Ad = Aad·100/(100 − Mad); St,d = St,ad·100/(100 − Mad); Vdaf = Vad·100/(100 − Mad − Aad);
/// FCad = 100 − Mad − Aad − Vad; Qnet,ar from Qgr,ad, Had, Mt and Mad.
pub fn required_analyses(parameter: ResultParameter) -> &'static [Analysis] {
    use Analysis as A;
    match parameter {
        ResultParameter::Ad => &[A::Mad, A::Aad],
        ResultParameter::Std => &[A::Mad, A::StAd],
        ResultParameter::Vdaf => &[A::Mad, A::Aad, A::Vad],
        ResultParameter::FcAd => &[A::Mad, A::Aad, A::Vad],
        ResultParameter::QnetAr => &[A::Mt, A::Mad, A::QgrAd, A::Had],
        ResultParameter::Aad => &[A::Aad],
        ResultParameter::StAd => &[A::StAd],
        ResultParameter::Mad => &[A::Mad],
        ResultParameter::Mt => &[A::Mt],
    }
}

/// The analyses needed by a set of result parameters, without repeats, in [`Analysis`] order.
pub fn analyses_for<I: IntoIterator<Item = ResultParameter>>(parameters: I) -> Vec<Analysis> {
    let mut out: Vec<Analysis> = parameters
        .into_iter()
        .flat_map(|p| required_analyses(p).iter().copied())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ash_and_sulfur_on_dry_basis_need_mad() {
        // Ad and St,d both convert from ad with Mad: the union is Mad, Aad, St,ad (enum order).
        assert_eq!(
            analyses_for([ResultParameter::Ad, ResultParameter::Std]),
            vec![Analysis::Mad, Analysis::Aad, Analysis::StAd]
        );
    }

    #[test]
    fn qnet_needs_total_moisture_and_hydrogen() {
        assert_eq!(
            analyses_for([ResultParameter::QnetAr]),
            vec![Analysis::Mt, Analysis::Mad, Analysis::QgrAd, Analysis::Had]
        );
    }
}
