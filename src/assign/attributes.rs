//! Region attributes: values of attribute records copied onto the regions they resolved to.

use std::collections::BTreeMap;

use crate::model::{AdminLevel, Boundaries, Investment, Reject, RejectReason};

use super::{Assigned, Resolution};

/// Per-region attribute values from attribute inputs: (level, code) → column → value.
pub type RegionAttributes = BTreeMap<(AdminLevel, String), BTreeMap<String, String>>;

/// Copies attribute records onto the regions they resolved to; a second, different value for
/// the same region and column is a reject.
pub fn attributes(
    b: &Boundaries,
    records: &[Investment],
    assigned: &[Assigned],
    rejects: &mut Vec<Reject>,
) -> RegionAttributes {
    let mut out: RegionAttributes = BTreeMap::new();
    for a in assigned {
        let r = &records[a.record];
        let targets: Vec<(AdminLevel, String)> = match &a.resolution {
            // A city's values go to the city and, as without the city level, to every 구.
            Resolution::Region {
                level: AdminLevel::City,
                code,
            } => std::iter::once((AdminLevel::City, code.clone()))
                .chain(b.level(AdminLevel::Sigungu).into_iter().flat_map(|l| {
                    l.regions
                        .iter()
                        .filter(|r| r.parent_code.as_deref() == Some(code.as_str()))
                        .map(|r| (AdminLevel::Sigungu, r.code.clone()))
                }))
                .collect(),
            Resolution::Region { level, code } => vec![(*level, code.clone())],
            Resolution::City { gu_codes, .. } => gu_codes
                .iter()
                .map(|c| (AdminLevel::Sigungu, c.clone()))
                .collect(),
            Resolution::Split { parts, .. } => {
                parts.iter().map(|(l, c, _)| (*l, c.clone())).collect()
            }
        };
        let mut conflict = None;
        for t in &targets {
            let slot = out.entry(t.clone()).or_default();
            for (col, v) in &r.attributes {
                match slot.get(col) {
                    Some(old) if old != v => {
                        conflict = Some(format!(
                            "{col}: `{v}` differs from `{old}` already set on {}",
                            t.1
                        ))
                    }
                    _ => {
                        slot.insert(col.clone(), v.clone());
                    }
                }
            }
        }
        if let Some(detail) = conflict {
            rejects.push(Reject {
                input: r.input,
                row: r.row,
                record_id: r.record_id.clone(),
                reason: RejectReason::AttributeConflict,
                detail,
                amount_krw: r.amount_krw,
                point: None,
            });
        }
    }
    out
}
