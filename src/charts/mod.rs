//! Quality charts drawn with plotters (issue 6; docs/statistics.md "Reading the charts").
//!
//! SVG by default (text is left to the viewer's fonts, so Chinese shows wherever the viewer has
//! a CJK font); PNG on request, with the text drawn from the embedded WenQuanYi Micro Hei font
//! (fonts/wqy-microhei.ttc, Apache-2.0, fonts/LICENSE-wqy-microhei.txt), so PNG charts with
//! Chinese labels render on a fresh machine with no system fonts.

pub mod comparison;
pub mod supplier;

use std::sync::Once;

use chrono::TimeZone;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::domain::terms::{Operator, ResultParameter};

/// WenQuanYi Micro Hei (Latin and CJK glyphs in one face), Apache-2.0 (fonts/LICENSE-wqy-microhei.txt).
/// The one embedded copy: charts and PDF reports both use it.
pub static FONT: &[u8] = include_bytes!("../../fonts/wqy-microhei.ttc");

/// The font family every chart uses; the embedded font is registered under this name.
pub const FAMILY: &str = "sans-serif";

/// Pass marker colour (blue).
pub const PASS: RGBColor = RGBColor(31, 119, 180);
/// Fail marker and limit-line colour (red).
pub const FAIL: RGBColor = RGBColor(214, 39, 40);
/// Control-limit colour (orange).
pub const CONTROL: RGBColor = RGBColor(255, 127, 14);
/// Centre-line colour (green).
pub const CENTRE: RGBColor = RGBColor(44, 160, 44);
/// Trend-line colour (purple).
pub const TREND: RGBColor = RGBColor(148, 103, 189);

/// Largest width of any chart, pixels: a PNG is drawn in memory (3 bytes a pixel), so its size
/// must not grow with the data (a comparison of 3 000 suppliers once asked for 334 070 px).
pub const MAX_WIDTH: u32 = 4800;
/// Largest height of any chart, pixels.
pub const MAX_HEIGHT: u32 = 2400;

/// Output format of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartFormat {
    /// Scalable vector graphics (the default).
    Svg,
    /// PNG raster, text drawn with the embedded font.
    Png,
}

impl ChartFormat {
    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            ChartFormat::Svg => "image/svg+xml",
            ChartFormat::Png => "image/png",
        }
    }

    /// The format of a file name by its extension (`.svg` or `.png`, any case).
    pub fn from_path(path: &str) -> Option<ChartFormat> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".svg") {
            Some(ChartFormat::Svg)
        } else if lower.ends_with(".png") {
            Some(ChartFormat::Png)
        } else {
            None
        }
    }
}

/// Why a chart could not be drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChartError {
    /// plotters failed (a bug, or a size too small for the layout).
    #[error("cannot draw the chart: {0}")]
    Draw(String),
    /// The PNG encoder failed.
    #[error("cannot encode the PNG: {0}")]
    Encode(String),
}

/// Registers the embedded font with plotters, once per process.
pub fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid font compiled into the binary; a failure would be a build error
        // in spirit, and text would then fail to draw with a clear ChartError.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// Something that can draw itself on any plotters backend.
pub(crate) trait Draw {
    /// Draws on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Draws `chart` at `size` pixels in `format`, the size capped at [`MAX_WIDTH`] ×
/// [`MAX_HEIGHT`] whatever the caller asks.
pub(crate) fn render(
    chart: &impl Draw,
    size: (u32, u32),
    format: ChartFormat,
) -> Result<Vec<u8>, ChartError> {
    let size = (size.0.min(MAX_WIDTH), size.1.min(MAX_HEIGHT));
    register_font();
    match format {
        ChartFormat::Svg => {
            let mut out = String::new();
            {
                let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
                root.fill(&WHITE)
                    .map_err(|e| ChartError::Draw(e.to_string()))?;
                chart.draw(&root).map_err(ChartError::Draw)?;
                root.present()
                    .map_err(|e| ChartError::Draw(e.to_string()))?;
            }
            Ok(out.into_bytes())
        }
        ChartFormat::Png => {
            let mut rgb = vec![255u8; size.0 as usize * size.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
                root.fill(&WHITE)
                    .map_err(|e| ChartError::Draw(e.to_string()))?;
                chart.draw(&root).map_err(ChartError::Draw)?;
                root.present()
                    .map_err(|e| ChartError::Draw(e.to_string()))?;
            }
            let mut out = Vec::new();
            {
                let mut enc = png::Encoder::new(&mut out, size.0, size.1);
                enc.set_color(png::ColorType::Rgb);
                enc.set_depth(png::BitDepth::Eight);
                let mut w = enc
                    .write_header()
                    .map_err(|e| ChartError::Encode(e.to_string()))?;
                w.write_image_data(&rgb)
                    .map_err(|e| ChartError::Encode(e.to_string()))?;
            }
            Ok(out)
        }
    }
}

/// The Chinese name of a parameter, for bilingual labels.
pub fn chinese_name(p: ResultParameter) -> &'static str {
    match p {
        ResultParameter::Ad => "干燥基灰分",
        ResultParameter::Std => "干燥基全硫",
        ResultParameter::Vdaf => "干燥无灰基挥发分",
        ResultParameter::QnetAr => "收到基低位发热量",
        ResultParameter::FcAd => "空气干燥基固定碳",
        ResultParameter::Aad => "空气干燥基灰分",
        ResultParameter::StAd => "空气干燥基全硫",
        ResultParameter::Mad => "空气干燥基水分",
        ResultParameter::Mt => "全水分",
    }
}

/// The printed operator of a limit.
pub fn operator_symbol(op: Operator) -> &'static str {
    match op {
        Operator::Le => "≤",
        Operator::Lt => "<",
        Operator::Ge => "≥",
        Operator::Gt => ">",
    }
}

/// A day on the time axis (days since the epoch) as a date in the lab's default time zone
/// (Asia/Shanghai, DESIGN.md "Deadlines").
pub fn date_label(days: f64) -> String {
    let ms = (days * 86_400_000.0).round() as i64;
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| {
            t.with_timezone(&chrono_tz::Asia::Shanghai)
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_default()
}

/// Quantile of sorted values with linear interpolation (numpy's default, Hyndman–Fan type 7).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
#[path = "charts_tests.rs"]
mod tests;
