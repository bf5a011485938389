//! Reference data as lists and the one supplier write the API and the web interface share:
//! suppliers (filtered), a new supplier (with its audit event), jurisdictions, the listed days of
//! a working calendar, and the users.

use serde::{Deserialize, Serialize};

use crate::db::schema::{calendar_days, jurisdictions, labs, suppliers, users};
use crate::db::Tx;
use crate::error::AppError;
use crate::service::audit::{self, NewEvent};
use crate::service::auth::CurrentUser;
use crate::service::reference::{self, Jurisdiction, Supplier};
use crate::with_tx;

/// Suppliers ordered by code, optionally of one town and one kind.
///
/// # Errors
/// [`AppError::Invalid`] for an unknown kind; database errors.
pub fn list_suppliers(
    tx: &mut Tx<'_>,
    town: Option<&str>,
    kind: Option<&str>,
) -> Result<Vec<Supplier>, AppError> {
    if let Some(k) = kind {
        reference::check_supplier_kind(k)?;
    }
    Ok(with_tx!(tx, |c| {
        let mut q = suppliers::table.into_boxed();
        if let Some(t) = town {
            q = q.filter(suppliers::town.eq(t.to_string()));
        }
        if let Some(k) = kind {
            q = q.filter(suppliers::kind.eq(k.to_string()));
        }
        q.order(suppliers::code).load(c)
    })?)
}

/// The fields of a new supplier.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NewSupplier {
    /// Unique code.
    pub code: String,
    /// Name.
    pub name: String,
    /// production_enterprise or sale_point.
    pub kind: String,
    /// Town.
    pub town: String,
    /// Licence number.
    pub licence_no: String,
    /// Jurisdiction code.
    pub jurisdiction_code: String,
}

/// Creates a supplier and writes `supplier.create` to the audit trail.
///
/// # Errors
/// [`AppError::Invalid`] for a bad kind, code, text or unknown jurisdiction; 409
/// `already_exists` for a code (in any letter case) or licence number in use.
pub fn create_supplier(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    body: &NewSupplier,
    now_ms: i64,
) -> Result<Supplier, AppError> {
    reference::check_supplier_kind(&body.kind)?;
    reference::check_code("code", body.code.trim())?;
    reference::check_supplier_text(&body.name, &body.town, &body.licence_no)?;
    reference::jurisdiction_chain(tx, &body.jurisdiction_code)?;
    reference::check_code_free(tx, body.code.trim())?;
    reference::check_licence_free(tx, body.licence_no.trim())?;
    with_tx!(tx, |c| diesel::insert_into(suppliers::table)
        .values((
            suppliers::code.eq(body.code.trim()),
            suppliers::name.eq(body.name.trim()),
            suppliers::kind.eq(&body.kind),
            suppliers::town.eq(body.town.trim()),
            suppliers::licence_no.eq(body.licence_no.trim()),
            suppliers::jurisdiction_code.eq(&body.jurisdiction_code),
            suppliers::created_at.eq(now_ms)
        ))
        .execute(c))?;
    let s = reference::supplier_by_code(tx, body.code.trim())?;
    audit::append(
        tx,
        now_ms,
        NewEvent {
            actor: user.username.clone(),
            action: "supplier.create".into(),
            entity: "supplier".into(),
            entity_id: s.code.clone(),
            after: serde_json::to_value(&s).ok(),
            ..Default::default()
        },
    )?;
    Ok(s)
}

/// Every jurisdiction, by code.
///
/// # Errors
/// Database errors.
pub fn list_jurisdictions(tx: &mut Tx<'_>) -> Result<Vec<Jurisdiction>, AppError> {
    Ok(with_tx!(tx, |c| jurisdictions::table
        .order(jurisdictions::code)
        .load(c))?)
}

/// One listed day of a working calendar: date, kind (holiday, make-up working day …), occasion
/// and source.
#[derive(Debug, Clone, Serialize)]
pub struct ListedDay {
    /// YYYY-MM-DD.
    pub date: String,
    /// Day kind code.
    pub kind: String,
    /// The holiday or occasion.
    pub occasion: String,
    /// Where the day comes from (the State Council notice).
    pub source: String,
}

/// The listed days of calendar `code`, by date.
///
/// # Errors
/// Database errors.
pub fn calendar_days(tx: &mut Tx<'_>, code: &str) -> Result<Vec<ListedDay>, AppError> {
    let rows: Vec<(String, String, String, String)> = with_tx!(tx, |c| calendar_days::table
        .filter(calendar_days::calendar_code.eq(code))
        .order(calendar_days::day)
        .select((
            calendar_days::day,
            calendar_days::kind,
            calendar_days::occasion,
            calendar_days::source
        ))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|(date, kind, occasion, source)| ListedDay {
            date,
            kind,
            occasion,
            source,
        })
        .collect())
}

/// The calendar codes the labs use, with the lab codes.
///
/// # Errors
/// Database errors.
pub fn lab_calendars(tx: &mut Tx<'_>) -> Result<Vec<(String, String)>, AppError> {
    Ok(with_tx!(tx, |c| labs::table
        .order(labs::code)
        .select((labs::code, labs::calendar_code))
        .load(c))?)
}

/// A user as the administrator's list shows them (never a password hash or token).
#[derive(Debug, Clone, Serialize)]
pub struct UserLine {
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role code.
    pub role: String,
    /// Lab code, for lab staff.
    pub lab: Option<String>,
    /// Disabled users cannot sign in.
    pub disabled: bool,
}

/// Every user, by name.
///
/// # Errors
/// Database errors.
pub fn list_users(tx: &mut Tx<'_>) -> Result<Vec<UserLine>, AppError> {
    let rows: Vec<(String, String, String, Option<String>, bool)> = with_tx!(tx, |c| users::table
        .left_join(labs::table)
        .order(users::username)
        .select((
            users::username,
            users::display_name,
            users::role,
            labs::code.nullable(),
            users::disabled
        ))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|(username, display_name, role, lab, disabled)| UserLine {
            username,
            display_name,
            role,
            lab,
            disabled,
        })
        .collect())
}
