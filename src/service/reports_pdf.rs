//! The test report as PDF (A4), with Chinese text in WenQuanYi Micro Hei (fonts/wqy-microhei.ttc,
//! Apache-2.0 or GPLv3 with font exception: embedding allowed; fonts/LICENSE-wqy-microhei.txt),
//! drawn with printpdf. The same content and wording as the HTML page
//! (src/service/reports_html.rs).

use std::sync::OnceLock;

use printpdf::{
    Mm, Op, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, TextItem,
};

use crate::error::AppError;
use crate::service::reports_doc::ReportDoc;
use crate::service::reports_html::{stage_title, verdict_words};

use crate::charts::FONT as FONT_BYTES;
static FONT: OnceLock<Option<ParsedFont>> = OnceLock::new();

/// Half-width units per line: a CJK character counts 2 (10 pt wide at 10 pt), others 1.
const LINE_UNITS: usize = 96;
/// Lines per A4 page at 5 mm leading between 280 mm and 15 mm.
const LINES_PER_PAGE: usize = 52;

fn units(c: char) -> usize {
    if c.len_utf8() >= 3 {
        2
    } else {
        1
    }
}

/// Splits a line into pieces of at most [`LINE_UNITS`] half-width units.
fn wrap(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut used = 0;
    for c in line.chars() {
        if used + units(c) > LINE_UNITS {
            out.push("    ".into());
            used = 4;
        }
        used += units(c);
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

/// The report's text lines, in order.
pub fn report_lines(d: &ReportDoc) -> Vec<String> {
    let mut l = vec![
        "检验报告 Test report".to_string(),
        format!(
            "{} · {} · 报告编号 Report no. {}",
            d.lab,
            stage_title(&d.stage),
            d.report_no
        ),
        String::new(),
        format!("样品编号 Sample code: {}", d.sample_code),
        format!(
            "受检单位 Supplier: {} ({}), 许可证号 licence {}",
            d.supplier, d.supplier_code, d.licence_no
        ),
        format!(
            "乡镇 Town: {} · 煤种 Coal category: {}",
            d.town, d.coal_category
        ),
        format!(
            "抽样时间 Sampled: {} · 封条 Seals (test / retained): {}",
            d.sampled_at, d.seals
        ),
        format!(
            "开始 Started: {} · 签发 Released: {}",
            d.started_at, d.released_at
        ),
        String::new(),
        "检验结果 Results (parameter, basis, value, unit, decimals, method)".to_string(),
    ];
    for r in &d.results {
        l.push(format!(
            "  {} ({}): {} {} [{} dp] {}",
            r.parameter, r.basis, r.value, r.unit, r.decimals, r.methods
        ));
    }
    l.push(String::new());
    l.push("判定 Limits (set, requirement, method, compared value, verdict; source)".to_string());
    for x in &d.limits {
        l.push(format!(
            "  {} {} {}: {}; {} → {}",
            x.limit_set,
            x.parameter,
            x.requirement,
            x.method,
            x.compared_value,
            verdict_words(&x.verdict)
        ));
        l.push(format!("    依据 Source: {}", x.source));
    }
    l.push(String::new());
    l.push(format!("结论 Verdict: {}", verdict_words(&d.verdict)));
    l.push(format!(
        "检验 Tested by: {} · 审核签发 Reviewed and released by: {}",
        d.technicians.join(", "),
        d.reviewer
    ));
    l.push(format!(
        "验证码 Verification code: {} (check at /verify/{}?code=…)",
        d.verification_code, d.report_no
    ));
    l
}

/// The report as PDF bytes.
///
/// # Errors
/// [`AppError::Internal`] when the embedded font cannot be parsed.
pub fn render_pdf(d: &ReportDoc) -> Result<Vec<u8>, AppError> {
    let font = FONT
        .get_or_init(|| ParsedFont::from_bytes(FONT_BYTES, 0, &mut Vec::new()))
        .as_ref()
        .ok_or_else(|| AppError::Internal("the embedded CJK font does not parse".into()))?;
    let mut doc = PdfDocument::new(&format!("检验报告 {}", d.report_no));
    let font_id = doc.add_font(font);
    let lines: Vec<String> = report_lines(d).iter().flat_map(|l| wrap(l)).collect();
    let mut pages = Vec::new();
    for chunk in lines.chunks(LINES_PER_PAGE) {
        // One text object per line: Td moves relative to the line start inside a text object,
        // and BT resets it, so each line is placed absolutely.
        let mut ops = Vec::new();
        for (i, line) in chunk.iter().enumerate() {
            ops.push(Op::StartTextSection);
            ops.push(Op::SetFont {
                font: PdfFontHandle::External(font_id.clone()),
                size: Pt(10.0),
            });
            ops.push(Op::SetTextCursor {
                pos: Point::new(Mm(15.0), Mm(280.0 - 5.0 * i as f32)),
            });
            ops.push(Op::ShowText {
                items: vec![TextItem::Text(line.clone())],
            });
            ops.push(Op::EndTextSection);
        }
        pages.push(PdfPage::new(Mm(210.0), Mm(297.0), ops));
    }
    Ok(doc
        .with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_by_display_width() {
        let w = wrap(&"检".repeat(60));
        // 48 characters of 2 units fill 96; the rest go on an indented line.
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].chars().count(), 48);
        assert_eq!(w[1], format!("    {}", "检".repeat(12)));
    }
}
