//! The printable HTML page of a test report (检验报告), self-contained (no scripts, fonts or
//! styles from elsewhere: labs may be offline). Every value is HTML-escaped.

use crate::service::reports_doc::ReportDoc;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The stage's title: 初检 initial test or 复检 retest.
pub fn stage_title(stage: &str) -> &'static str {
    if stage == "retest" {
        "复检 retest"
    } else {
        "初检 initial test"
    }
}

/// The verdict's words: 合格 pass or 不合格 fail.
pub fn verdict_words(verdict: &str) -> &'static str {
    if verdict == "pass" {
        "合格 pass"
    } else {
        "不合格 fail"
    }
}

/// The whole page; it names the public check `/verify/{report_no}?code=…`.
pub fn render_html(d: &ReportDoc) -> String {
    let e = |t: &str| escape(t);
    let mut h = String::new();
    h.push_str("<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">");
    h.push_str(&format!("<title>检验报告 {}</title>", e(&d.report_no)));
    h.push_str(
        "<style>body{font-family:sans-serif;max-width:800px;margin:2em auto}\
         table{border-collapse:collapse;width:100%;margin:1em 0}td,th{border:1px solid #444;\
         padding:4px 6px;text-align:left}.v{font-size:1.3em;font-weight:bold}</style></head><body>",
    );
    h.push_str(&format!(
        "<h1>检验报告 Test report</h1><p>{} · {} · 报告编号 Report no. <b>{}</b></p>",
        e(&d.lab),
        stage_title(&d.stage),
        e(&d.report_no)
    ));
    h.push_str("<table>");
    for (k, v) in [
        ("样品编号 Sample code", d.sample_code.as_str()),
        ("受检单位 Supplier", d.supplier.as_str()),
        ("单位代码 Supplier code", d.supplier_code.as_str()),
        ("许可证号 Licence no.", d.licence_no.as_str()),
        ("乡镇 Town", d.town.as_str()),
        ("煤种 Coal category", d.coal_category.as_str()),
        ("抽样时间 Sampled", d.sampled_at.as_str()),
        ("封条 Seals (test / retained)", d.seals.as_str()),
        ("开始 Started", d.started_at.as_str()),
        ("签发 Released", d.released_at.as_str()),
    ] {
        h.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>", k, e(v)));
    }
    h.push_str("</table><h2>检验结果 Results</h2><table><tr><th>项目 Parameter</th><th>基 Basis</th>\
                <th>结果 Value</th><th>单位 Unit</th><th>小数位 Decimals</th><th>方法 Method</th></tr>");
    for r in &d.results {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(&r.parameter),
            e(&r.basis),
            e(&r.value),
            e(&r.unit),
            r.decimals,
            e(&r.methods)
        ));
    }
    h.push_str("</table><h2>判定 Limits</h2><table><tr><th>限值 Limit set</th><th>依据 Source</th>\
                <th>项目</th><th>要求 Requirement</th><th>比较方法 Method</th><th>比较值 Compared</th>\
                <th>判定 Verdict</th></tr>");
    for l in &d.limits {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(&l.limit_set),
            e(&l.source),
            e(&l.parameter),
            e(&l.requirement),
            e(&l.method),
            e(&l.compared_value),
            verdict_words(&l.verdict)
        ));
    }
    h.push_str(&format!(
        "</table><p class=\"v\">结论 Verdict: {}</p><p>检验 Tested by: {} · 审核签发 Reviewed and released by: {}</p>\
         <p>验证码 Verification code: <b>{}</b> — check at /verify/{}?code=…</p>{}</body></html>",
        verdict_words(&d.verdict),
        e(&d.technicians.join(", ")),
        e(&d.reviewer),
        e(&d.verification_code),
        e(&d.report_no),
        d.replaced_by.as_ref().map_or(String::new(), |r| format!(
            "<p class=\"v\">本报告已被更正报告 {} 替代 This report was amended and replaced by {}</p>",
            e(r),
            e(r)
        ))
    ));
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<b>\"A&B'</b>"),
            "&lt;b&gt;&quot;A&amp;B&#39;&lt;/b&gt;"
        );
    }
}
