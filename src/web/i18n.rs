//! The message catalogue of the web interface: every label in Chinese (zh-CN, the default) and
//! English, including the domain vocabulary of src/domain/terms.rs and src/domain/lifecycle.rs
//! (states, actions, stages, verdicts, analyses, result parameters, roles, supplier kinds).
//!
//! Keys are `area.name`; domain codes are looked up as `state.<code>`, `action.<code>`,
//! `stage.<code>`, `verdict.<code>`, `analysis.<code>`, `param.<code>`, `role.<code>`,
//! `kind.<code>`, `outcome.<code>` and `err.<code>` (AppError codes). Tests check that every key
//! has both languages, that every domain code has a key, and that every `t("…")` of the
//! templates names a key.

use std::collections::HashMap;
use std::sync::OnceLock;

/// A language of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese, the default.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The `lang` cookie value and the HTML `lang` attribute: `zh-CN` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// Reads a cookie or query value: `en` (or `en-…`) is English, anything else Chinese.
    pub fn parse(v: &str) -> Lang {
        if v.trim().to_ascii_lowercase().starts_with("en") {
            Lang::En
        } else {
            Lang::Zh
        }
    }
}

/// (key, zh-CN, en).
pub const CATALOGUE: &[(&str, &str, &str)] = &[
    // Chrome
    (
        "app.name",
        "煤质监管实验室系统",
        "Coal quality supervision LIMS",
    ),
    ("app.skip", "跳到正文", "Skip to content"),
    ("app.lang_switch", "English", "中文"),
    ("app.signed_in_as", "当前用户", "Signed in as"),
    ("app.logout", "退出登录", "Sign out"),
    ("app.home", "首页", "Home"),
    ("app.back", "返回", "Back"),
    ("app.none", "无", "none"),
    ("app.yes", "是", "yes"),
    ("app.no", "否", "no"),
    ("app.filter", "筛选", "Filter"),
    ("app.from", "起始日期", "From date"),
    ("app.to", "截止日期", "To date"),
    ("app.nav", "主导航", "Main navigation"),
    ("app.main_error", "操作未完成", "Not done"),
    ("app.done", "已完成", "Done"),
    // Login
    ("login.title", "登录", "Sign in"),
    ("login.username", "用户名", "Username"),
    ("login.password", "密码", "Password"),
    ("login.submit", "登录", "Sign in"),
    (
        "login.refused",
        "用户名或密码错误",
        "Wrong username or password",
    ),
    (
        "login.throttled",
        "失败次数过多，请稍后再试",
        "Too many failed sign-ins; try again later",
    ),
    ("login.signed_out", "已退出登录", "Signed out"),
    // Home
    ("home.title", "工作台", "Start page"),
    (
        "home.intro",
        "请选择您的工作页面：",
        "Choose where to work:",
    ),
    // Errors
    ("error.title", "出错了", "Something went wrong"),
    ("error.forbidden_title", "无权访问", "Not allowed"),
    (
        "error.forbidden",
        "您的角色无权查看此页面。",
        "Your role may not see this page.",
    ),
    ("error.not_found", "页面不存在", "No such page"),
    ("error.detail", "详细信息", "Details"),
    (
        "err.not_found",
        "未找到（或对您不可见）",
        "Not found (or not visible to you)",
    ),
    ("err.invalid_value", "输入值无效", "Invalid value"),
    (
        "err.missing_value",
        "缺少必填项",
        "A required value is missing",
    ),
    (
        "err.version_conflict",
        "样品已被他人修改，请刷新后重试",
        "The sample was changed by someone else: reload and try again",
    ),
    (
        "err.illegal_transition",
        "当前状态下不允许此操作",
        "This action is not allowed in the current state",
    ),
    (
        "err.same_technician",
        "复检须由初检以外的检验员进行",
        "The retest must be done by a technician other than the one of the initial test",
    ),
    (
        "err.four_eyes",
        "四眼原则：审核人不得发布自己录入的结果",
        "Four eyes: a reviewer may not release results they entered",
    ),
    (
        "err.precision_not_met",
        "尚有分析项目未得到接受的平均值",
        "Some analyses have no accepted mean yet",
    ),
    (
        "err.analysis_already_accepted",
        "该项目已有接受的平均值",
        "This analysis already has an accepted mean",
    ),
    (
        "err.not_in_testing",
        "样品不在检验状态",
        "The sample is not in testing",
    ),
    (
        "err.result_receipt_missing",
        "请先登记企业收到结果的时间",
        "Record first when the enterprise received the result",
    ),
    (
        "err.seal_mismatch",
        "存查样封条编号不符",
        "The retained sample's seal number does not match",
    ),
    (
        "err.seal_in_use",
        "封条编号已被使用",
        "The seal number is already in use",
    ),
    (
        "err.appeal_window_open",
        "申诉期尚未结束",
        "The appeal window is still open",
    ),
    (
        "err.appeal_window_closed",
        "申诉期已过",
        "The appeal window has closed",
    ),
    (
        "err.retest_not_applicable",
        "该样品不需要复检",
        "No retest applies to this sample",
    ),
    (
        "err.unknown_supplier",
        "未知的受检单位代码",
        "Unknown supplier code",
    ),
    (
        "err.impossible_result",
        "结果不可能成立，请检查数值",
        "Impossible result: check the value",
    ),
    ("err.forbidden", "无权执行此操作", "Not allowed"),
    ("err.unauthorized", "请重新登录", "Please sign in again"),
    (
        "err.no_limit_sets_in_force",
        "没有适用的限值",
        "No limit set is in force",
    ),
    ("err.bad_request", "请求格式错误", "Malformed request"),
    ("err.already_exists", "已存在（代码或许可证号重复）", "Already exists (code or licence number in use)"),
    ("err.other", "操作被拒绝", "Refused"),
    // Domain: sample states
    ("state.registered", "已登记", "registered"),
    ("state.received", "已接收", "received"),
    (
        "state.initial_testing",
        "初检中",
        "initial test in progress",
    ),
    (
        "state.initial_review",
        "初检待审核",
        "initial test in review",
    ),
    (
        "state.initial_released",
        "初检已发布",
        "initial test released",
    ),
    ("state.retest_testing", "复检中", "retest in progress"),
    ("state.retest_review", "复检待审核", "retest in review"),
    ("state.retest_released", "复检已发布", "retest released"),
    ("state.closed", "已结案", "closed"),
    ("state.rejected", "已拒收", "rejected"),
    ("state.cancelled", "已撤销", "cancelled"),
    // Domain: actions
    ("action.receive", "接收样品", "Receive"),
    ("action.start", "开始检验", "Start testing"),
    ("action.submit", "提交审核", "Submit for review"),
    ("action.release", "发布结果", "Release"),
    ("action.return", "退回", "Return"),
    (
        "action.request_retest",
        "登记申诉（申请复检）",
        "Record appeal (request retest)",
    ),
    ("action.close", "结案", "Close"),
    ("action.reject", "拒收", "Reject"),
    ("action.cancel", "撤销", "Cancel"),
    // Domain: stages, verdicts
    ("stage.initial_test", "初检", "initial test"),
    ("stage.retest", "复检", "retest"),
    ("verdict.pass", "合格", "pass"),
    ("verdict.fail", "不合格", "fail"),
    ("verdict.none", "未判定", "no verdict yet"),
    // Domain: analyses (what is measured)
    ("analysis.mt", "全水分 Mt", "Total moisture Mt"),
    ("analysis.mad", "空气干燥基水分 Mad", "Moisture Mad"),
    ("analysis.aad", "空气干燥基灰分 Aad", "Ash Aad"),
    (
        "analysis.vad",
        "空气干燥基挥发分 Vad",
        "Volatile matter Vad",
    ),
    (
        "analysis.st_ad",
        "空气干燥基全硫 St,ad",
        "Total sulfur St,ad",
    ),
    (
        "analysis.qgr_ad",
        "空气干燥基高位发热量 Qgr,ad",
        "Gross calorific value Qgr,ad",
    ),
    ("analysis.had", "空气干燥基氢 Had", "Hydrogen Had"),
    // Domain: result parameters (what is reported and judged)
    ("param.ad", "干燥基灰分 Ad", "Ash, dry basis Ad"),
    (
        "param.std",
        "干燥基全硫 St,d",
        "Total sulfur, dry basis St,d",
    ),
    (
        "param.vdaf",
        "干燥无灰基挥发分 Vdaf",
        "Volatile matter Vdaf",
    ),
    (
        "param.qnet_ar",
        "收到基低位发热量 Qnet,ar",
        "Net calorific value Qnet,ar",
    ),
    ("param.fc_ad", "空气干燥基固定碳 FCad", "Fixed carbon FCad"),
    ("param.aad", "空气干燥基灰分 Aad", "Ash Aad"),
    ("param.st_ad", "空气干燥基全硫 St,ad", "Total sulfur St,ad"),
    ("param.mad", "空气干燥基水分 Mad", "Moisture Mad"),
    ("param.mt", "全水分 Mt", "Total moisture Mt"),
    // Domain: roles, supplier kinds, operators
    ("role.technician", "检验员", "technician"),
    ("role.reviewer", "审核员", "reviewer"),
    ("role.regulator", "监管人员", "regulator"),
    ("role.auditor", "审计员", "auditor"),
    ("role.admin", "管理员", "administrator"),
    (
        "kind.production_enterprise",
        "洁净煤生产企业",
        "production enterprise",
    ),
    ("kind.sale_point", "销售点", "sale point"),
    ("op.lt", "<", "<"),
    ("op.le", "≤", "≤"),
    ("op.gt", ">", ">"),
    ("op.ge", "≥", "≥"),
    // Precision outcomes (GB/T 483-2007)
    ("outcome.accepted", "结果接受：平均值", "Accepted: mean"),
    (
        "outcome.needs_another_determination",
        "超出重复性限 r，需再做一次测定",
        "Over the repeatability limit r: one more determination needed",
    ),
    (
        "outcome.needs_second",
        "已保存，请做第二次测定",
        "Saved: make the second determination",
    ),
    (
        "outcome.discard_and_restart",
        "四次测定均不符合要求：全部作废，重新测定",
        "No acceptable set of four: discard all and start again",
    ),
    ("outcome.range", "极差", "range"),
    ("outcome.allowed", "允许", "allowed"),
    ("outcome.r", "重复性限 r", "repeatability limit r"),
    // Sample fields
    ("sample.code", "样品编号", "Sample code"),
    ("sample.lab_code", "实验室编码", "Lab code"),
    ("sample.supplier", "受检单位", "Supplier"),
    ("sample.town", "乡镇", "Town"),
    ("sample.state", "状态", "State"),
    ("sample.stage", "阶段", "Stage"),
    ("sample.sampled_on", "采样日期", "Sampled on"),
    ("sample.due_at", "截止时间", "Due"),
    ("sample.overdue", "已超期", "overdue"),
    ("sample.due_soon", "即将到期", "due soon"),
    ("sample.final_verdict", "最终结论", "Final verdict"),
    ("sample.version", "版本", "Version"),
    ("sample.reason", "原因", "Reason"),
    (
        "sample.result_received_at",
        "企业收到结果时间",
        "Result received by the enterprise",
    ),
    (
        "sample.appeal_closes_at",
        "申诉截止",
        "Appeal window closes",
    ),
    ("sample.open", "打开", "Open"),
    ("sample.report_no", "报告编号", "Report no."),
    ("sample.released_at", "发布时间", "Released"),
    (
        "sample.retained_seal_no",
        "存查样封条编号",
        "Retained sample seal no.",
    ),
    (
        "sample.test_seal_no",
        "检验样封条编号",
        "Test portion seal no.",
    ),
    ("sample.coal_category", "煤炭品种", "Coal category"),
    ("sample.actions", "可执行操作", "Actions"),
    // Technician pages
    ("lab.worklist", "实验室工作清单", "Lab worklist"),
    (
        "lab.worklist_intro",
        "进行中的样品，按截止时间排序；红色为已超期，黄色为 24 小时内到期。",
        "Samples in progress by due time; red is overdue, yellow is due within 24 hours.",
    ),
    ("lab.register", "登记样品", "Register a sample"),
    ("lab.empty", "没有进行中的样品", "No samples in progress"),
    ("lab.supplier_code", "受检单位代码", "Supplier code"),
    ("lab.sampler1", "采样人一", "Sampler 1"),
    ("lab.sampler2", "采样人二", "Sampler 2"),
    (
        "lab.sampled_at",
        "采样时间（北京时间）",
        "Sampled at (Beijing time)",
    ),
    ("lab.registered", "样品已登记", "Sample registered"),
    ("lab.sample_title", "样品", "Sample"),
    ("lab.enter", "录入测定值", "Enter a determination"),
    ("lab.analysis", "分析项目", "Analysis"),
    ("lab.value", "测定值（%）", "Value (%)"),
    ("lab.enter_submit", "保存测定值", "Save determination"),
    ("lab.determinations", "测定值", "Determinations"),
    ("lab.run", "轮次", "Run"),
    ("lab.decision", "精密度判定", "Precision decision"),
    ("lab.no_analyses", "尚无测定值", "No determinations yet"),
    ("lab.results", "换算结果", "Converted results"),
    (
        "lab.preview",
        "结论预览（未发布）",
        "Verdict preview (not released)",
    ),
    (
        "lab.preview_missing",
        "尚不能预览结论",
        "No verdict preview yet",
    ),
    ("lab.parameter", "项目", "Parameter"),
    ("lab.value_full", "全精度值", "Full-precision value"),
    ("lab.value_reported", "报告值", "Reported value"),
    ("lab.limit", "限值", "Limit"),
    ("lab.limit_set", "限值依据", "Limit set"),
    ("lab.verdict", "结论", "Verdict"),
    ("lab.stages", "检验阶段", "Stages"),
    ("lab.action_done", "操作已完成", "Action done"),
    (
        "lab.required_analyses",
        "需测项目：Mad、Aad、St,ad",
        "Needed: Mad, Aad, St,ad",
    ),
    // Reviewer
    ("review.queue", "审核队列", "Review queue"),
    ("review.empty", "没有待审核的样品", "Nothing to review"),
    ("review.return_reason", "退回原因", "Reason for returning"),
    // Regulator
    ("reg.dashboard", "监管总览", "Oversight dashboard"),
    ("reg.samples_total", "已发布样品数", "Released samples"),
    ("reg.final_pass", "最终合格", "Final pass"),
    ("reg.final_fail", "最终不合格", "Final fail"),
    ("reg.pending", "结论未定", "Not final yet"),
    ("reg.pass_rate", "合格率", "Pass rate"),
    ("reg.open_appeals", "未结申诉", "Open appeals"),
    ("reg.overdue", "超期阶段", "Overdue stages"),
    ("reg.by_supplier", "按受检单位", "By supplier"),
    ("reg.by_town", "按乡镇", "By town"),
    ("reg.non_compliant", "不合格单位", "Non-compliant suppliers"),
    ("reg.failed_samples", "不合格样品", "Failed samples"),
    (
        "reg.none_non_compliant",
        "没有不合格单位",
        "No non-compliant suppliers",
    ),
    ("reg.supplier", "受检单位", "Supplier"),
    ("reg.supplier_name", "名称", "Name"),
    ("reg.kind", "类型", "Kind"),
    ("reg.licence", "许可证号", "Licence no."),
    ("reg.last_final", "最近最终结论", "Latest final verdict"),
    ("reg.chart", "质量趋势图", "Quality chart"),
    (
        "reg.chart_alt",
        "该单位 Ad 与 St,d 的质量趋势图",
        "Quality chart of Ad and St,d for this supplier",
    ),
    ("reg.stats", "统计", "Statistics"),
    ("reg.n", "样品数", "n"),
    ("reg.mean", "平均值", "Mean"),
    ("reg.median", "中位数", "Median"),
    ("reg.min", "最小值", "Min"),
    ("reg.max", "最大值", "Max"),
    ("reg.risk", "下次不合格概率", "Risk of the next fail"),
    (
        "reg.trend",
        "趋势（每30天，Sen 斜率）",
        "Trend (per 30 days, Sen's slope)",
    ),
    ("reg.samples", "样品", "Samples"),
    ("reg.appeal", "申诉与复检", "Appeal and retest"),
    (
        "reg.record_receipt",
        "登记企业收到结果",
        "Record receipt of the result",
    ),
    (
        "reg.received_at",
        "收到时间（北京时间）",
        "Received at (Beijing time)",
    ),
    (
        "reg.retained_condition",
        "存查样封条状况",
        "Condition of the retained sample's seal",
    ),
    ("reg.appeal_reason", "申诉说明", "Appeal note"),
    (
        "reg.appeal_recorded",
        "申诉已登记，复检开始",
        "Appeal recorded: the retest has started",
    ),
    ("reg.receipt_recorded", "已登记收到时间", "Receipt recorded"),
    ("reg.find_sample", "查找样品", "Find a sample"),
    ("reg.no_samples", "没有已发布的样品", "No released samples"),
    // Auditor
    ("audit.tat", "检测周期报告", "Turnaround report"),
    ("audit.trail", "审计记录", "Audit trail"),
    ("audit.chain", "审计链校验", "Audit chain check"),
    ("audit.group_by", "分组", "Group by"),
    ("audit.group.stage", "检验阶段", "stage"),
    ("audit.group.period-week", "按周", "week"),
    ("audit.group.period-month", "按月", "month"),
    ("audit.group.supplier", "受检单位", "supplier"),
    ("audit.group.technician", "检验员", "technician"),
    ("audit.group.lab", "实验室", "lab"),
    ("audit.all_stages", "全部阶段", "all stages"),
    ("audit.csv", "下载 CSV", "Download CSV"),
    ("audit.as_of", "统计时点", "As of"),
    ("audit.group", "组", "Group"),
    ("audit.started", "开始", "Started"),
    ("audit.released", "已发布", "Released"),
    ("audit.open", "未完成", "Open"),
    ("audit.on_time", "按期", "On time"),
    ("audit.late", "超期发布", "Late"),
    ("audit.open_past_due", "未完成且超期", "Open past due"),
    ("audit.on_time_rate", "按期率", "On-time rate"),
    ("audit.mean_days", "平均工作日", "Mean working days"),
    ("audit.median_days", "中位工作日", "Median working days"),
    (
        "audit.p90_days",
        "90 百分位工作日",
        "90th percentile working days",
    ),
    ("audit.max_days", "最长工作日", "Max working days"),
    (
        "audit.overdue_list",
        "超期未完成的阶段",
        "Open stages past due",
    ),
    ("audit.seq", "序号", "Seq."),
    ("audit.at", "时间", "When"),
    ("audit.actor", "操作人", "Actor"),
    ("audit.action", "操作", "Action"),
    ("audit.entity", "对象", "Entity"),
    ("audit.sample_id", "样品 ID", "Sample id"),
    ("audit.change", "变更内容", "Change"),
    ("audit.total", "条记录", "events"),
    ("audit.prev", "上一页", "Previous page"),
    ("audit.next", "下一页", "Next page"),
    ("audit.page", "页", "Page"),
    (
        "audit.chain_ok",
        "审计链完整：每一环哈希均校验通过",
        "The audit chain holds: every link verifies",
    ),
    (
        "audit.chain_broken",
        "审计链断裂",
        "The audit chain is broken",
    ),
    ("audit.events_checked", "已校验记录数", "Events checked"),
    ("audit.first_broken", "第一处断裂", "First broken link"),
    // Admin
    ("admin.limit_sets", "限值标准", "Limit sets"),
    ("admin.suppliers", "受检单位管理", "Suppliers"),
    ("admin.users", "用户", "Users"),
    ("admin.calendars", "工作日历", "Working calendars"),
    ("admin.add_supplier", "新增受检单位", "Add a supplier"),
    ("admin.supplier_added", "受检单位已新增", "Supplier added"),
    ("admin.code", "代码", "Code"),
    ("admin.username", "用户名", "User name"),
    ("admin.display_name", "姓名", "Name"),
    ("admin.role", "角色", "Role"),
    ("admin.lab", "实验室", "Lab"),
    ("admin.disabled", "已停用", "Disabled"),
    ("admin.users_intro", "新增用户、设置密码、吊销 API 令牌、停用用户；每项更改都写入审计记录（命令行 coallab user … 同样可用）。密码至少 12 个字符，不会显示。", "Add users, set passwords, revoke API tokens, disable users; every change is written to the audit trail (the command line coallab user … does the same). Passwords need at least 12 characters and are never shown."),
    ("admin.calendar_intro", "列出的日期为法定节假日和调休上班日；其余周一至周五为工作日。导入新的年度日历：在下方粘贴 CSV，全部无误才导入，否则一行也不导入。", "Listed days are public holidays and make-up working days; other Mondays to Fridays are working days. Import a new year by pasting its CSV below: all rows or none are imported."),
    ("admin.date", "日期", "Date"),
    ("day.rest_day", "休息日（节假日）", "rest day (holiday)"),
    ("day.working_day", "调休上班日", "make-up working day"),
    ("admin.day_kind", "类型", "Kind"),
    ("admin.occasion", "事由", "Occasion"),
    ("admin.source", "来源", "Source"),
    ("admin.intro", "判定所用的限值，各附来源；登记样品时冻结当时有效的限值。新增或替换：在下方提交一个限值标准的 JSON（同 POST /api/v1/limit-sets）。", "The limits verdicts use, each with its source; a sample freezes the sets in force when it is registered. Add or replace one by sending its JSON below (as POST /api/v1/limit-sets)."),
    ("admin.id", "编号", "Id"),
    ("admin.jurisdiction", "适用地区", "Jurisdiction"),
    ("admin.effective", "有效期", "In force"),
    ("admin.categories", "适用煤种", "Coal categories"),
    ("admin.all_categories", "全部煤种", "all categories"),
    ("admin.decimals", "修约位数", "Decimals"),
    ("admin.method", "比较方法", "Comparison"),
    ("admin.actions", "操作", "Actions"),
    ("admin.add_user", "新增用户", "Add a user"),
    ("admin.user_added", "用户已新增", "User added"),
    ("admin.no_lab", "无（非实验室角色）", "none (roles outside a lab)"),
    ("admin.initial_password", "初始密码（至少 12 个字符）", "Initial password (at least 12 characters)"),
    ("admin.set_password", "设置新密码", "Set a new password"),
    ("admin.new_password", "新密码（至少 12 个字符）", "New password (at least 12 characters)"),
    ("admin.password_set", "密码已设置，该用户的会话已结束", "Password set; the user's sessions ended"),
    ("admin.disable", "停用", "Disable"),
    ("admin.user_disabled", "用户已停用", "User disabled"),
    ("admin.revoke_tokens", "吊销 API 令牌", "Revoke API tokens"),
    ("admin.tokens_revoked", "API 令牌已吊销，会话已结束", "API tokens revoked; sessions ended"),
    ("admin.put_limit_set", "新增或替换限值标准", "Add or replace a limit set"),
    ("admin.limit_set_json", "限值标准（JSON，格式同 POST /api/v1/limit-sets）", "Limit set (JSON, as for POST /api/v1/limit-sets)"),
    ("admin.edit", "以此为模板编辑", "Edit as a template"),
    ("admin.save", "保存", "Save"),
    ("admin.limit_set_saved", "限值标准已保存", "Limit set saved"),
    ("admin.limit_set_unchanged", "限值标准未变（与已存的相同）", "Limit set unchanged (identical to the stored one)"),
    ("admin.import_calendar", "导入日历 CSV", "Import a calendar CSV"),
    ("admin.calendar_code", "日历", "Calendar"),
    ("admin.calendar_csv", "CSV（列：date,kind,occasion,source；kind 为 rest_day 或 working_day）", "CSV (columns date,kind,occasion,source; kind is rest_day or working_day)"),
    ("admin.import", "导入", "Import"),
    ("admin.calendar_imported", "日历已导入", "Calendar imported"),
    ("err.weak_password", "密码不符合要求（12 至 1024 个字符）", "Password refused (12 to 1024 characters)"),
    ("err.import_refused", "文件有误，未导入任何内容", "The file has errors; nothing was imported"),
    ("err.invalid_limit_set", "限值标准不符合规则", "The limit set breaks a rule"),
    ("err.rate_limited", "请求过于频繁", "Too many requests"),
    ("error.rate_limited", "请求过于频繁，请稍后再试。", "Too many requests: please wait a moment and try again."),
    ("error.method_not_allowed", "此页面不接受该请求方式。", "This page does not accept that kind of request."),
    ("error.too_large", "提交的内容过大。", "What was sent is too large."),
    ("method.full_value", "全数值比较法", "full value"),
    ("method.rounded_value", "修约值比较法", "rounded value"),
];

/// One language's texts by key.
type Texts = HashMap<&'static str, &'static str>;

fn tables() -> &'static (Texts, Texts) {
    static T: OnceLock<(Texts, Texts)> = OnceLock::new();
    T.get_or_init(|| {
        let zh = CATALOGUE.iter().map(|(k, z, _)| (*k, *z)).collect();
        let en = CATALOGUE.iter().map(|(k, _, e)| (*k, *e)).collect();
        (zh, en)
    })
}

/// The text of `key` in `lang`, if the catalogue has it.
pub fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    let (zh, en) = tables();
    match lang {
        Lang::Zh => zh.get(key).copied(),
        Lang::En => en.get(key).copied(),
    }
}

/// The text of `key` in `lang`; an unknown key comes back as itself (tests keep that from
/// happening on any page).
pub fn t(lang: Lang, key: &str) -> String {
    lookup(lang, key).map_or_else(|| key.to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lifecycle::{Action, SampleState};
    use crate::domain::terms::{
        Analysis, ComparisonMethod, Operator, ResultParameter, Role, Stage, SupplierKind, Verdict,
    };

    #[test]
    fn every_key_is_unique_and_has_both_languages() {
        let mut seen = std::collections::HashSet::new();
        for (k, zh, en) in CATALOGUE {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!zh.trim().is_empty(), "{k} has no Chinese text");
            assert!(!en.trim().is_empty(), "{k} has no English text");
            assert_eq!(lookup(Lang::Zh, k), Some(*zh));
            assert_eq!(lookup(Lang::En, k), Some(*en));
        }
    }

    #[test]
    fn every_domain_code_has_a_label() {
        let mut keys: Vec<String> = Vec::new();
        keys.extend(
            SampleState::ALL
                .iter()
                .map(|s| format!("state.{}", s.as_code())),
        );
        keys.extend(
            Action::ALL
                .iter()
                .map(|s| format!("action.{}", s.as_code())),
        );
        keys.extend(Stage::ALL.iter().map(|s| format!("stage.{}", s.as_code())));
        keys.extend(
            Verdict::ALL
                .iter()
                .map(|s| format!("verdict.{}", s.as_code())),
        );
        keys.extend(
            Analysis::ALL
                .iter()
                .map(|s| format!("analysis.{}", s.as_code())),
        );
        keys.extend(
            ResultParameter::ALL
                .iter()
                .map(|s| format!("param.{}", s.as_code())),
        );
        keys.extend(Role::ALL.iter().map(|s| format!("role.{}", s.as_code())));
        keys.extend(
            SupplierKind::ALL
                .iter()
                .map(|s| format!("kind.{}", s.as_code())),
        );
        keys.extend(Operator::ALL.iter().map(|s| format!("op.{}", s.as_code())));
        keys.extend(
            crate::domain::calendar::DayKind::ALL
                .iter()
                .map(|s| format!("day.{}", s.as_code())),
        );
        keys.extend(
            ComparisonMethod::ALL
                .iter()
                .map(|s| format!("method.{}", s.as_code())),
        );
        for k in [
            "accepted",
            "needs_another_determination",
            "discard_and_restart",
        ] {
            keys.push(format!("outcome.{k}"));
        }
        for k in keys {
            assert!(lookup(Lang::Zh, &k).is_some(), "no label for {k}");
        }
        // The field's own words, checked by hand against src/domain/terms.rs.
        assert_eq!(t(Lang::Zh, "stage.initial_test"), "初检");
        assert_eq!(t(Lang::Zh, "stage.retest"), "复检");
        assert_eq!(t(Lang::Zh, "verdict.fail"), "不合格");
        assert_eq!(t(Lang::En, "verdict.pass"), "pass");
    }

    #[test]
    fn lang_parse_defaults_to_chinese() {
        assert_eq!(Lang::parse("en"), Lang::En);
        assert_eq!(Lang::parse("en-GB"), Lang::En);
        assert_eq!(Lang::parse("zh-CN"), Lang::Zh);
        assert_eq!(Lang::parse("fr"), Lang::Zh);
        assert_eq!(t(Lang::En, "no.such.key"), "no.such.key");
    }
}
