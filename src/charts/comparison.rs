//! Suppliers side by side on one parameter: the distribution of their results (box from the
//! first to the third quartile, median line, whiskers to the minimum and maximum, every result
//! as a dot, failures red) with the limit lines, and below it the pass rate with its Wilson
//! 95 % interval.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::charts::{
    chinese_name, operator_symbol, quantile, render, ChartError, ChartFormat, Draw, FAIL, FAMILY,
    PASS,
};
use crate::domain::stats::{to_f64, SeriesStats};
use crate::domain::terms::{ResultParameter, Verdict};
use crate::service::stats::Series;

/// Most suppliers one comparison chart shows (callers pick them: see
/// `service::stats_charts::comparison_chart_bytes`); beyond this the chart keeps its width
/// ([`COMPARISON_MAX_WIDTH`]) and the columns get narrower.
pub const MAX_SUPPLIERS: usize = 40;

/// Width of a comparison of [`MAX_SUPPLIERS`] suppliers, the widest one: 220 + 110 × 40 px.
pub const COMPARISON_MAX_WIDTH: u32 = 220 + 110 * MAX_SUPPLIERS as u32;

/// Height of a comparison chart, pixels.
pub const COMPARISON_HEIGHT: u32 = 860;

/// A comparison of suppliers on one parameter.
pub struct ComparisonChart<'a> {
    /// Chart title.
    pub title: String,
    /// The parameter compared.
    pub parameter: ResultParameter,
    /// One series per supplier (same parameter), in display order.
    pub suppliers: Vec<(&'a Series, &'a SeriesStats)>,
}

fn e<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

impl ComparisonChart<'_> {
    /// Draws the chart.
    ///
    /// # Errors
    /// [`ChartError`] when plotters or the PNG encoder fails.
    pub fn render(&self, format: ChartFormat) -> Result<Vec<u8>, ChartError> {
        let k = self.suppliers.len().min(MAX_SUPPLIERS) as u32;
        let w = (220 + 110 * k).clamp(900, COMPARISON_MAX_WIDTH);
        render(self, (w, COMPARISON_HEIGHT), format)
    }
}

impl Draw for ComparisonChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (title, body) = root.split_vertically(50);
        title.titled(&self.title, (FAMILY, 22)).map_err(e)?;
        let (top, bottom) = body.split_vertically(500);
        let k = self.suppliers.len();
        let codes: Vec<String> = self
            .suppliers
            .iter()
            .map(|(s, _)| s.supplier.code.clone())
            .collect();
        let label = move |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < codes.len() {
                codes[i as usize].clone()
            } else {
                String::new()
            }
        };
        let p = self.parameter;

        // Distribution panel.
        let all: Vec<f64> = self
            .suppliers
            .iter()
            .flat_map(|(s, _)| s.domain_points.iter().map(|q| to_f64(q.value)))
            .collect();
        let mut limits: Vec<(String, f64, Vec<String>)> = Vec::new();
        for (s, _) in &self.suppliers {
            for l in &s.limits {
                let text = format!("{} {}", operator_symbol(l.operator), l.value);
                if let Some(x) = limits.iter_mut().find(|x| x.0 == text) {
                    for id in &l.limit_set_ids {
                        if !x.2.contains(id) {
                            x.2.push(id.clone());
                        }
                    }
                } else {
                    limits.push((text, to_f64(l.value), l.limit_set_ids.clone()));
                }
            }
        }
        let (mut lo, mut hi) = all
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        if all.is_empty() {
            (lo, hi) = (0.0, 1.0);
        }
        let span = (hi - lo).max(0.05 * hi.abs()).max(0.01);
        let on: Vec<bool> = limits
            .iter()
            .map(|l| l.1 >= lo - span && l.1 <= hi + span)
            .collect();
        for (l, on) in limits.iter().zip(&on) {
            if *on {
                lo = lo.min(l.1);
                hi = hi.max(l.1);
            }
        }
        let pad = (hi - lo).max(0.01) * 0.08;
        let x_range = -0.6..(k as f64 - 0.4);
        let mut chart = ChartBuilder::on(&top)
            .caption(
                format!(
                    "{} {} ({}) by supplier 各供应商分布",
                    p.symbol(),
                    chinese_name(p),
                    p.unit()
                ),
                (FAMILY, 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x_range, (lo - pad)..(hi + 4.0 * pad))
            .map_err(e)?;
        let decimals = p.report_decimals() as usize;
        chart
            .configure_mesh()
            .x_desc("supplier 供应商")
            .y_desc(format!("{} / {}", p.symbol(), p.unit()))
            .x_labels(k.max(1))
            .x_label_formatter(&label)
            .y_label_formatter(&|v| format!("{v:.decimals$}"))
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 14))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(e)?;
        for ((text, v, sets), on) in limits.iter().zip(&on) {
            if !on {
                chart
                    .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                    .map_err(e)?
                    .label(format!(
                        "limit 限值 {text} ({}) — off scale",
                        sets.join(", ")
                    ))
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], FAIL.mix(0.4)));
                continue;
            }
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(-0.6, *v), (k as f64 - 0.4, *v)],
                    8,
                    5,
                    FAIL.stroke_width(2),
                ))
                .map_err(e)?
                .label(format!("limit 限值 {text} ({})", sets.join(", ")))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], FAIL.stroke_width(2)));
        }
        let mut boxes_labelled = false;
        for (i, (s, _)) in self.suppliers.iter().enumerate() {
            let mut v: Vec<f64> = s.domain_points.iter().map(|q| to_f64(q.value)).collect();
            if v.is_empty() {
                continue;
            }
            v.sort_by(f64::total_cmp);
            let x = i as f64;
            let (q1, q2, q3) = (quantile(&v, 0.25), quantile(&v, 0.5), quantile(&v, 0.75));
            let (mn, mx) = (v[0], v[v.len() - 1]);
            let style = BLACK.mix(0.7).stroke_width(1);
            let drawn = chart
                .draw_series(vec![Rectangle::new(
                    [(x - 0.25, q1), (x + 0.25, q3)],
                    RGBColor(200, 220, 240).filled(),
                )])
                .map_err(e)?;
            if !boxes_labelled {
                drawn
                    .label("box 箱线: Q1–Q3, median 中位数, whiskers min–max")
                    .legend(|(x, y)| {
                        Rectangle::new(
                            [(x, y - 5), (x + 18, y + 5)],
                            RGBColor(200, 220, 240).filled(),
                        )
                    });
                boxes_labelled = true;
            }
            chart
                .draw_series(vec![
                    PathElement::new(
                        vec![
                            (x - 0.25, q1),
                            (x + 0.25, q1),
                            (x + 0.25, q3),
                            (x - 0.25, q3),
                            (x - 0.25, q1),
                        ],
                        style,
                    ),
                    PathElement::new(vec![(x - 0.25, q2), (x + 0.25, q2)], BLACK.stroke_width(2)),
                    PathElement::new(vec![(x, q3), (x, mx)], style),
                    PathElement::new(vec![(x, q1), (x, mn)], style),
                    PathElement::new(vec![(x - 0.1, mx), (x + 0.1, mx)], style),
                    PathElement::new(vec![(x - 0.1, mn), (x + 0.1, mn)], style),
                ])
                .map_err(e)?;
            // Dots spread sideways by a fixed golden-ratio sequence (deterministic jitter).
            let dots = s.domain_points.iter().enumerate().map(|(j, q)| {
                let jitter = ((j as f64 * 0.618_033_988_75).fract() - 0.5) * 0.36;
                let colour = if q.verdict == Some(Verdict::Fail) {
                    FAIL
                } else {
                    PASS
                };
                Circle::new((x + jitter, to_f64(q.value)), 3, colour.mix(0.75).filled())
            });
            chart.draw_series(dots).map_err(e)?;
        }
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(e)?
            .label("pass 合格")
            .legend(|(x, y)| Circle::new((x + 9, y), 4, PASS.filled()));
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(e)?
            .label("fail 不合格")
            .legend(|(x, y)| Circle::new((x + 9, y), 4, FAIL.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FAMILY, 12))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.5))
            .draw()
            .map_err(e)?;

        // Pass-rate panel.
        let x_range = -0.6..(k as f64 - 0.4);
        let mut chart = ChartBuilder::on(&bottom)
            .caption(
                format!(
                    "pass rate on {} 合格率 (Wilson 95 % interval 置信区间)",
                    p.symbol()
                ),
                (FAMILY, 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x_range, 0.0..105.0)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("supplier 供应商")
            .y_desc("pass rate 合格率 / %")
            .x_labels(k.max(1))
            .x_label_formatter(&label)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 14))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(e)?;
        for (i, (_, st)) in self.suppliers.iter().enumerate() {
            let x = i as f64;
            let Some(pr) = st.pass_rate.ok() else {
                chart
                    .draw_series(std::iter::once(Text::new(
                        "n/a",
                        (x - 0.1, 50.0),
                        (FAMILY, 13).into_font(),
                    )))
                    .map_err(e)?;
                continue;
            };
            let (r, l, h) = (
                pr.rate * 100.0,
                pr.wilson_low * 100.0,
                pr.wilson_high * 100.0,
            );
            chart
                .draw_series(vec![
                    PathElement::new(vec![(x, l), (x, h)], BLACK.stroke_width(2)),
                    PathElement::new(vec![(x - 0.1, l), (x + 0.1, l)], BLACK.stroke_width(2)),
                    PathElement::new(vec![(x - 0.1, h), (x + 0.1, h)], BLACK.stroke_width(2)),
                ])
                .map_err(e)?;
            chart
                .draw_series(vec![
                    Circle::new((x, r), 6, PASS.filled()).into_dyn(),
                    Text::new(
                        format!("{:.0} % ({}/{})", r, pr.passed, pr.n),
                        (x + 0.08, r),
                        (FAMILY, 12).into_font(),
                    )
                    .into_dyn(),
                ])
                .map_err(e)?;
        }
        Ok(())
    }
}

/// Draws a comparison of suppliers on one parameter.
///
/// # Errors
/// [`ChartError`] when drawing or encoding fails.
pub fn comparison_chart(
    title: &str,
    parameter: ResultParameter,
    suppliers: &[(&Series, &SeriesStats)],
    format: ChartFormat,
) -> Result<Vec<u8>, ChartError> {
    ComparisonChart {
        title: title.to_string(),
        parameter,
        suppliers: suppliers.to_vec(),
    }
    .render(format)
}
