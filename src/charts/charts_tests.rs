//! Chart tests: they read the SVG for the title, axis labels, limit lines, points and legend,
//! and decode the PNG header. Series A is the one of src/domain/stats_tests.rs.

use super::comparison::comparison_chart;
use super::supplier::supplier_chart;
use super::*;
use crate::domain::stats::{LimitLine, Point};
use crate::domain::terms::Verdict;
use crate::service::stats::{Series, SupplierRef};
use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;

const A_T: [i64; 12] = [0, 9, 21, 30, 44, 52, 61, 75, 83, 97, 104, 118];
const A_X: [&str; 12] = [
    "14.82", "15.10", "14.95", "15.40", "15.22", "15.61", "15.35", "15.90", "15.72", "16.05",
    "15.88", "16.21",
];

fn line(op: Operator, v: &str, sets: &[&str]) -> LimitLine {
    LimitLine {
        operator: op,
        value: Decimal::from_str_exact(v).unwrap(),
        limit_set_ids: sets.iter().map(|s| s.to_string()).collect(),
    }
}

/// Series A of Ad for "SP-04 北辰煤炭销售点": Ad < 16.00 fails 16.05 and 16.21; the last point
/// is a retest.
pub(crate) fn series_a(code: &str, shift: &str) -> Series {
    let start = Utc.with_ymd_and_hms(2025, 11, 1, 2, 0, 0).unwrap();
    let shift = Decimal::from_str_exact(shift).unwrap();
    let limits = vec![
        line(
            Operator::Lt,
            "16.00",
            &["cn-jjj-loose-coal", "cn-he-handan-2013"],
        ),
        line(Operator::Le, "40.00", &["cn-ndrc16-art6"]),
    ];
    let domain_points: Vec<Point> = A_T
        .iter()
        .zip(A_X)
        .enumerate()
        .map(|(i, (t, x))| {
            let value = Decimal::from_str_exact(x).unwrap() + shift;
            Point {
                at: start + chrono::Duration::days(*t),
                value,
                verdict: Some(if value < Decimal::from(16) {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                }),
                retest: i == 11,
            }
        })
        .collect();
    Series {
        supplier: SupplierRef {
            code: code.into(),
            name: "北辰煤炭销售点".into(),
        },
        parameter: ResultParameter::Ad,
        symbol: "Ad",
        unit: "%",
        points: Vec::new(),
        next_limits: limits.clone(),
        limits,
        domain_points,
    }
}

/// (attributes, text) of every `<text>` element, entities as written.
fn texts(svg: &str) -> Vec<(String, String)> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let (attrs, rest) = t.split_once('>')?;
            let (body, _) = rest.split_once("</text>")?;
            Some((attrs.to_string(), body.trim().to_string()))
        })
        .collect()
}

/// The value of attribute `name` in an element's attribute text.
fn attr(attrs: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = attrs.find(&key)? + key.len();
    Some(attrs[start..].split('"').next()?.to_string())
}

/// Every element `<tag …>` of the SVG, as its attribute text.
fn elements<'a>(svg: &'a str, tag: &str) -> Vec<&'a str> {
    svg.split(&format!("<{tag} "))
        .skip(1)
        .filter_map(|t| t.split('>').next())
        .collect()
}

/// The y pixel of the y-axis tick label `label` (right-aligned text).
fn tick_y(svg: &str, label: &str) -> i32 {
    texts(svg)
        .iter()
        .find(|(a, t)| t == label && a.contains("text-anchor=\"end\""))
        .and_then(|(a, _)| attr(a, "y"))
        .unwrap_or_else(|| panic!("no y tick {label}"))
        .parse()
        .unwrap()
}

fn chart_a() -> (Series, String) {
    let s = series_a("SP-04", "0");
    let st = s.stats();
    let svg = supplier_chart(
        "SP-04 北辰煤炭销售点 质量趋势",
        &[(&s, &st)],
        ChartFormat::Svg,
    )
    .unwrap();
    (s, String::from_utf8(svg).unwrap())
}

#[test]
fn supplier_svg_has_title_axis_labels_and_legend() {
    let (_, svg) = chart_a();
    let all: Vec<String> = texts(&svg).into_iter().map(|(_, t)| t).collect();
    for expected in [
        "SP-04 北辰煤炭销售点 质量趋势",
        "Ad 干燥基灰分 (%, d basis) — n = 12",
        "Ad / %",
        "sampling date 采样日期",
        "limit 限值 &lt; 16.00 (cn-jjj-loose-coal, cn-he-handan-2013)",
        "limit 限值 ≤ 40.00 (cn-ndrc16-art6) — off scale",
        "pass 合格 (10)",
        "fail 不合格 (2)",
        "retest 复检 (1)",
    ] {
        assert!(
            all.iter().any(|t| t == expected),
            "missing {expected:?} in {all:?}"
        );
    }
    // Dates on the time axis are the lab's calendar days (first sample 2025-11-01 10:00 +08).
    assert!(all.iter().any(|t| t == "2025-11-08"), "{all:?}");
    // Centre line = mean 15.5175 → "15.518" (3 decimals); trend slope from scipy 0.32900 → "+0.3290".
    assert!(
        all.iter().any(|t| t == "centre 中心线 (mean 均值) 15.518"),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|t| t.starts_with("trend 趋势 +0.3290 %/30 d")),
        "{all:?}"
    );
}

#[test]
fn supplier_svg_draws_the_limit_line_at_16_00() {
    let (_, svg) = chart_a();
    let y16 = tick_y(&svg, "16.00");
    // The dashed red limit line: many short red segments, all at the pixel row of the 16.00 tick.
    let red_at_16 = elements(&svg, "polyline")
        .into_iter()
        .filter(|a| a.contains("stroke=\"#D62728\""))
        .filter(|a| {
            let pts = attr(a, "points").unwrap_or_default();
            let ys: Vec<i32> = pts
                .split_whitespace()
                .filter_map(|p| p.split(',').nth(1)?.parse().ok())
                .collect();
            ys.len() == 2 && ys.iter().all(|y| *y == y16)
        })
        .count();
    assert!(red_at_16 >= 20, "only {red_at_16} red dashes at y = {y16}");
    // The line's value is written beside it.
    assert!(texts(&svg).iter().any(|(_, t)| t == "&lt; 16.00"));
}

#[test]
fn supplier_svg_places_every_point() {
    let (s, svg) = chart_a();
    let circles = elements(&svg, "circle");
    let blue: Vec<&&str> = circles
        .iter()
        .filter(|a| a.contains("fill=\"#1F77B4\""))
        .collect();
    // 10 passing points + 1 legend marker.
    assert_eq!(blue.len(), 11);
    // Two failures as red triangles (+ 1 legend marker); one retest ring r = 9 (+ legend r = 7).
    let red_polygons = elements(&svg, "polygon")
        .into_iter()
        .filter(|a| a.contains("fill=\"#D62728\""))
        .count();
    assert_eq!(red_polygons, 3);
    let rings = circles.iter().filter(|a| a.contains("r=\"9\"")).count();
    assert_eq!(rings, 1);
    // The lowest point, 14.82, sits where the axis puts 14.82: interpolate between the 15.00
    // and 15.50 ticks (pixels per % = (y15 − y15.5)/0.5).
    let (y15, y155) = (tick_y(&svg, "15.00") as f64, tick_y(&svg, "15.50") as f64);
    let expected = y15 + (15.00 - 14.82) / 0.5 * (y15 - y155);
    let lowest = blue
        .iter()
        .filter_map(|a| attr(a, "cy")?.parse::<f64>().ok())
        .fold(f64::NEG_INFINITY, f64::max);
    assert!(
        (lowest - expected).abs() <= 1.5,
        "cy {lowest} vs {expected}"
    );
    assert_eq!(s.domain_points.len(), 12);
}

#[test]
fn supplier_png_renders_with_the_embedded_font() {
    let s = series_a("SP-04", "0");
    let st = s.stats();
    let png_bytes = supplier_chart(
        "SP-04 北辰煤炭销售点",
        &[(&s, &st), (&s, &st)],
        ChartFormat::Png,
    )
    .unwrap();
    assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
    let decoder = png::Decoder::new(std::io::Cursor::new(&png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let info = reader.info();
    // 1100 wide; 50 title + 2 panels × 460.
    assert_eq!((info.width, info.height), (1100, 970));
    let mut buf = vec![0; reader.output_buffer_size()];
    reader.next_frame(&mut buf).unwrap();
    // Text was drawn: the title band (top 50 rows) is not all white.
    let title_band = &buf[..1100 * 3 * 50];
    assert!(title_band.iter().any(|b| *b < 128));
}

#[test]
fn empty_series_says_insufficient_data() {
    let mut s = series_a("SP-09", "0");
    s.domain_points.clear();
    let st = s.stats();
    let svg = supplier_chart("SP-09", &[(&s, &st)], ChartFormat::Svg).unwrap();
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.contains("insufficient data"), "{svg}");
}

#[test]
fn comparison_svg_has_suppliers_boxes_and_pass_rates() {
    let a = series_a("SP-04", "0");
    let b = series_a("SP-02", "-1.30");
    let (sa, sb) = (a.stats(), b.stats());
    let svg = comparison_chart(
        "Ad 各供应商比较",
        ResultParameter::Ad,
        &[(&a, &sa), (&b, &sb)],
        ChartFormat::Svg,
    )
    .unwrap();
    let svg = String::from_utf8(svg).unwrap();
    let all: Vec<String> = texts(&svg).into_iter().map(|(_, t)| t).collect();
    for expected in [
        "Ad 各供应商比较",
        "SP-04",
        "SP-02",
        "supplier 供应商",
        "pass rate 合格率 / %",
        // SP-04 passes 10 of 12 (16.05 and 16.21 fail); SP-02 is 1.30 lower: all 12 pass.
        "83 % (10/12)",
        "100 % (12/12)",
        "limit 限值 &lt; 16.00 (cn-jjj-loose-coal, cn-he-handan-2013)",
    ] {
        assert!(
            all.iter().any(|t| t == expected),
            "missing {expected:?} in {all:?}"
        );
    }
    // Every result is a dot: 24 dots (+ 2 legend markers), 2 of them red.
    let circles = elements(&svg, "circle");
    assert_eq!(circles.iter().filter(|a| a.contains("r=\"3\"")).count(), 24);
    let png_bytes = comparison_chart(
        "Ad",
        ResultParameter::Ad,
        &[(&a, &sa), (&b, &sb)],
        ChartFormat::Png,
    )
    .unwrap();
    assert_eq!(&png_bytes[1..4], b"PNG");
}

#[test]
fn format_from_file_name() {
    assert_eq!(ChartFormat::from_path("a/b.SVG"), Some(ChartFormat::Svg));
    assert_eq!(ChartFormat::from_path("x.png"), Some(ChartFormat::Png));
    assert_eq!(ChartFormat::from_path("x.pdf"), None);
    // numpy.quantile([1, 2, 3, 4], 0.25) = 1.75 (linear interpolation).
    assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.25), 1.75);
}

/// PNG width and height from the IHDR chunk.
fn png_dims(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

#[test]
fn comparison_of_many_suppliers_has_a_bounded_size() {
    // 3 023 suppliers once gave a 334 070 × 860 px PNG (1 GB of memory for one request).
    let series: Vec<Series> = (0..3023)
        .map(|i| {
            let mut s = series_a(&format!("S{i:04}"), "0");
            s.domain_points.truncate(1);
            s
        })
        .collect();
    let stats: Vec<_> = series.iter().map(Series::stats).collect();
    let entries: Vec<_> = series.iter().zip(&stats).collect();
    let png_bytes =
        comparison_chart("Ad", ResultParameter::Ad, &entries, ChartFormat::Png).unwrap();
    let (w, h) = png_dims(&png_bytes);
    assert!(w <= comparison::COMPARISON_MAX_WIDTH, "{w}");
    const { assert!(comparison::COMPARISON_MAX_WIDTH <= MAX_WIDTH) };
    assert!(h <= MAX_HEIGHT, "{h}");
    // 40 suppliers, the most a caller passes: 220 + 110 × 40 px.
    let png_bytes = comparison_chart(
        "Ad",
        ResultParameter::Ad,
        &entries[..comparison::MAX_SUPPLIERS],
        ChartFormat::Png,
    )
    .unwrap();
    assert_eq!(png_dims(&png_bytes), (4620, 860));
}

#[test]
fn supplier_chart_size_does_not_grow_with_points_or_panels() {
    // 10 000 results: the same 1100 × 510 px as 12.
    let mut s = series_a("SP-04", "0");
    let p = s.domain_points.clone();
    s.domain_points = (0..10_000)
        .map(|i| {
            let mut q = p[i % p.len()].clone();
            q.at += chrono::Duration::hours(i as i64);
            q
        })
        .collect();
    let st = s.stats();
    let png_bytes = supplier_chart("SP-04", &[(&s, &st)], ChartFormat::Png).unwrap();
    assert_eq!(png_dims(&png_bytes), (1100, 510));
    let svg = supplier_chart("SP-04", &[(&s, &st)], ChartFormat::Svg).unwrap();
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.contains("width=\"1100\"") && svg.contains("height=\"510\""));
    // Many panels: the height is capped too.
    let panels: Vec<_> = (0..12).map(|_| (&s, &st)).collect();
    let png_bytes = supplier_chart("SP-04", &panels, ChartFormat::Png).unwrap();
    let (w, h) = png_dims(&png_bytes);
    assert!(w <= MAX_WIDTH && h <= MAX_HEIGHT, "{w} × {h}");
}
