//! A ranking of suppliers by the estimated risk that their next sample fails a limit
//! (issue 6; docs/statistics.md "Risk ranking").

use serde::Serialize;

use crate::db::Tx;
use crate::domain::terms::ResultParameter;
use crate::error::AppError;
use crate::service::stats::{load_series, Period, Series, SupplierRef};

/// One supplier in a risk ranking.
#[derive(Debug, Clone, Serialize)]
pub struct RankEntry {
    /// 1-based rank; suppliers with insufficient data come last, unranked (null).
    pub rank: Option<usize>,
    /// The supplier.
    pub supplier: SupplierRef,
    /// Points in the period.
    pub n: usize,
    /// Highest estimated probability that the next sample fails a limit on the parameter
    /// (Student-t predictive model); null with insufficient data.
    pub risk: Option<f64>,
    /// The limit with that highest probability, e.g. "lt 16.00".
    pub riskiest_limit: Option<String>,
    /// Mean value.
    pub mean: Option<f64>,
    /// Pass rate.
    pub pass_rate: Option<f64>,
    /// Mann–Kendall direction at 5 %, when computed.
    pub trend: Option<crate::domain::stats_trend::Direction>,
}

/// Ranks the series by risk, highest first; ties and equal risks keep supplier-code order.
pub fn rank(series: &[Series]) -> Vec<RankEntry> {
    let mut entries: Vec<RankEntry> = series
        .iter()
        .map(|s| {
            let st = s.stats();
            let riskiest = st.exceedance.ok().and_then(|e| {
                e.iter()
                    .max_by(|a, b| a.probability.total_cmp(&b.probability))
                    .map(|x| format!("{} {}", x.limit.operator, x.limit.value))
            });
            RankEntry {
                rank: None,
                supplier: s.supplier.clone(),
                n: st.n,
                risk: st.risk,
                riskiest_limit: riskiest,
                mean: st.descriptive.ok().map(|d| d.mean),
                pass_rate: st.pass_rate.ok().map(|p| p.rate),
                trend: st.mann_kendall.ok().map(|m| m.direction),
            }
        })
        .collect();
    entries.sort_by(|a, b| match (a.risk, b.risk) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    for (i, e) in entries.iter_mut().enumerate() {
        if e.risk.is_some() {
            e.rank = Some(i + 1);
        }
    }
    entries
}

/// A ranking of every supplier by risk on one parameter.
#[derive(Debug, Clone, Serialize)]
pub struct Ranking {
    /// The parameter.
    pub parameter: ResultParameter,
    /// The period.
    pub period: Period,
    /// How the risk is estimated.
    pub model: &'static str,
    /// Suppliers, riskiest first.
    pub suppliers: Vec<RankEntry>,
}

/// The model sentence of [`Ranking::model`].
pub const RISK_MODEL: &str = "risk = the highest, over the limits on the parameter that applied to the supplier's \
latest sample, of the probability that the next sample fails the limit under the Student-t predictive \
distribution x̄ + s·√(1 + 1/n)·T(n − 1) of the supplier's released final results in the period \
(independent normal values, no trend); at least 3 results are needed";

/// Ranks every supplier by risk on `parameter` over `period`.
///
/// # Errors
/// As [`load_series`].
pub fn ranking(
    tx: &mut Tx<'_>,
    parameter: ResultParameter,
    period: Period,
) -> Result<Ranking, AppError> {
    let series = load_series(tx, None, &[parameter], period)?;
    Ok(Ranking {
        parameter,
        period,
        model: RISK_MODEL,
        suppliers: rank(&series),
    })
}
