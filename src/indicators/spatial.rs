//! Spatial structure: contiguity weights that work on real (generalised, slightly gappy)
//! boundaries, global Moran's I with permutation inference, Local Moran (LISA) and
//! Getis–Ord Gi*, with the formulas of PySAL's `esda` so values can be checked against it.
//!
//! # Contiguity with a tolerance
//! PySAL's `Queen`/`Rook` need exactly shared vertices or edges; boundaries simplified level by
//! level have hairline gaps and slivers, which would silently drop neighbours. Here a vertex of
//! region A *touches* region B when it lies within `tolerance` metres of one of B's boundary
//! segments. A and B are **queen** neighbours when any vertex of one touches the other, and
//! **rook** neighbours when the touching vertices span more than `2 × tolerance` (a shared
//! stretch of boundary rather than a point). Regions with no neighbour are *islands*; with
//! `island_knn = k` each island is joined to its k nearest regions by centroid (symmetrically).

use std::collections::{BTreeMap, BTreeSet};

use geo::{Centroid, Coord, MultiPolygon};
use rayon::prelude::*;
use rstar::RTree;
use rstar::primitives::{GeomWithData, Line};
use serde::Serialize;

use crate::config::Contiguity;

/// Binary, symmetric spatial weights: sorted neighbour indices per region.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Weights {
    pub(crate) neighbors: Vec<Vec<usize>>,
    /// Regions that had no contiguous neighbour (before any k-nearest fallback).
    pub(crate) islands: Vec<usize>,
}

type Seg = GeomWithData<Line<[f64; 2]>, usize>;

/// Builds contiguity weights over `polygons` (EPSG:5179 metres).
pub(crate) fn contiguity(
    polygons: &[&MultiPolygon<f64>],
    tolerance: f64,
    kind: Contiguity,
    island_knn: usize,
) -> Weights {
    let segments: Vec<Seg> = polygons
        .iter()
        .enumerate()
        .flat_map(|(i, mp)| {
            mp.0.iter().flat_map(move |p| {
                std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .flat_map(move |ring| {
                        ring.0.windows(2).map(move |w| {
                            GeomWithData::new(Line::new([w[0].x, w[0].y], [w[1].x, w[1].y]), i)
                        })
                    })
            })
        })
        .collect();
    let tree = RTree::bulk_load(segments);
    let d2 = tolerance * tolerance;
    // For each region: touched region → bounding box of the touching vertices.
    let touches: Vec<BTreeMap<usize, [f64; 4]>> = polygons
        .par_iter()
        .enumerate()
        .map(|(i, mp)| {
            let mut m: BTreeMap<usize, [f64; 4]> = BTreeMap::new();
            for p in &mp.0 {
                for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                    for c in &ring.0 {
                        for s in tree.locate_within_distance([c.x, c.y], d2) {
                            if s.data != i {
                                let b = m.entry(s.data).or_insert([c.x, c.y, c.x, c.y]);
                                b[0] = b[0].min(c.x);
                                b[1] = b[1].min(c.y);
                                b[2] = b[2].max(c.x);
                                b[3] = b[3].max(c.y);
                            }
                        }
                    }
                }
            }
            m
        })
        .collect();
    let n = polygons.len();
    let mut sets: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for (i, m) in touches.iter().enumerate() {
        for (&j, b) in m {
            // Merge the evidence of both directions before deciding.
            let mut bb = *b;
            if let Some(o) = touches[j].get(&i) {
                bb = [
                    bb[0].min(o[0]),
                    bb[1].min(o[1]),
                    bb[2].max(o[2]),
                    bb[3].max(o[3]),
                ];
            }
            let span = ((bb[2] - bb[0]).powi(2) + (bb[3] - bb[1]).powi(2)).sqrt();
            if kind == Contiguity::Queen || span > 2.0 * tolerance {
                sets[i].insert(j);
                sets[j].insert(i);
            }
        }
    }
    let islands: Vec<usize> = (0..n).filter(|&i| sets[i].is_empty()).collect();
    if island_knn > 0 && n > 1 {
        let centroids: Vec<Coord<f64>> = polygons
            .iter()
            .map(|p| p.centroid().map_or(Coord { x: 0.0, y: 0.0 }, |c| c.0))
            .collect();
        for &i in &islands {
            let mut by_dist: Vec<(f64, usize)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    (
                        (centroids[j].x - centroids[i].x).hypot(centroids[j].y - centroids[i].y),
                        j,
                    )
                })
                .collect();
            by_dist.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for &(_, j) in by_dist.iter().take(island_knn) {
                sets[i].insert(j);
                sets[j].insert(i);
            }
        }
    }
    Weights {
        neighbors: sets.into_iter().map(|s| s.into_iter().collect()).collect(),
        islands,
    }
}

/// A small, fast, portable generator (SplitMix64) so permutations are the same on every
/// machine for a given seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2⁻³² for our n).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Global Moran permutations run in this many independent blocks (see [`moran`]).
const PERMUTATION_BLOCKS: usize = 16;

/// `k` distinct regions drawn uniformly, in order, from all `n` but `i`: a partial Fisher–Yates
/// over the virtual pool `0..n` without `i`, keeping only the few slots it has swapped, so a draw
/// costs O(k²) and needs no O(n) pool.
#[derive(Debug, Default)]
struct Draw {
    /// (pool position, region now there) for the positions swapped in this draw.
    slots: Vec<(usize, usize)>,
    out: Vec<usize>,
}

impl Draw {
    fn others(&mut self, rng: &mut Rng, n: usize, i: usize, k: usize) -> &[usize] {
        self.slots.clear();
        self.out.clear();
        let at = |slots: &[(usize, usize)], t: usize| {
            slots
                .iter()
                .rev()
                .find(|(p, _)| *p == t)
                .map_or(if t < i { t } else { t + 1 }, |(_, v)| *v)
        };
        for t in 0..k.min(n - 1) {
            let r = t + rng.below(n - 1 - t);
            let (vt, vr) = (at(&self.slots, t), at(&self.slots, r));
            self.out.push(vr);
            // Position t is never read again; r now holds what t held.
            self.slots.push((r, vt));
        }
        &self.out
    }
}

/// Global Moran's I with row-standardised weights (esda `Moran(y, w)`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Moran {
    pub(crate) i: f64,
    pub(crate) ei: f64,
    pub(crate) z_norm: f64,
    /// Two-tailed, under normality.
    pub(crate) p_norm: f64,
    /// Pseudo p-value from `permutations` random permutations: (extreme + 1) / (perms + 1).
    pub(crate) p_sim: Option<f64>,
    permutations: usize,
}

fn row_standardised(w: &Weights) -> Vec<Vec<(usize, f64)>> {
    w.neighbors
        .iter()
        .map(|nb| {
            let k = nb.len() as f64;
            nb.iter().map(|&j| (j, 1.0 / k)).collect()
        })
        .collect()
}

fn lag(w: &[Vec<(usize, f64)>], z: &[f64]) -> Vec<f64> {
    w.iter()
        .map(|row| row.iter().map(|(j, v)| v * z[*j]).sum())
        .collect()
}

/// esda's `Moran`: `I = n/S0 · Σ zᵢ (Wz)ᵢ / Σ zᵢ²`, variance under normality, and permutation
/// inference. `None` when fewer than 3 regions or all values are equal.
pub(crate) fn moran(y: &[f64], w: &Weights, permutations: usize, seed: u64) -> Option<Moran> {
    let n = y.len();
    if n < 3 {
        return None;
    }
    let mean = y.iter().sum::<f64>() / n as f64;
    let z: Vec<f64> = y.iter().map(|v| v - mean).collect();
    let z2ss: f64 = z.iter().map(|v| v * v).sum();
    if z2ss == 0.0 {
        return None;
    }
    let ws = row_standardised(w);
    let s0: f64 = ws.iter().flatten().map(|(_, v)| v).sum();
    if s0 == 0.0 {
        return None;
    }
    // S1 = ½ Σ (wij + wji)², S2 = Σ (wi. + w.i)².
    let mut dense: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for (i, row) in ws.iter().enumerate() {
        for (j, v) in row {
            *dense.entry((i, *j)).or_default() += v;
        }
    }
    let s1: f64 = 0.5
        * dense
            .iter()
            .map(|(&(i, j), v)| {
                let t = v + dense.get(&(j, i)).copied().unwrap_or(0.0);
                t * t
            })
            .sum::<f64>();
    let mut row_sum = vec![0.0; n];
    let mut col_sum = vec![0.0; n];
    for (&(i, j), v) in &dense {
        row_sum[i] += v;
        col_sum[j] += v;
    }
    let s2: f64 = row_sum
        .iter()
        .zip(&col_sum)
        .map(|(a, b)| (a + b).powi(2))
        .sum();
    let nf = n as f64;
    let stat = |z: &[f64]| {
        let cross: f64 = ws
            .iter()
            .zip(z)
            .map(|(row, zi)| zi * row.iter().map(|(j, v)| v * z[*j]).sum::<f64>())
            .sum();
        nf / s0 * cross / z2ss
    };
    let i = stat(&z);
    let ei = -1.0 / (nf - 1.0);
    let vi =
        (nf * nf * s1 - nf * s2 + 3.0 * s0 * s0) / ((nf - 1.0) * (nf + 1.0) * s0 * s0) - ei * ei;
    let z_norm = (i - ei) / vi.sqrt();
    let p_norm = 2.0 * normal_sf(z_norm.abs());
    let p_sim = (permutations > 0).then(|| {
        // A fixed number of blocks, each with its own generator, run in parallel: the count
        // depends on the seed only, not on the number of threads.
        let larger: usize = (0..PERMUTATION_BLOCKS)
            .into_par_iter()
            .map(|b| {
                let mut rng = Rng::new(seed ^ (b as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let mut zp = z.clone();
                let share = permutations / PERMUTATION_BLOCKS
                    + usize::from(b < permutations % PERMUTATION_BLOCKS);
                (0..share)
                    .filter(|_| {
                        rng.shuffle(&mut zp);
                        stat(&zp) >= i
                    })
                    .count()
            })
            .sum();
        let extreme = larger.min(permutations - larger);
        (extreme as f64 + 1.0) / (permutations as f64 + 1.0)
    });
    Some(Moran {
        i,
        ei,
        z_norm,
        p_norm,
        p_sim,
        permutations,
    })
}

/// One region's Local Moran and Gi*.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Local {
    pub(crate) lisa_i: f64,
    /// 1 HH, 2 LH, 3 LL, 4 HL (esda's quadrants); `None` for a region with a [`LocalNote`].
    pub(crate) lisa_quadrant: Option<u8>,
    /// `None` for a region with a [`LocalNote`].
    pub(crate) lisa_p_sim: Option<f64>,
    /// `None` for a region with a [`LocalNote`] (for an island esda gives NaN).
    pub(crate) gi_star_z: Option<f64>,
    /// Normal tail of `gi_star_z` as esda reports it (`sf(|z|)`).
    pub(crate) gi_star_p_norm: Option<f64>,
}

/// Why a region's local statistics are withheld (its quadrant, pseudo p-value and Gi* are
/// null) although esda would give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum LocalNote {
    /// The region's value and every neighbour's are 0: a cluster of regions that received
    /// nothing (mostly regions without any record) is not a finding, so it is not called
    /// significant. esda would give it LL, often with a small p.
    ZeroAmongZeros,
    /// An island: no neighbour under the weights, so no lag to compare with.
    NoNeighbours,
}

impl LocalNote {
    /// The text of the `lisa_note` column.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LocalNote::ZeroAmongZeros => "zero among zeros",
            LocalNote::NoNeighbours => "no neighbours",
        }
    }
}

/// The [`LocalNote`] of every region: `NoNeighbours` for an island, `ZeroAmongZeros` for a
/// region whose value and every neighbour's value are 0, else none. Depends only on `y` and
/// the weights, so it is given even when the values have no variance.
pub(crate) fn local_notes(y: &[f64], w: &Weights) -> Vec<Option<LocalNote>> {
    y.iter()
        .zip(&w.neighbors)
        .map(|(&v, nb)| {
            if nb.is_empty() {
                Some(LocalNote::NoNeighbours)
            } else if v == 0.0 && nb.iter().all(|&j| y[j] == 0.0) {
                Some(LocalNote::ZeroAmongZeros)
            } else {
                None
            }
        })
        .collect()
}

/// esda's `Moran_Local(y, w)` (row-standardised; conditional permutations) and
/// `G_Local(y, w, star=True, transform='R')`, computed over every region as esda does, then
/// withheld where [`local_notes`] gives a note: `lisa_i` stays, the quadrant, `lisa_p_sim` and
/// Gi* become `None`. Empty when the values have no variance.
pub(crate) fn local(y: &[f64], w: &Weights, permutations: usize, seed: u64) -> Vec<Local> {
    let n = y.len();
    if n < 3 {
        return Vec::new();
    }
    let notes = local_notes(y, w);
    let nf = n as f64;
    let mean = y.iter().sum::<f64>() / nf;
    let sd = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / nf).sqrt();
    if sd == 0.0 {
        return Vec::new();
    }
    let z: Vec<f64> = y.iter().map(|v| (v - mean) / sd).collect();
    let den: f64 = z.iter().map(|v| v * v).sum();
    let ws = row_standardised(w);
    let zl = lag(&ws, &z);
    let is: Vec<f64> = z
        .iter()
        .zip(&zl)
        .map(|(a, b)| (nf - 1.0) * a * b / den)
        .collect();
    // Gi*: self included with weight 1, then row-standardised.
    let y_sum: f64 = y.iter().sum();
    let mean_sq = y.iter().map(|v| v * v).sum::<f64>() / nf;
    let emp_var = mean_sq - mean * mean;
    let g_sd = (emp_var / (mean * mean)).sqrt() / nf;
    // As esda's `crand`: one set of random draws per permutation, shared by every region (the
    // first k of them for a region with k neighbours), so the cost is O(permutations · Σk)
    // rather than a fresh draw per region and permutation.
    let k_max = w
        .neighbors
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .min(n - 1);
    let mut draws: Vec<u32> = Vec::with_capacity(permutations * k_max);
    if k_max > 0 {
        let mut rng = Rng::new(seed);
        let mut draw = Draw::default();
        for _ in 0..permutations {
            // From 0..n − 1: the pool of n without its last.
            draws.extend(
                draw.others(&mut rng, n, n - 1, k_max)
                    .iter()
                    .map(|&j| j as u32),
            );
        }
    }
    (0..n)
        .into_par_iter()
        .map(|i| {
            let nb = &w.neighbors[i];
            if notes[i].is_some() {
                return Local {
                    lisa_i: is[i],
                    lisa_quadrant: None,
                    lisa_p_sim: None,
                    gi_star_z: None,
                    gi_star_p_norm: None,
                };
            }
            let quadrant = match (z[i] > 0.0, zl[i] > 0.0) {
                (true, true) => 1,
                (false, true) => 2,
                (false, false) => 3,
                (true, false) => 4,
            };
            let p_sim = (permutations > 0).then(|| {
                // Conditional randomisation: z_i fixed, neighbours drawn from the other n − 1
                // (shared draw j of 0..n − 1 stands for region j, or j + 1 from i on).
                let k = nb.len();
                let larger = draws
                    .chunks_exact(k_max)
                    .filter(|d| {
                        let sum: f64 = d[..k]
                            .iter()
                            .map(|&j| z[j as usize + usize::from(j as usize >= i)])
                            .sum();
                        (nf - 1.0) * z[i] * (sum / k as f64) / den >= is[i]
                    })
                    .count();
                let extreme = larger.min(permutations - larger);
                (extreme as f64 + 1.0) / (permutations as f64 + 1.0)
            });
            let g =
                (y[i] + nb.iter().map(|&j| y[j]).sum::<f64>()) / (nb.len() as f64 + 1.0) / y_sum;
            let gz = Some((g - 1.0 / nf) / g_sd);
            Local {
                lisa_i: is[i],
                lisa_quadrant: Some(quadrant),
                lisa_p_sim: p_sim,
                gi_star_z: gz,
                gi_star_p_norm: gz.map(|z| normal_sf(z.abs())),
            }
        })
        .collect()
}

/// Upper tail of the standard normal, `1 − Φ(x)`, via [`erfc`] (the usual 7-digit
/// approximations are too coarse for 1e-9 agreement with scipy).
fn normal_sf(x: f64) -> f64 {
    0.5 * erfc(x / std::f64::consts::SQRT_2)
}

/// Complementary error function: power series below 0.5, Lentz's continued fraction above;
/// agrees with scipy to ~1e-16 (unit tests).
fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 0.5 {
        return 1.0 - erf_series(x);
    }
    // Continued fraction (Lentz) for x ≥ 0.5.
    let tiny = 1e-300;
    let mut f = tiny;
    let mut c = f;
    let mut d = 0.0;
    // erfc(x) = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
    let terms = 300;
    for k in 0..terms {
        let (a, b) = if k == 0 {
            (1.0, x)
        } else {
            (k as f64 / 2.0, x)
        };
        d = b + a * d;
        if d.abs() < tiny {
            d = tiny;
        }
        c = b + a / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x * x).exp() / std::f64::consts::PI.sqrt() * f
}

fn erf_series(x: f64) -> f64 {
    // erf(x) = 2/√π Σ (−1)ⁿ x^(2n+1) / (n! (2n+1))
    let mut sum = 0.0;
    let mut term = x;
    for n in 0..60 {
        let t = term / (2 * n + 1) as f64;
        sum += t;
        term *= -x * x / (n + 1) as f64;
        if t.abs() < 1e-17 * sum.abs() {
            break;
        }
    }
    2.0 / std::f64::consts::PI.sqrt() * sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, Polygon};

    fn square(x: f64, y: f64) -> MultiPolygon<f64> {
        MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![
                (x, y),
                (x + 1.0, y),
                (x + 1.0, y + 1.0),
                (x, y + 1.0),
                (x, y),
            ]),
            vec![],
        )])
    }

    /// 3×3 grid, index = row * 3 + col.
    fn grid() -> Vec<MultiPolygon<f64>> {
        (0..9)
            .map(|k| square((k % 3) as f64, (k / 3) as f64))
            .collect()
    }

    #[test]
    fn rook_and_queen_on_a_grid_match_the_textbook_counts() {
        let g = grid();
        let refs: Vec<&MultiPolygon<f64>> = g.iter().collect();
        let rook = contiguity(&refs, 0.01, Contiguity::Rook, 0);
        let queen = contiguity(&refs, 0.01, Contiguity::Queen, 0);
        assert_eq!(rook.neighbors[4], vec![1, 3, 5, 7]);
        assert_eq!(queen.neighbors[4], vec![0, 1, 2, 3, 5, 6, 7, 8]);
        assert_eq!(rook.neighbors[0], vec![1, 3]);
        assert_eq!(queen.neighbors[0], vec![1, 3, 4]);
    }

    #[test]
    fn a_hairline_gap_within_the_tolerance_keeps_neighbours_and_an_island_is_reported() {
        let a = square(0.0, 0.0);
        let b = square(1.004, 0.0); // 4 mm gap
        let far = square(10.0, 10.0);
        let w = contiguity(&[&a, &b, &far], 0.01, Contiguity::Rook, 0);
        assert_eq!(w.neighbors[0], vec![1]);
        assert_eq!(w.islands, vec![2]);
        let knn = contiguity(&[&a, &b, &far], 0.01, Contiguity::Rook, 1);
        assert_eq!(knn.neighbors[2], vec![1]);
    }

    #[test]
    fn moran_of_a_checkerboard_is_minus_one_on_rook_weights() {
        let g = grid();
        let refs: Vec<&MultiPolygon<f64>> = g.iter().collect();
        let w = contiguity(&refs, 0.01, Contiguity::Rook, 0);
        let y: Vec<f64> = (0..9).map(|k| if k % 2 == 0 { 1.0 } else { 0.0 }).collect();
        let m = moran(&y, &w, 99, 1).unwrap();
        // Every neighbour pair differs: I is strongly negative and the permutation test rare.
        assert!(m.i < -0.9, "{}", m.i);
        assert!((m.ei + 0.125).abs() < 1e-15);
        assert!(m.p_sim.unwrap() < 0.05);
    }

    #[test]
    fn normal_tail_matches_known_values() {
        // scipy.stats.norm.sf: 1.959963984540054 → 0.025, 0 → 0.5, 3 → 0.0013498980316301
        assert!((normal_sf(1.959963984540054) - 0.025).abs() < 1e-15);
        assert!((normal_sf(0.0) - 0.5).abs() < 1e-16);
        assert!((normal_sf(3.0) - 0.001_349_898_031_630_093_3).abs() < 1e-17);
        assert!((normal_sf(0.3) - 0.382_088_577_811_047_4).abs() < 1e-15);
    }

    #[test]
    fn draws_are_distinct_uniform_and_never_the_region_itself() {
        let mut rng = Rng::new(3);
        let mut draw = Draw::default();
        let (n, i, k) = (10, 4, 3);
        let mut seen = [0usize; 10];
        for _ in 0..30_000 {
            let d = draw.others(&mut rng, n, i, k).to_vec();
            assert_eq!(d.len(), k);
            assert!(!d.contains(&i));
            let mut u = d.clone();
            u.sort_unstable();
            u.dedup();
            assert_eq!(u.len(), k, "{d:?}");
            for j in d {
                seen[j] += 1;
            }
        }
        // Each of the 9 others is drawn 30,000·3/9 = 10,000 times in expectation (sd ≈ 82).
        for (j, c) in seen.iter().enumerate() {
            if j == i {
                assert_eq!(*c, 0);
            } else {
                assert!((9_600..10_400).contains(c), "region {j}: {c}");
            }
        }
    }

    #[test]
    fn permutation_results_do_not_depend_on_the_thread_count() {
        let g = grid();
        let refs: Vec<&MultiPolygon<f64>> = g.iter().collect();
        let w = contiguity(&refs, 0.01, Contiguity::Queen, 0);
        let y = [5.0, 1.0, 3.0, 9.0, 2.0, 8.0, 4.0, 7.0, 6.0];
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let (m1, l1) = one.install(|| (moran(&y, &w, 999, 11), local(&y, &w, 999, 11)));
        assert_eq!(m1, moran(&y, &w, 999, 11));
        assert_eq!(l1, local(&y, &w, 999, 11));
    }

    #[test]
    fn clustered_values_are_significant_and_a_scatter_is_not() {
        // A 12×12 lattice: the left half high, the right half low. Cells away from the divide
        // have all-alike neighbours, which a random draw of 8 from 143 values almost never
        // matches (p ≈ 2·(½)⁸ at most): p_sim must be near its floor of 1/1000.
        let cells: Vec<MultiPolygon<f64>> = (0..144)
            .map(|c| square((c % 12) as f64, (c / 12) as f64))
            .collect();
        let refs: Vec<&MultiPolygon<f64>> = cells.iter().collect();
        let w = contiguity(&refs, 0.01, Contiguity::Queen, 0);
        let y: Vec<f64> = (0..144)
            .map(|c| if c % 12 < 6 { 10.0 } else { 1.0 } + (c % 5) as f64 * 0.01)
            .collect();
        let l = local(&y, &w, 999, 5);
        for (c, r) in l.iter().enumerate() {
            let (col, row) = (c % 12, c / 12);
            if (1..11).contains(&row) && [1, 2, 3, 8, 9, 10].contains(&col) {
                assert!(r.lisa_p_sim.unwrap() < 0.02, "cell {c}: {r:?}");
            }
        }
        let m = moran(&y, &w, 999, 5).unwrap();
        assert!(m.i > 0.8 && m.p_sim.unwrap() <= 0.002, "{m:?}");
        // A scatter: a fixed shuffle of the same values.
        let mut ys = y.clone();
        Rng::new(9).shuffle(&mut ys);
        let m = moran(&ys, &w, 999, 5).unwrap();
        assert!(m.p_sim.unwrap() > 0.01, "{m:?}");
        let small = local(&ys, &w, 999, 5)
            .iter()
            .filter(|r| r.lisa_p_sim.unwrap() < 0.05)
            .count();
        // About 5 % of 144 by chance; far fewer than the clustered case's 60.
        assert!(small < 20, "{small}");
    }

    #[test]
    fn permutations_are_reproducible_for_a_seed() {
        let g = grid();
        let refs: Vec<&MultiPolygon<f64>> = g.iter().collect();
        let w = contiguity(&refs, 0.01, Contiguity::Queen, 0);
        let y = [5.0, 1.0, 3.0, 9.0, 2.0, 8.0, 4.0, 7.0, 6.0];
        assert_eq!(local(&y, &w, 199, 7), local(&y, &w, 199, 7));
        assert_eq!(moran(&y, &w, 199, 7), moran(&y, &w, 199, 7));
    }

    #[test]
    fn zeros_among_zeros_and_islands_are_not_called_significant() {
        // A 4×4 rook lattice (index = row * 4 + col) plus a far island (16). The corner block
        // 0, 1, 4 (and 5) holds nothing; the rest rises to the far corner; the island too.
        let mut cells: Vec<MultiPolygon<f64>> = (0..16)
            .map(|c| square((c % 4) as f64, (c / 4) as f64))
            .collect();
        cells.push(square(50.0, 50.0));
        let refs: Vec<&MultiPolygon<f64>> = cells.iter().collect();
        let w = contiguity(&refs, 0.01, Contiguity::Rook, 0);
        assert_eq!(w.islands, vec![16]);
        let mut y: Vec<f64> = (0..16).map(|c| ((c % 4) + (c / 4)) as f64).collect();
        for c in [0, 1, 4, 5] {
            y[c] = 0.0;
        }
        y.push(0.0);
        let notes = local_notes(&y, &w);
        // 0: itself and 1, 4 are 0. 1: neighbour 2 holds 2. 5: neighbours 6 and 9 hold 3.
        assert_eq!(notes[0], Some(LocalNote::ZeroAmongZeros));
        assert_eq!(notes[1], None);
        assert_eq!(notes[4], None);
        assert_eq!(notes[5], None);
        assert_eq!(notes[16], Some(LocalNote::NoNeighbours));
        assert_eq!(notes.iter().flatten().count(), 2);
        assert_eq!(LocalNote::ZeroAmongZeros.as_str(), "zero among zeros");
        assert_eq!(LocalNote::NoNeighbours.as_str(), "no neighbours");
        let l = local(&y, &w, 199, 3);
        for i in [0, 16] {
            let r = &l[i];
            assert_eq!(
                (r.lisa_quadrant, r.lisa_p_sim, r.gi_star_z, r.gi_star_p_norm),
                (None, None, None, None),
                "{i}"
            );
        }
        // Local Moran's I itself is still esda's: (n − 1) zᵢ (Wz)ᵢ / Σz² (region 0 is LL).
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        let sd = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        let z: Vec<f64> = y.iter().map(|v| (v - mean) / sd).collect();
        let den: f64 = z.iter().map(|v| v * v).sum();
        let lag0 = (z[1] + z[4]) / 2.0;
        assert!((l[0].lisa_i - (n - 1.0) * z[0] * lag0 / den).abs() < 1e-12);
        // Everyone else keeps a quadrant, a pseudo p-value and Gi*, as before the rule.
        for (i, r) in l.iter().enumerate().filter(|(i, _)| ![0, 16].contains(i)) {
            assert!(r.lisa_quadrant.is_some() && r.lisa_p_sim.is_some(), "{i}");
            assert!(r.gi_star_z.is_some() && r.gi_star_p_norm.is_some(), "{i}");
        }
        assert_eq!(l[1].lisa_quadrant, Some(3));
        assert_eq!(l[15].lisa_quadrant, Some(1));
    }
}
