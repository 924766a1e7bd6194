//! The control catalogue: every claim of the security statement as a
//! control, with how Rempart realises it and the test that proves it.
//!
//! The catalogue is data (`controls.toml` beside this crate's manifest),
//! compiled into the binary and parsed here, so that the control library a
//! customer reads, the checks the domains register and the trust page all
//! name the same controls. Parsing validates what a hand edit could break:
//! unknown versions, malformed or duplicate ids, controls of an undeclared
//! family, and controls realised by nothing.
//!
//! A check's result ([`CheckResult`]) is also a domain type: pass, fail, or
//! could not run, always with the evidence it looked at, so that a result
//! never claims more than what was examined.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// The catalogue shipped with this version of Rempart.
const BUILTIN: &str = include_str!("../controls.toml");

/// The catalogue format this reader understands.
const CATALOGUE_VERSION: u32 = 1;

/// A control's identifier: its family's two capital letters and a number,
/// as in `AC-1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ControlId {
    family: [u8; 2],
    number: u16,
}

impl ControlId {
    /// The family part (`"AC"` in `AC-1`).
    #[must_use]
    pub fn family(&self) -> &str {
        // Both bytes are ASCII capitals, checked at construction.
        std::str::from_utf8(&self.family).unwrap_or("??")
    }

    /// The number within the family (`1` in `AC-1`).
    #[must_use]
    pub fn number(&self) -> u16 {
        self.number
    }
}

impl fmt::Display for ControlId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.family(), self.number)
    }
}

/// Why a control id does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a control id (two capital letters, a hyphen and a number from 1, as in AC-1)"
)]
pub struct ControlIdError(String);

impl FromStr for ControlId {
    type Err = ControlIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refuse = || ControlIdError(text.chars().take(32).collect());
        let (family, number) = text.split_once('-').ok_or_else(refuse)?;
        let family: [u8; 2] = family.as_bytes().try_into().map_err(|_| refuse())?;
        if !family.iter().all(u8::is_ascii_uppercase) {
            return Err(refuse());
        }
        // Canonical decimal only: no sign, no leading zero, no white space.
        if number.is_empty()
            || number.starts_with('0')
            || !number.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(refuse());
        }
        let number = number.parse::<u16>().map_err(|_| refuse())?;
        Ok(Self { family, number })
    }
}

impl Serialize for ControlId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ControlId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How a control is made true.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Realisation {
    /// Rempart's own code makes it true, and an automated check proves it.
    Enforce,
    /// People do it; Rempart keeps the record and checks that it is current.
    Evidence,
    /// The cloud provider does it; Rempart keeps its attestation.
    Inherit,
}

/// A family of controls (`AC`: access control).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    /// Two capital letters.
    pub id: String,
    /// The family's name, in words.
    pub name: String,
}

/// One claim of the statement as a control.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// `AC-1`.
    pub id: ControlId,
    /// The claim, as the statement makes it.
    pub claim: String,
    /// Who makes it true.
    pub realised_by: Vec<Realisation>,
    /// How Rempart makes it true, where it does more than record.
    #[serde(default)]
    pub how: Option<String>,
    /// What the automated control test checks on live state.
    pub test: String,
}

impl Control {
    /// Whether Rempart's own code enforces this control (it then has a check
    /// over live state, not only a record of what people did).
    #[must_use]
    pub fn is_enforced(&self) -> bool {
        self.realised_by.contains(&Realisation::Enforce)
    }
}

/// The whole catalogue, in the order of the statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalogue {
    families: Vec<Family>,
    controls: Vec<Control>,
}

/// Why a catalogue was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    /// Not TOML, or not the catalogue's shape.
    #[error("the control catalogue does not parse: {0}")]
    Malformed(String),
    /// A version this reader does not know.
    #[error("control catalogue version {found} is not supported (this version reads {supported})")]
    UnsupportedVersion {
        /// The version the file declares.
        found: u32,
        /// The version this reader understands.
        supported: u32,
    },
    /// Two controls (or two families) share an id.
    #[error("the control catalogue lists {0} twice")]
    Duplicate(String),
    /// A control of a family the catalogue does not declare.
    #[error("control {0} belongs to no declared family")]
    UnknownFamily(ControlId),
    /// A control that nobody realises.
    #[error("control {0} names no way it is realised (enforce, evidence or inherit)")]
    Unrealised(ControlId),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    version: u32,
    family: Vec<Family>,
    control: Vec<Control>,
}

impl Catalogue {
    /// The catalogue shipped in this binary, parsed once per process.
    ///
    /// # Errors
    /// Only if the shipped file is broken, which the crate's tests rule out.
    pub fn builtin() -> Result<&'static Self, CatalogueError> {
        static PARSED: LazyLock<Result<Catalogue, CatalogueError>> =
            LazyLock::new(|| Catalogue::parse(BUILTIN));
        PARSED.as_ref().map_err(Clone::clone)
    }

    /// Parses and validates a catalogue.
    ///
    /// # Errors
    /// See [`CatalogueError`].
    pub fn parse(text: &str) -> Result<Self, CatalogueError> {
        let file: CatalogueFile =
            toml::from_str(text).map_err(|e| CatalogueError::Malformed(e.message().to_owned()))?;
        if file.version != CATALOGUE_VERSION {
            return Err(CatalogueError::UnsupportedVersion {
                found: file.version,
                supported: CATALOGUE_VERSION,
            });
        }
        let mut family_ids = BTreeSet::new();
        for family in &file.family {
            let well_formed =
                family.id.len() == 2 && family.id.bytes().all(|b| b.is_ascii_uppercase());
            if !well_formed {
                return Err(CatalogueError::Malformed(format!(
                    "family id {:?} is not two capital letters",
                    family.id
                )));
            }
            if !family_ids.insert(family.id.as_str()) {
                return Err(CatalogueError::Duplicate(family.id.clone()));
            }
        }
        let mut control_ids = BTreeSet::new();
        for control in &file.control {
            if !control_ids.insert(control.id) {
                return Err(CatalogueError::Duplicate(control.id.to_string()));
            }
            if !family_ids.contains(control.id.family()) {
                return Err(CatalogueError::UnknownFamily(control.id));
            }
            if control.realised_by.is_empty() {
                return Err(CatalogueError::Unrealised(control.id));
            }
        }
        Ok(Self {
            families: file.family,
            controls: file.control,
        })
    }

    /// The families, in the statement's order.
    #[must_use]
    pub fn families(&self) -> &[Family] {
        &self.families
    }

    /// The controls, in the statement's order.
    #[must_use]
    pub fn controls(&self) -> &[Control] {
        &self.controls
    }

    /// One control by id.
    #[must_use]
    pub fn get(&self, id: ControlId) -> Option<&Control> {
        self.controls.iter().find(|control| control.id == id)
    }
}

/// What a control check concluded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum CheckOutcome {
    /// The control holds on the state that was examined.
    Pass,
    /// The control does not hold; the findings say where.
    Fail {
        /// What does not hold, one finding per line, in words.
        findings: Vec<String>,
    },
    /// The check could not look (a sealed keyring, an unreachable sink).
    NotRun {
        /// Why, in words.
        reason: String,
    },
}

/// A check's result: which control, what it concluded, and what it looked
/// at to conclude it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The control checked.
    pub control: ControlId,
    /// Pass, fail or not run.
    #[serde(flatten)]
    pub outcome: CheckOutcome,
    /// What was examined, in words ("3 privileged accounts, each with TOTP").
    pub evidence: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalogue_parses_and_covers_every_family() {
        let catalogue = Catalogue::builtin().expect("the shipped catalogue parses");
        assert_eq!(catalogue.families().len(), 18);
        assert_eq!(catalogue.controls().len(), 68);
        for family in catalogue.families() {
            assert!(
                catalogue
                    .controls()
                    .iter()
                    .any(|c| c.id.family() == family.id),
                "family {} has no control",
                family.id
            );
        }
        let ac1 = catalogue.get("AC-1".parse().expect("id")).expect("AC-1");
        assert!(ac1.is_enforced());
        assert!(ac1.test.contains("MFA"));
        let ps1 = catalogue.get("PS-1".parse().expect("id")).expect("PS-1");
        assert_eq!(ps1.realised_by, [Realisation::Inherit]);
    }

    #[test]
    fn control_ids_are_canonical() {
        for good in ["AC-1", "ML-7", "CO-3", "XY-65535"] {
            let id: ControlId = good.parse().expect(good);
            assert_eq!(id.to_string(), good);
        }
        for bad in [
            "", "AC", "AC-", "AC-0", "AC-01", "ac-1", "A-1", "ACX-1", "AC-+1", "AC- 1", "AC-1 ",
            "AC-65536", "AÇ-1", "AC_1",
        ] {
            assert!(bad.parse::<ControlId>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_broken_catalogue_is_refused_with_the_reason() {
        let family = "[[family]]\nid = \"AC\"\nname = \"access control\"\n";
        let control = |id: &str, realised: &str| {
            format!(
                "[[control]]\nid = \"{id}\"\nclaim = \"c\"\nrealised_by = [{realised}]\ntest = \"t\"\n"
            )
        };
        let with = |body: &str| format!("version = 1\n{family}{body}");
        assert_eq!(
            Catalogue::parse(&format!(
                "version = 2\n{family}{}",
                control("AC-1", "\"enforce\"")
            )),
            Err(CatalogueError::UnsupportedVersion {
                found: 2,
                supported: 1
            })
        );
        let twice = format!(
            "{}{}",
            control("AC-1", "\"enforce\""),
            control("AC-1", "\"inherit\"")
        );
        assert_eq!(
            Catalogue::parse(&with(&twice)),
            Err(CatalogueError::Duplicate("AC-1".into()))
        );
        let one = |id: &str, enforcement: &str| Catalogue::parse(&with(&control(id, enforcement)));
        let unknown_family = one("ZZ-1", "\"enforce\"");
        assert!(matches!(
            unknown_family,
            Err(CatalogueError::UnknownFamily(_))
        ));
        assert!(matches!(
            one("AC-2", ""),
            Err(CatalogueError::Unrealised(_))
        ));
        let delegated = one("AC-2", "\"delegate\"");
        assert!(matches!(delegated, Err(CatalogueError::Malformed(_))));
        let zero_padded = one("AC-02", "\"enforce\"");
        assert!(matches!(zero_padded, Err(CatalogueError::Malformed(_))));
    }

    #[test]
    fn a_check_result_serialises_flat() {
        let result = CheckResult {
            control: "AC-5".parse().expect("id"),
            outcome: CheckOutcome::Fail {
                findings: vec!["alice: password older than 90 days".into()],
            },
            evidence: "4 active passwords".into(),
        };
        let json = serde_json::to_value(&result).expect("json");
        assert_eq!(json["control"], "AC-5");
        assert_eq!(json["result"], "fail");
        assert_eq!(json["findings"][0], "alice: password older than 90 days");
        let back: CheckResult = serde_json::from_value(json).expect("back");
        assert_eq!(back, result);
    }
}
