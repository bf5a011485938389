//! One supplier's results over time: one panel per parameter with the limit lines, pass and
//! fail marked, retests ringed, the X-mR centre and control limits, the trend line and the
//! points that break a control rule.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::charts::{
    chinese_name, date_label, operator_symbol, render, ChartError, ChartFormat, Draw, CENTRE,
    CONTROL, FAIL, FAMILY, PASS, TREND,
};
use crate::domain::stats::{days, to_f64, SeriesStats};
use crate::domain::terms::Verdict;
use crate::service::stats::Series;

/// Width of a supplier chart, pixels.
pub const WIDTH: u32 = 1100;
/// Height of one panel, pixels.
pub const PANEL_HEIGHT: u32 = 460;
/// Height of the title band, pixels.
pub const TITLE_HEIGHT: u32 = 50;

/// A supplier chart: a title and one panel per series (normally Ad and St,d).
pub struct SupplierChart<'a> {
    /// Chart title.
    pub title: String,
    /// The series with their statistics, one panel each.
    pub panels: Vec<(&'a Series, &'a SeriesStats)>,
}

impl SupplierChart<'_> {
    /// Draws the chart.
    ///
    /// # Errors
    /// [`ChartError`] when plotters or the PNG encoder fails.
    pub fn render(&self, format: ChartFormat) -> Result<Vec<u8>, ChartError> {
        let h = TITLE_HEIGHT + PANEL_HEIGHT * self.panels.len().max(1) as u32;
        render(self, (WIDTH, h), format)
    }
}

fn e<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

impl Draw for SupplierChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (title, body) = root.split_vertically(TITLE_HEIGHT);
        title.titled(&self.title, (FAMILY, 22)).map_err(e)?;
        if self.panels.is_empty() {
            return Ok(());
        }
        for (area, (series, stats)) in body
            .split_evenly((self.panels.len(), 1))
            .iter()
            .zip(&self.panels)
        {
            panel(area, series, stats)?;
        }
        Ok(())
    }
}

/// Axis ranges: the data, the control limits, and each limit line within two data spans
/// (a far limit such as Ad ≤ 40.00 beside data near 15 % is listed "off scale" in the legend
/// instead of squashing the data).
fn y_range(values: &[f64], stats: &SeriesStats, limits: &[f64]) -> (f64, f64, Vec<bool>) {
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    if let Some(c) = stats.control_chart.ok() {
        lo = lo.min(c.lcl);
        hi = hi.max(c.ucl);
    }
    let span = (hi - lo).max(0.05 * hi.abs()).max(0.01);
    let on: Vec<bool> = limits
        .iter()
        .map(|l| *l >= lo - 2.0 * span && *l <= hi + 2.0 * span)
        .collect();
    for (l, on) in limits.iter().zip(&on) {
        if *on {
            lo = lo.min(*l);
            hi = hi.max(*l);
        }
    }
    // Head room above the data for the legend (up to nine lines in the upper left corner).
    let pad = (hi - lo).max(0.01) * 0.08;
    (lo - pad, hi + (hi - lo).max(0.01) * 0.85, on)
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    series: &Series,
    stats: &SeriesStats,
) -> Result<(), String> {
    let p = series.parameter;
    let caption = format!(
        "{} {} ({}, {} basis) — n = {}",
        p.symbol(),
        chinese_name(p),
        p.unit(),
        p.basis(),
        stats.n
    );
    let pts: Vec<(f64, f64, Option<Verdict>, bool)> = series
        .domain_points
        .iter()
        .map(|q| (days(q.at), to_f64(q.value), q.verdict, q.retest))
        .collect();
    if pts.is_empty() {
        let a = area.titled(&caption, (FAMILY, 18)).map_err(e)?;
        a.draw(&Text::new(
            "insufficient data: no released result in the period / 数据不足：期间内无已发布结果",
            (40, 60),
            (FAMILY, 18).into_font(),
        ))
        .map_err(e)?;
        return Ok(());
    }
    let t0 = pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let t1 = pts.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let tpad = ((t1 - t0) * 0.03).max(1.0);
    let (x0, x1) = (t0 - tpad, t1 + tpad);
    let values: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let limit_values: Vec<f64> = series.limits.iter().map(|l| to_f64(l.value)).collect();
    let (y0, y1, on_scale) = y_range(&values, stats, &limit_values);
    let decimals = p.report_decimals() as usize;

    let mut chart = ChartBuilder::on(area)
        .caption(&caption, (FAMILY, 18))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(e)?;
    let y_desc = format!("{} / {}", p.symbol(), p.unit());
    chart
        .configure_mesh()
        .x_desc("sampling date 采样日期")
        .y_desc(y_desc)
        .x_labels(7)
        .y_labels(8)
        .x_label_formatter(&|d| date_label(*d))
        .y_label_formatter(&|v| format!("{v:.decimals$}"))
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 14))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(e)?;

    // Limit lines (red, dashed) with their value written at the right end.
    for (limit, on) in series.limits.iter().zip(&on_scale) {
        let sets = limit.limit_set_ids.join(", ");
        let text = format!("{} {}", operator_symbol(limit.operator), limit.value);
        if !on {
            // Off scale: a legend entry only (an empty series carries the label).
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(e)?
                .label(format!("limit 限值 {text} ({sets}) — off scale"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], FAIL.mix(0.4)));
            continue;
        }
        let v = to_f64(limit.value);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0, v), (x1, v)],
                8,
                5,
                FAIL.stroke_width(2),
            ))
            .map_err(e)?
            .label(format!("limit 限值 {text} ({sets})"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], FAIL.stroke_width(2)));
        chart
            .draw_series(std::iter::once(Text::new(
                text,
                (x1 - (x1 - x0) * 0.07, v + (y1 - y0) * 0.05),
                (FAMILY, 14).into_font().color(&FAIL),
            )))
            .map_err(e)?;
    }

    if let Some(c) = stats.control_chart.ok() {
        chart
            .draw_series(LineSeries::new(
                vec![(x0, c.centre), (x1, c.centre)],
                CENTRE.stroke_width(1),
            ))
            .map_err(e)?
            .label(format!(
                "centre 中心线 (mean 均值) {:.*}",
                decimals + 1,
                c.centre
            ))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], CENTRE));
        for (i, v) in [c.ucl, c.lcl].into_iter().enumerate() {
            let s = chart
                .draw_series(DashedLineSeries::new(
                    vec![(x0, v), (x1, v)],
                    4,
                    4,
                    CONTROL.stroke_width(1),
                ))
                .map_err(e)?;
            if i == 0 {
                s.label(format!(
                    "control limits 控制限 UCL {:.*} / LCL {:.*} (mean ± 3·avg MR/1.128)",
                    decimals + 1,
                    c.ucl,
                    decimals + 1,
                    c.lcl
                ))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], CONTROL));
            }
        }
    }

    if let Some(tr) = stats.linear_trend.ok() {
        chart
            .draw_series(LineSeries::new(
                vec![(t0, tr.at(t0)), (t1, tr.at(t1))],
                TREND.stroke_width(2),
            ))
            .map_err(e)?
            .label(format!(
                "trend 趋势 {:+.4} {}/30 d (95 % CI {:+.4} … {:+.4}; p = {:.4})",
                tr.slope_per_30_days,
                p.unit(),
                tr.ci_low,
                tr.ci_high,
                tr.p_value
            ))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], TREND.stroke_width(2)));
    }

    let pass: Vec<(f64, f64)> = pts
        .iter()
        .filter(|p| p.2 != Some(Verdict::Fail))
        .map(|p| (p.0, p.1))
        .collect();
    let fail: Vec<(f64, f64)> = pts
        .iter()
        .filter(|p| p.2 == Some(Verdict::Fail))
        .map(|p| (p.0, p.1))
        .collect();
    let retest: Vec<(f64, f64)> = pts.iter().filter(|p| p.3).map(|p| (p.0, p.1)).collect();
    if !pass.is_empty() {
        chart
            .draw_series(pass.iter().map(|c| Circle::new(*c, 4, PASS.filled())))
            .map_err(e)?
            .label(format!("pass 合格 ({})", pass.len()))
            .legend(|(x, y)| Circle::new((x + 9, y), 4, PASS.filled()));
    }
    if !fail.is_empty() {
        chart
            .draw_series(
                fail.iter()
                    .map(|c| TriangleMarker::new(*c, 7, FAIL.filled())),
            )
            .map_err(e)?
            .label(format!("fail 不合格 ({})", fail.len()))
            .legend(|(x, y)| TriangleMarker::new((x + 9, y), 7, FAIL.filled()));
    }
    if !retest.is_empty() {
        chart
            .draw_series(
                retest
                    .iter()
                    .map(|c| Circle::new(*c, 9, BLACK.stroke_width(2))),
            )
            .map_err(e)?
            .label(format!("retest 复检 ({})", retest.len()))
            .legend(|(x, y)| Circle::new((x + 9, y), 7, BLACK.stroke_width(2)));
    }
    if let Some(c) = stats.control_chart.ok() {
        let mut flagged: Vec<usize> = c.violations.iter().flat_map(|v| v.first..=v.last).collect();
        flagged.sort_unstable();
        flagged.dedup();
        if !flagged.is_empty() {
            chart
                .draw_series(
                    flagged
                        .iter()
                        .map(|i| Cross::new((pts[*i].0, pts[*i].1), 6, CONTROL.stroke_width(2))),
                )
                .map_err(e)?
                .label(format!("control rule broken 失控点 ({})", flagged.len()))
                .legend(|(x, y)| Cross::new((x + 9, y), 6, CONTROL.stroke_width(2)));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FAMILY, 12))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
        .draw()
        .map_err(e)?;
    Ok(())
}

/// Draws one supplier's chart in `format`.
///
/// # Errors
/// [`ChartError`] when drawing or encoding fails.
pub fn supplier_chart(
    title: &str,
    panels: &[(&Series, &SeriesStats)],
    format: ChartFormat,
) -> Result<Vec<u8>, ChartError> {
    SupplierChart {
        title: title.to_string(),
        panels: panels.to_vec(),
    }
    .render(format)
}
