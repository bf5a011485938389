//! Statistics and charts of released final results (issue 6; docs/statistics.md).
//!
//! Readers of supplier data only (regulators, auditors, reviewers, admins): technicians work
//! blind and never see suppliers.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::api::access::{require, Endpoint};
use crate::api::auth::Auth;
use crate::api::query::Query;
use crate::api::{blocking, AppState};
use crate::charts::ChartFormat;
use crate::error::AppError;
use crate::service::stats::{parse_parameter, supplier_stats, Period};
use crate::service::stats_charts::{
    comparison_chart_bytes, parse_parameters, supplier_chart_bytes,
};
use crate::service::stats_rank::ranking;

/// Query of the statistics and chart endpoints.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// One parameter code (`ad`, `std`, …) for statistics, rankings and comparisons.
    pub parameter: Option<String>,
    /// Comma-separated parameter codes for a supplier chart (default `ad,std`).
    pub parameters: Option<String>,
    /// First sampling day, YYYY-MM-DD (inclusive).
    pub from: Option<String>,
    /// Last sampling day, YYYY-MM-DD (inclusive).
    pub to: Option<String>,
}

impl StatsQuery {
    fn period(&self) -> Result<Period, AppError> {
        Period::parse(self.from.as_deref(), self.to.as_deref())
    }

    fn parameter_or(
        &self,
        default: &str,
    ) -> Result<crate::domain::terms::ResultParameter, AppError> {
        parse_parameter(self.parameter.as_deref().unwrap_or(default))
    }
}

/// `GET /api/v1/suppliers/{code}/stats?parameter=ad&from=&to=`: the series and every statistic.
pub async fn supplier(
    state: web::Data<AppState>,
    Auth(user): Auth,
    code: web::Path<String>,
    q: Query<StatsQuery>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::ReadStats)?;
    let (parameter, period) = (q.parameter_or("ad")?, q.period()?);
    let db = state.db.clone();
    let out = blocking(move || db.read(|tx| supplier_stats(tx, &code, parameter, period))).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// `GET /api/v1/stats/ranking?parameter=std&from=&to=`: suppliers by risk, highest first.
pub async fn rank(
    state: web::Data<AppState>,
    Auth(user): Auth,
    q: Query<StatsQuery>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::ReadStats)?;
    let (parameter, period) = (q.parameter_or("std")?, q.period()?);
    let db = state.db.clone();
    let out = blocking(move || db.read(|tx| ranking(tx, parameter, period))).await?;
    Ok(HttpResponse::Ok().json(out))
}

async fn supplier_chart(
    state: web::Data<AppState>,
    user: Auth,
    code: String,
    q: StatsQuery,
    format: ChartFormat,
) -> Result<HttpResponse, AppError> {
    require(&user.0, Endpoint::ReadStats)?;
    let (parameters, period) = (parse_parameters(q.parameters.as_deref())?, q.period()?);
    let db = state.db.clone();
    let bytes = blocking(move || {
        db.read(|tx| supplier_chart_bytes(tx, &code, &parameters, period, format))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .body(bytes))
}

/// `GET /api/v1/suppliers/{code}/chart.svg?parameters=ad,std&from=&to=`.
pub async fn supplier_svg(
    state: web::Data<AppState>,
    user: Auth,
    code: web::Path<String>,
    q: Query<StatsQuery>,
) -> Result<HttpResponse, AppError> {
    supplier_chart(
        state,
        user,
        code.into_inner(),
        q.into_inner(),
        ChartFormat::Svg,
    )
    .await
}

/// `GET /api/v1/suppliers/{code}/chart.png?parameters=ad,std&from=&to=`.
pub async fn supplier_png(
    state: web::Data<AppState>,
    user: Auth,
    code: web::Path<String>,
    q: Query<StatsQuery>,
) -> Result<HttpResponse, AppError> {
    supplier_chart(
        state,
        user,
        code.into_inner(),
        q.into_inner(),
        ChartFormat::Png,
    )
    .await
}

async fn comparison(
    state: web::Data<AppState>,
    user: Auth,
    q: StatsQuery,
    format: ChartFormat,
) -> Result<HttpResponse, AppError> {
    require(&user.0, Endpoint::ReadStats)?;
    let (parameter, period) = (q.parameter_or("ad")?, q.period()?);
    let db = state.db.clone();
    let bytes =
        blocking(move || db.read(|tx| comparison_chart_bytes(tx, parameter, period, format)))
            .await?;
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .body(bytes))
}

/// `GET /api/v1/charts/comparison.svg?parameter=ad&from=&to=`.
pub async fn comparison_svg(
    state: web::Data<AppState>,
    user: Auth,
    q: Query<StatsQuery>,
) -> Result<HttpResponse, AppError> {
    comparison(state, user, q.into_inner(), ChartFormat::Svg).await
}

/// `GET /api/v1/charts/comparison.png?parameter=ad&from=&to=`.
pub async fn comparison_png(
    state: web::Data<AppState>,
    user: Auth,
    q: Query<StatsQuery>,
) -> Result<HttpResponse, AppError> {
    comparison(state, user, q.into_inner(), ChartFormat::Png).await
}
