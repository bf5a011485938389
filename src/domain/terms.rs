//! The shared vocabulary of the coal-lab rules: bases, analyses, reported parameters, operators,
//! comparison methods, stages and roles. Every other domain module speaks in these types.
//!
//! Terms follow ../shared/DESIGN.md (glossary) and GB/T 483-2007 (symbols and bases).
//! Every enum has a stable snake_case code used in the database, the API and CSV files
//! (`as_code` / `from_code`); unknown codes are an [`UnknownCode`] error.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A code that names no variant of the enum it was parsed for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} code '{code}' (expected one of: {expected})")]
pub struct UnknownCode {
    /// What was being parsed (e.g. "basis").
    pub kind: &'static str,
    /// The code as given.
    pub code: String,
    /// The legal codes, comma separated.
    pub expected: String,
}

macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$vmeta:meta])* $variant:ident => $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* #[serde(rename = $code)] $variant),+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable code used in the database, the API and CSV files.
            pub fn as_code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// Parses a stable code.
            ///
            /// # Errors
            /// [`UnknownCode`] when `code` names no variant (codes are case-sensitive).
            pub fn from_code(code: &str) -> Result<Self, UnknownCode> {
                match code {
                    $($code => Ok($name::$variant),)+
                    _ => Err(UnknownCode {
                        kind: $kind,
                        code: $crate::domain::decimal::echo(code),
                        expected: [$($code),+].join(", "),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_code()) }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownCode;
            fn from_str(s: &str) -> Result<Self, Self::Err> { Self::from_code(s) }
        }
    };
}
pub(crate) use coded_enum;

coded_enum!(
    /// The basis a content is expressed on (GB/T 483-2007 §7.2; STANDARDS.md §1).
    Basis, "basis" {
        /// As received (收到基), subscript `ar`.
        Ar => "ar",
        /// Air dried (空气干燥基), subscript `ad`.
        Ad => "ad",
        /// Dry (干燥基), subscript `d`.
        D => "d",
        /// Dry ash-free (干燥无灰基), subscript `daf`.
        Daf => "daf",
    }
);

coded_enum!(
    /// A measured analysis: what a technician determines, as duplicate determinations.
    ///
    /// Units: contents in % mass fraction on the basis in the name; `QgrAd` in MJ/kg.
    Analysis, "analysis" {
        /// Total moisture Mt (= Mar), % as received, GB/T 211.
        Mt => "mt",
        /// Moisture in the air-dried analysis sample Mad, %, GB/T 212-2008.
        Mad => "mad",
        /// Ash Aad, % air-dried, GB/T 212-2008.
        Aad => "aad",
        /// Volatile matter Vad, % air-dried, GB/T 212-2008.
        Vad => "vad",
        /// Total sulfur St,ad, % air-dried, GB/T 214-2007.
        StAd => "st_ad",
        /// Gross calorific value Qgr,ad, MJ/kg air-dried, GB/T 213-2008.
        QgrAd => "qgr_ad",
        /// Hydrogen Had, % air-dried (needed for Qnet,ar), GB/T 476.
        Had => "had",
    }
);

coded_enum!(
    /// A reported result: a parameter on a basis, derived from accepted analysis means
    /// (DESIGN.md "result"). Limits name one of these.
    ResultParameter, "result parameter" {
        /// Ash, dry basis Ad, %.
        Ad => "ad",
        /// Total sulfur, dry basis St,d, %.
        Std => "std",
        /// Volatile matter, dry ash-free basis Vdaf, %.
        Vdaf => "vdaf",
        /// Net calorific value as received Qnet,ar, MJ/kg.
        QnetAr => "qnet_ar",
        /// Fixed carbon, air-dried FCad, % (by difference).
        FcAd => "fc_ad",
        /// Ash, air-dried Aad, %.
        Aad => "aad",
        /// Total sulfur, air-dried St,ad, %.
        StAd => "st_ad",
        /// Moisture of the analysis sample Mad, %.
        Mad => "mad",
        /// Total moisture Mt, % as received.
        Mt => "mt",
    }
);

coded_enum!(
    /// The operator of a limit: the value must satisfy `value OP limit` to pass.
    Operator, "operator" {
        /// value ≤ limit passes.
        Le => "le",
        /// value < limit passes.
        Lt => "lt",
        /// value ≥ limit passes.
        Ge => "ge",
        /// value > limit passes.
        Gt => "gt",
    }
);

coded_enum!(
    /// How a value is compared with a limit value (GB/T 8170-2008 §4.3).
    ComparisonMethod, "comparison method" {
        /// 全数值比较法: the unrounded value is compared.
        FullValue => "full_value",
        /// 修约值比较法: the value is rounded to the limit's decimals, then compared.
        RoundedValue => "rounded_value",
    }
);

coded_enum!(
    /// The two stages of a sample's testing (DESIGN.md "stage").
    Stage, "stage" {
        /// 初检, on the test portion.
        InitialTest => "initial_test",
        /// 复检, on the retained sample, after an appeal; its verdict is final.
        Retest => "retest",
    }
);

coded_enum!(
    /// The people coallab serves (DESIGN.md "Who uses it").
    Role, "role" {
        /// Registers and receives samples, enters determinations.
        Technician => "technician",
        /// A technician who may also release results entered by someone else.
        Reviewer => "reviewer",
        /// Reads released verdicts; records retest requests (appeals).
        Regulator => "regulator",
        /// Reads everything released, TAT reports and the audit trail.
        Auditor => "auditor",
        /// Manages users, labs, suppliers, limit sets and calendars.
        Admin => "admin",
    }
);

coded_enum!(
    /// Kind of supplier (DESIGN.md "supplier").
    SupplierKind, "supplier kind" {
        /// 洁净煤生产企业.
        ProductionEnterprise => "production_enterprise",
        /// 销售点.
        SalePoint => "sale_point",
    }
);

coded_enum!(
    /// A pass/fail verdict (per limit, per stage, or final).
    Verdict, "verdict" {
        /// Every limit checked is met.
        Pass => "pass",
        /// At least one limit is not met.
        Fail => "fail",
    }
);

impl ResultParameter {
    /// The basis the result is expressed on (STANDARDS.md §1: limits for civil coal are on the
    /// dry basis, volatile matter on daf, calorific value as Qnet,ar).
    pub fn basis(self) -> Basis {
        match self {
            ResultParameter::Ad | ResultParameter::Std => Basis::D,
            ResultParameter::Vdaf => Basis::Daf,
            ResultParameter::QnetAr | ResultParameter::Mt => Basis::Ar,
            ResultParameter::FcAd
            | ResultParameter::Aad
            | ResultParameter::StAd
            | ResultParameter::Mad => Basis::Ad,
        }
    }

    /// The unit of the result: "%" (mass fraction) or "MJ/kg".
    pub fn unit(self) -> &'static str {
        match self {
            ResultParameter::QnetAr => "MJ/kg",
            _ => "%",
        }
    }

    /// Decimals of the reported value (STANDARDS.md §1: % contents 2 decimals, Mt 1 decimal,
    /// calorific value 0.01 MJ/kg).
    pub fn report_decimals(self) -> u32 {
        match self {
            ResultParameter::Mt => 1,
            _ => 2,
        }
    }

    /// The symbol as printed on a report, e.g. "St,d".
    pub fn symbol(self) -> &'static str {
        match self {
            ResultParameter::Ad => "Ad",
            ResultParameter::Std => "St,d",
            ResultParameter::Vdaf => "Vdaf",
            ResultParameter::QnetAr => "Qnet,ar",
            ResultParameter::FcAd => "FCad",
            ResultParameter::Aad => "Aad",
            ResultParameter::StAd => "St,ad",
            ResultParameter::Mad => "Mad",
            ResultParameter::Mt => "Mt",
        }
    }
}

impl Analysis {
    /// The unit of a determination: "%" (mass fraction) or "MJ/kg" for Qgr,ad.
    pub fn unit(self) -> &'static str {
        match self {
            Analysis::QgrAd => "MJ/kg",
            _ => "%",
        }
    }

    /// The method standard a determination follows (STANDARDS.md §4).
    pub fn method_standard(self) -> &'static str {
        match self {
            Analysis::Mt => "GB/T 211-2017",
            Analysis::Mad | Analysis::Aad | Analysis::Vad => "GB/T 212-2008",
            Analysis::StAd => "GB/T 214-2007",
            Analysis::QgrAd => "GB/T 213-2008",
            Analysis::Had => "GB/T 476-2008",
        }
    }

    /// The symbol as printed on a report, e.g. "St,ad".
    pub fn symbol(self) -> &'static str {
        match self {
            Analysis::Mt => "Mt",
            Analysis::Mad => "Mad",
            Analysis::Aad => "Aad",
            Analysis::Vad => "Vad",
            Analysis::StAd => "St,ad",
            Analysis::QgrAd => "Qgr,ad",
            Analysis::Had => "Had",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_for_every_variant() {
        for b in Basis::ALL {
            assert_eq!(Basis::from_code(b.as_code()).unwrap(), *b);
        }
        for a in Analysis::ALL {
            assert_eq!(Analysis::from_code(a.as_code()).unwrap(), *a);
        }
        for p in ResultParameter::ALL {
            assert_eq!(ResultParameter::from_code(p.as_code()).unwrap(), *p);
        }
    }

    #[test]
    fn unknown_code_names_the_legal_ones() {
        let e = Operator::from_code("<=").unwrap_err();
        assert_eq!(e.expected, "le, lt, ge, gt");
        assert!(e.to_string().contains("unknown operator code '<='"));
    }

    #[test]
    fn serde_uses_the_codes() {
        assert_eq!(
            serde_json::to_string(&ResultParameter::Std).unwrap(),
            "\"std\""
        );
        let s: Stage = serde_json::from_str("\"initial_test\"").unwrap();
        assert_eq!(s, Stage::InitialTest);
    }
}
