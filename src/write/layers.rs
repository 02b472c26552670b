//! The run's output layers, built from the aggregates and indicators: one per boundary level,
//! the regional groups, the rejects and the legend of the region layers' classes.

use crate::aggregate::{Aggregates, LevelTotals};
use crate::assign::RegionAttributes;
use crate::config::Pipeline;
use crate::error::Error;
use crate::indicators::legend::LegendRow;
use crate::indicators::{self, RegionIndicators, levels::LevelSpatial, population::Populations};
use crate::model::{AdminLevel, Boundaries, RegionGroup, Reject};
use crate::write::{self, OutLayer, RegionRow};

/// What the layers need beyond the aggregates.
#[derive(Clone, Copy)]
pub struct Derived<'a> {
    pub spatial: &'a [LevelSpatial],
    pub population: &'a Populations,
}

/// The output layers: one per boundary level, the regional groups, the rejects, and the
/// `legend` table (no geometry: GeoPackage only) of every region layer's classes and tiers,
/// whose rows are also returned (the layers' styles are made from them).
pub fn build(
    p: &Pipeline,
    b: &Boundaries,
    groups: &[RegionGroup],
    agg: &Aggregates,
    attributes: &RegionAttributes,
    rejects: &[Reject],
    derived: Derived<'_>,
) -> Result<(Vec<OutLayer>, Vec<LegendRow>), Error> {
    let Derived {
        spatial,
        population,
    } = derived;
    let columns = write::ExtraColumns {
        programs: &agg.programs,
        periods: &p.indicators.periods,
    };
    let mut layers = Vec::new();
    let mut legend = Vec::new();
    for (li, ((l, totals), sp)) in b.levels.iter().zip(&agg.levels).zip(spatial).enumerate() {
        let rows: Vec<RegionRow<'_>> = l
            .regions
            .iter()
            .map(|r| RegionRow {
                code: &r.code,
                name: &r.name,
                full_name: &r.full_name,
                parent_code: r.parent_code.as_deref(),
                area_km2: r.area_km2,
                geometry: Some(&r.geometry),
            })
            .collect();
        let areas: Vec<f64> = l.regions.iter().map(|r| r.area_km2).collect();
        let mut ind = with_legend(l.level.as_str(), totals, &areas, agg, p, &mut legend);
        for (i, r) in ind.iter_mut().enumerate() {
            r.neighbor_count = Some(sp.weights.neighbors[i].len() as u32);
            r.local = sp.local.get(i).cloned();
            r.lisa_note = sp.notes.get(i).copied().flatten();
            population.apply(
                r,
                population
                    .levels
                    .get(li)
                    .and_then(|m| m.get(&l.regions[i].code)),
            );
        }
        layers.push(
            write::region_layer(
                l.level.as_str(),
                &rows,
                totals,
                &ind,
                &columns,
                Some((l.level, attributes)),
            )
            .map_err(|e| Error::DataLimit(e.to_string()))?,
        );
    }
    if let (Some(gt), Some(sido)) = (agg.levels.get(b.levels.len()), b.level(AdminLevel::Sido)) {
        let geoms: Vec<Option<geo::MultiPolygon<f64>>> = groups
            .iter()
            .map(|g| {
                let parts: Vec<&geo::MultiPolygon<f64>> = g
                    .sido_codes
                    .iter()
                    .filter_map(|c| sido.get(c))
                    .map(|r| &r.geometry)
                    .collect();
                (!parts.is_empty()).then(|| dissolve(&parts))
            })
            .collect();
        let areas: Vec<f64> = groups
            .iter()
            .map(|g| {
                g.sido_codes
                    .iter()
                    .filter_map(|c| sido.get(c))
                    .map(|r| r.area_km2)
                    .sum()
            })
            .collect();
        let rows: Vec<RegionRow<'_>> = groups
            .iter()
            .zip(&geoms)
            .zip(&areas)
            .map(|((g, geom), area)| RegionRow {
                code: &g.id,
                name: &g.name,
                full_name: &g.name,
                parent_code: None,
                area_km2: *area,
                geometry: geom.as_ref(),
            })
            .collect();
        let mut ind = with_legend("region_group", gt, &areas, agg, p, &mut legend);
        for (r, g) in ind.iter_mut().zip(groups) {
            population.apply(r, population.groups.get(&g.id));
        }
        layers.push(
            write::region_layer("region_group", &rows, gt, &ind, &columns, None)
                .map_err(|e| Error::DataLimit(e.to_string()))?,
        );
    }
    let names: Vec<String> = p.inputs.iter().map(|i| i.name.clone()).collect();
    let paths: Vec<String> = p
        .inputs
        .iter()
        .map(|i| i.path.display().to_string())
        .collect();
    layers.push(write::rejects_layer(rejects, &names, &paths));
    layers.push(write::legend_layer(&legend));
    Ok((layers, legend))
}

/// The indicators of one region layer; its rows of the `legend` table are appended to `legend`.
fn with_legend(
    layer: &str,
    totals: &LevelTotals,
    areas: &[f64],
    agg: &Aggregates,
    p: &Pipeline,
    legend: &mut Vec<LegendRow>,
) -> Vec<RegionIndicators> {
    let level = indicators::compute(totals, areas, agg.assigned_krw, &p.indicators);
    legend.extend(indicators::legend::rows(layer, &level, &p.indicators.tiers));
    level.regions
}

/// Union of the member polygons of a group (sums are by code; geometry is only for display).
fn dissolve(parts: &[&geo::MultiPolygon<f64>]) -> geo::MultiPolygon<f64> {
    let polys: Vec<geo::Polygon<f64>> = parts.iter().flat_map(|m| m.0.iter().cloned()).collect();
    geo::unary_union(&polys)
}
