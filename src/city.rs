//! The city level: 시 with 일반구 (수원시 = 장안구 + 권선구 + 팔달구 + 영통구), derived from the
//! 시군구 codes of the loaded boundaries, as KOSTAT publishes them between 시도 and 구.
//!
//! A 시군구 code `NNNNx` with `x ≠ 0` named `…구` whose 시도 is a 도 (code ≥ 41, so 강원 51 and
//! 전북 52 after their recodes too; 특별시·광역시 구 and 세종 end in 0) is a 일반구 of the city
//! `NNNN0`. The name is needed because a few 군 have such codes too (증평군 43745, 태안군 44825).
//! The city's name is the word before the 구's own name in its full name (`경기도 수원시 장안구`),
//! its geometry the union of its 구 and its area the sum of theirs (the 구 are a clean
//! partition). No vintage list is involved: boundaries of another date (부천 41192/41194/41196
//! since 2024, 청주 4311x) give their own cities, and a city whose 구 were abolished (부천
//! 2016–2024) is a 시군구 there and no city. A city without 구 has no city-level duplicate.
//!
//! The 구 are re-parented to their city, the city's parent is the 시도, so every 구 rolls up
//! 구 → city → 시도 and every other 시군구 straight to its 시도.

use std::collections::BTreeMap;

use geo::orient::{Direction, Orient};
use geo::{Coord, LineString, MultiPolygon, Polygon};
use i_overlay::core::fill_rule::FillRule;
use i_overlay::float::simplify::SimplifyShape;

use crate::model::{AdminLevel, Boundaries, LevelRegions, Region};

/// The city code a 시군구 code belongs to, when it is a 일반구 (`41111` → `41110`) of a city in a
/// 도 (`parent_code` ≥ 41); `None` for any other 시군구.
pub fn city_of(code: &str, sido_code: &str) -> Option<String> {
    let sido: u32 = sido_code.parse().ok()?;
    let is_gu = code.len() == 5
        && code.bytes().all(|b| b.is_ascii_digit())
        && !code.ends_with('0')
        && code.starts_with(sido_code);
    (is_gu && sido >= 41).then(|| format!("{}0", &code[..4]))
}

/// A city that is itself a 시군구 of the boundaries, over its 구.
#[derive(Debug, thiserror::Error)]
#[error(
    "시군구 {code} is a city whose 구 ({}) are 시군구 too: its polygon lies over theirs, \
     so the level is no partition",
    gus.join(", ")
)]
pub struct CityOverGu {
    /// The city's code.
    pub code: String,
    /// Its 구's codes.
    pub gus: Vec<String>,
}

/// `b` with the city level inserted between 시도 and 시군구 (when `b` has a 시군구 level), the
/// 구 re-parented to their cities.
///
/// # Errors
/// A city code that is itself a 시군구 of the boundaries (the city's polygon lying over its 구:
/// not a partition), named.
pub fn with_cities(mut b: Boundaries) -> Result<Boundaries, CityOverGu> {
    let Some(si) = b.levels.iter().position(|l| l.level == AdminLevel::Sigungu) else {
        return Ok(b);
    };
    let mut members: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, r) in b.levels[si].regions.iter().enumerate() {
        if let Some(city) = gu_city(r) {
            members.entry(city).or_default().push(i);
        }
    }
    let mut cities = Vec::with_capacity(members.len());
    for (code, gus) in &members {
        if b.levels[si].get(code).is_some() {
            return Err(CityOverGu {
                code: code.clone(),
                gus: gus
                    .iter()
                    .map(|&i| b.levels[si].regions[i].code.clone())
                    .collect(),
            });
        }
        let regions: Vec<&Region> = gus.iter().map(|&i| &b.levels[si].regions[i]).collect();
        cities.push(city(code, &regions));
    }
    for r in &mut b.levels[si].regions {
        if let Some(city) = gu_city(r) {
            r.parent_code = Some(city);
        }
    }
    b.levels
        .insert(si, LevelRegions::new(AdminLevel::City, cities));
    Ok(b)
}

/// The city of a 일반구: [`city_of`] its code, for a region named `…구`. The code alone is
/// not enough: a few 군 carry a last digit other than 0 (증평군 43745 beside 음성군 43740, split
/// from 괴산군 in 2003; 태안군 44825), and a 도 has no 자치구.
fn gu_city(r: &Region) -> Option<String> {
    let city = city_of(&r.code, r.parent_code.as_deref()?)?;
    r.name.trim().ends_with('구').then_some(city)
}

/// The city `code` made of `gus` (all in one 시도).
fn city(code: &str, gus: &[&Region]) -> Region {
    let first = gus[0];
    let name = city_name(first).unwrap_or_else(|| code.to_string());
    let full_name = match first.full_name.rfind(first.name.as_str()) {
        Some(i) if i > 0 => first.full_name[..i].trim_end().to_string(),
        _ => name.clone(),
    };
    Region {
        level: AdminLevel::City,
        code: code.to_string(),
        name,
        full_name,
        parent_code: first.parent_code.clone(),
        geometry: union(gus.iter().map(|g| &g.geometry)),
        area_km2: gus.iter().map(|g| g.area_km2).sum(),
    }
}

/// `수원시` from `경기도 수원시 장안구` (the word before the 구's name), or from a name with the
/// city glued on (`수원시장안구`).
fn city_name(gu: &Region) -> Option<String> {
    let words: Vec<&str> = gu.full_name.split_whitespace().collect();
    if let Some(i) = words.iter().position(|w| *w == gu.name)
        && i > 0
        && words[i - 1].ends_with('시')
    {
        return Some(words[i - 1].to_string());
    }
    let i = gu.name.find('시')?;
    let city = &gu.name[..i + '시'.len_utf8()];
    (city.len() < gu.name.len()).then(|| city.to_string())
}

/// The union of polygons (i_overlay, non-zero fill over rings oriented exterior
/// counter-clockwise, holes clockwise).
fn union<'a>(parts: impl Iterator<Item = &'a MultiPolygon<f64>>) -> MultiPolygon<f64> {
    let mut shapes: Vec<Vec<Vec<[f64; 2]>>> = Vec::new();
    for mp in parts {
        for p in mp.orient(Direction::Default) {
            let mut rings = vec![ring(p.exterior())];
            rings.extend(p.interiors().iter().map(ring));
            shapes.push(rings);
        }
    }
    let out = shapes.simplify_shape(FillRule::NonZero);
    MultiPolygon(
        out.into_iter()
            .filter_map(|shape| {
                let mut rings = shape
                    .into_iter()
                    .map(|c| LineString(c.into_iter().map(|[x, y]| Coord { x, y }).collect()));
                let exterior = rings.next()?;
                Some(Polygon::new(exterior, rings.collect()))
            })
            .collect(),
    )
}

/// A ring's points without the closing repeat.
fn ring(l: &LineString<f64>) -> Vec<[f64; 2]> {
    let mut pts: Vec<[f64; 2]> = l.0.iter().map(|c| [c.x, c.y]).collect();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    pts
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, polygon};

    fn region(level: AdminLevel, code: &str, name: &str, full: &str, parent: &str) -> Region {
        let x = code.bytes().map(|b| f64::from(b - b'0')).sum::<f64>();
        let geometry = MultiPolygon(vec![polygon![
            (x: x, y: 0.0), (x: x + 1.0, y: 0.0), (x: x + 1.0, y: 1.0), (x: x, y: 1.0)
        ]]);
        Region {
            level,
            code: code.into(),
            name: name.into(),
            full_name: full.into(),
            parent_code: (!parent.is_empty()).then(|| parent.to_string()),
            area_km2: geometry.unsigned_area() / 1e6,
            geometry,
        }
    }

    #[test]
    fn gu_codes_of_a_do_name_their_city() {
        assert_eq!(city_of("41111", "41").as_deref(), Some("41110"));
        assert_eq!(city_of("41117", "41").as_deref(), Some("41110"));
        assert_eq!(city_of("51111", "51").as_deref(), Some("51110"));
        assert_eq!(city_of("52113", "52").as_deref(), Some("52110"));
        assert_eq!(
            city_of("41110", "41"),
            None,
            "a city without 구 is a 시군구"
        );
        assert_eq!(city_of("11110", "11"), None);
        assert_eq!(city_of("36110", "36"), None, "세종 is single-tier");
        assert_eq!(city_of("26111", "26"), None, "광역시: no city level");
        assert_eq!(city_of("41111", "42"), None, "a 구 is inside its own 시도");
    }

    #[test]
    fn two_gu_become_one_city_and_other_sigungu_stay_under_their_sido() {
        let sido = LevelRegions::new(
            AdminLevel::Sido,
            vec![region(AdminLevel::Sido, "41", "경기도", "경기도", "")],
        );
        // Unit squares at x = digit sum: 41171 at 14..15, 41173 at 16..17 (disjoint).
        let sigungu = LevelRegions::new(
            AdminLevel::Sigungu,
            vec![
                region(
                    AdminLevel::Sigungu,
                    "41171",
                    "만안구",
                    "경기도 안양시 만안구",
                    "41",
                ),
                region(
                    AdminLevel::Sigungu,
                    "41173",
                    "동안구",
                    "경기도 안양시 동안구",
                    "41",
                ),
                region(
                    AdminLevel::Sigungu,
                    "41190",
                    "부천시",
                    "경기도 부천시",
                    "41",
                ),
            ],
        );
        let b = with_cities(Boundaries {
            levels: vec![sido, sigungu],
        })
        .unwrap();
        let levels: Vec<AdminLevel> = b.levels.iter().map(|l| l.level).collect();
        assert_eq!(
            levels,
            [AdminLevel::Sido, AdminLevel::City, AdminLevel::Sigungu]
        );
        let city = b.levels[1].get("41170").unwrap();
        assert_eq!(city.name, "안양시");
        assert_eq!(city.full_name, "경기도 안양시");
        assert_eq!(city.parent_code.as_deref(), Some("41"));
        assert_eq!(b.levels[1].regions.len(), 1);
        // Two disjoint unit squares: area 2 m².
        assert!((city.geometry.unsigned_area() - 2.0).abs() < 1e-9);
        assert!((city.area_km2 - 2e-6).abs() < 1e-15);
        assert_eq!(
            b.lineage(AdminLevel::Sigungu, "41173"),
            [
                (AdminLevel::Sigungu, "41173".to_string()),
                (AdminLevel::City, "41170".to_string()),
                (AdminLevel::Sido, "41".to_string())
            ]
        );
        assert_eq!(
            b.lineage(AdminLevel::Sigungu, "41190"),
            [
                (AdminLevel::Sigungu, "41190".to_string()),
                (AdminLevel::Sido, "41".to_string())
            ]
        );
    }

    #[test]
    fn adjacent_gu_merge_into_one_polygon() {
        let a = MultiPolygon(vec![polygon![
            (x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0)
        ]]);
        // Clockwise on purpose: orientation must not matter.
        let b = MultiPolygon(vec![polygon![
            (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 2.0, y: 1.0), (x: 2.0, y: 0.0)
        ]]);
        let u = union([&a, &b].into_iter());
        assert_eq!(u.0.len(), 1);
        assert!((u.unsigned_area() - 2.0).abs() < 1e-9);
    }

    #[test]
    fn a_city_polygon_over_its_gu_is_an_error() {
        let sigungu = LevelRegions::new(
            AdminLevel::Sigungu,
            vec![
                region(
                    AdminLevel::Sigungu,
                    "44130",
                    "천안시",
                    "충청남도 천안시",
                    "44",
                ),
                region(
                    AdminLevel::Sigungu,
                    "44131",
                    "동남구",
                    "충청남도 천안시 동남구",
                    "44",
                ),
            ],
        );
        let e = with_cities(Boundaries {
            levels: vec![sigungu],
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("44130") && e.contains("44131"), "{e}");
    }

    #[test]
    fn a_county_coded_off_its_neighbour_is_no_gu() {
        // 증평군 43745 was split from 괴산군 in 2003 and coded beside 음성군 43740; 태안군
        // 44825 has no 44820 beside it.
        let sigungu = LevelRegions::new(
            AdminLevel::Sigungu,
            vec![
                region(
                    AdminLevel::Sigungu,
                    "43740",
                    "음성군",
                    "충청북도 음성군",
                    "43",
                ),
                region(
                    AdminLevel::Sigungu,
                    "43745",
                    "증평군",
                    "충청북도 증평군",
                    "43",
                ),
                region(
                    AdminLevel::Sigungu,
                    "44825",
                    "태안군",
                    "충청남도 태안군",
                    "44",
                ),
            ],
        );
        let b = with_cities(Boundaries {
            levels: vec![sigungu],
        })
        .unwrap();
        assert!(b.levels[0].regions.is_empty(), "no city");
        assert_eq!(
            b.levels[1].get("43745").unwrap().parent_code.as_deref(),
            Some("43")
        );
    }
}
