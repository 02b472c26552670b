//! Inequality across regions, with the formulas of PySAL's `inequality` package where it has
//! one (Gini, Theil T and its between/within decomposition, Atkinson), so figures can be
//! checked against it (`make verify`). Every function takes the per-region values `y` (e.g.
//! KRW per km²) and, for weighted variants, the region weights `w` (area or population).
//!
//! Conventions: `0 · ln 0 = 0` (PySAL adds the smallest positive float to zeros, which gives the
//! same value to ~1e-300); a measure that is undefined for the data (Theil L or Atkinson ε ≥ 1
//! with a zero value, any measure with a zero total) is `None`, never a silent 0.

/// Gini coefficient, unweighted: `Σᵢ Σⱼ |yᵢ − yⱼ| / (2 n² ȳ)`, PySAL's `Gini(y).g`.
///
/// One region holding everything gives `(n − 1) / n`; equal values give 0.
// Only the tests call it: the independent formula the weighted Gini is checked against.
#[cfg(test)]
pub fn gini(y: &[f64]) -> Option<f64> {
    let n = y.len();
    let total: f64 = y.iter().sum();
    if n == 0 || total <= 0.0 {
        return None;
    }
    let mut s = y.to_vec();
    s.sort_by(f64::total_cmp);
    // PySAL: (Σ 2 i y_(i) − n Σy − Σy) / (n Σy), i = 1..n over the sorted values.
    let r: f64 = s
        .iter()
        .enumerate()
        .map(|(i, v)| 2.0 * (i as f64 + 1.0) * v)
        .sum();
    let nf = n as f64;
    Some((r - nf * total - total) / (nf * total))
}

/// Gini with region weights (area or population): the Gini of the population in which region
/// `i` counts `wᵢ` times, `Σᵢ Σⱼ wᵢ wⱼ |yᵢ − yⱼ| / (2 W² μ_w)` with `μ_w = Σ wᵢ yᵢ / W`.
/// With all weights 1 it equals `gini`; with integer weights, the Gini of the replicated values.
pub fn gini_weighted(y: &[f64], w: &[f64]) -> Option<f64> {
    let big_w: f64 = w.iter().sum();
    let mu = y.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / big_w;
    if y.is_empty() || big_w <= 0.0 || mu <= 0.0 {
        return None;
    }
    // Sorted cumulative form: Σᵢ Σⱼ wᵢwⱼ|yᵢ−yⱼ| = 2 Σ_k w_k y_k (W_<k − W_>k) over sorted y.
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| y[a].total_cmp(&y[b]));
    let mut below = 0.0;
    let mut acc = 0.0;
    for &k in &idx {
        let above = big_w - below - w[k];
        acc += w[k] * y[k] * (below - above);
        below += w[k];
    }
    Some(2.0 * acc / (2.0 * big_w * big_w * mu))
}

/// Theil T with weights: `Σ sᵢ ln(sᵢ / pᵢ)`, `sᵢ = wᵢyᵢ / Σ wy` (share of the total),
/// `pᵢ = wᵢ / W` (share of area or population). Unit weights give PySAL's `Theil(y).T`,
/// `Σ sᵢ ln(n sᵢ)` with `sᵢ = yᵢ / Σy`.
pub fn theil_t_weighted(y: &[f64], w: &[f64]) -> Option<f64> {
    let total: f64 = y.iter().zip(w).map(|(a, b)| a * b).sum();
    let big_w: f64 = w.iter().sum();
    if y.is_empty() || total <= 0.0 || big_w <= 0.0 {
        return None;
    }
    Some(
        y.iter()
            .zip(w)
            .map(|(yi, wi)| {
                let s = yi * wi / total;
                if s > 0.0 {
                    s * (s / (wi / big_w)).ln()
                } else {
                    0.0
                }
            })
            .sum(),
    )
}

/// Theil L (mean log deviation) with weights: `Σ pᵢ ln(pᵢ / sᵢ)`. Undefined (`None`) when any
/// region with weight has a zero value.
pub fn theil_l_weighted(y: &[f64], w: &[f64]) -> Option<f64> {
    let total: f64 = y.iter().zip(w).map(|(a, b)| a * b).sum();
    let big_w: f64 = w.iter().sum();
    if y.is_empty() || total <= 0.0 || big_w <= 0.0 {
        return None;
    }
    let mut acc = 0.0;
    for (yi, wi) in y.iter().zip(w) {
        if *wi == 0.0 {
            continue;
        }
        if *yi <= 0.0 {
            return None;
        }
        let p = wi / big_w;
        acc += p * (p / (yi * wi / total)).ln();
    }
    Some(acc)
}

/// A Theil decomposition by groups: `total = between + within`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decomposition {
    pub total: f64,
    pub between: f64,
    pub within: f64,
}

/// Theil T decomposed by `groups` (one group key per region), PySAL's `TheilD(y, groups)`
/// when weights are all 1: between `Σ_g s_g ln(s_g / p_g)` with the group's share of the total
/// `s_g` and of the weight `p_g`; within = total − between.
pub fn theil_t_decomposed(y: &[f64], w: &[f64], groups: &[usize]) -> Option<Decomposition> {
    let total = theil_t_weighted(y, w)?;
    let ytot: f64 = y.iter().zip(w).map(|(a, b)| a * b).sum();
    let wtot: f64 = w.iter().sum();
    let k = groups.iter().copied().max().map_or(0, |m| m + 1);
    let mut gy = vec![0.0; k];
    let mut gw = vec![0.0; k];
    for ((yi, wi), g) in y.iter().zip(w).zip(groups) {
        gy[*g] += yi * wi;
        gw[*g] += wi;
    }
    let between = gy
        .iter()
        .zip(&gw)
        .filter(|(_, w)| **w > 0.0)
        .map(|(yg, wg)| {
            let s = yg / ytot;
            if s > 0.0 {
                s * (s / (wg / wtot)).ln()
            } else {
                0.0
            }
        })
        .sum();
    Some(Decomposition {
        total,
        between,
        within: total - between,
    })
}

/// Coefficient of variation `σ / μ`. `sample` uses n − 1. With weights, the weighted mean and
/// variance `Σ pᵢ (yᵢ − μ_w)²` (population-weighted = Williamson's index).
pub fn cv(y: &[f64], w: &[f64], sample: bool) -> Option<f64> {
    let n = y.len();
    let big_w: f64 = w.iter().sum();
    if n < 2 || big_w <= 0.0 {
        return None;
    }
    let mu = y.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / big_w;
    if mu == 0.0 {
        return None;
    }
    let ss: f64 = y.iter().zip(w).map(|(a, b)| b * (a - mu).powi(2)).sum();
    let var = if sample {
        ss / big_w * n as f64 / (n as f64 - 1.0)
    } else {
        ss / big_w
    };
    Some(var.sqrt() / mu)
}

/// Hoover (Robin Hood) index between two distributions over the same regions:
/// `½ Σ |aᵢ/A − bᵢ/B|`, the share of `a` that would have to move to match `b`.
pub fn hoover(a: &[f64], b: &[f64]) -> Option<f64> {
    let ta: f64 = a.iter().sum();
    let tb: f64 = b.iter().sum();
    if ta <= 0.0 || tb <= 0.0 {
        return None;
    }
    Some(
        0.5 * a
            .iter()
            .zip(b)
            .map(|(x, z)| (x / ta - z / tb).abs())
            .sum::<f64>(),
    )
}

/// Lorenz curve of `y` weighted by `w`: points (cumulative weight share, cumulative value
/// share) from (0, 0) to (1, 1), regions sorted by `y` ascending (ties by index).
pub fn lorenz(y: &[f64], w: &[f64]) -> Vec<(f64, f64)> {
    let big_w: f64 = w.iter().sum();
    let total: f64 = y.iter().zip(w).map(|(a, b)| a * b).sum();
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| y[a].total_cmp(&y[b]).then(a.cmp(&b)));
    let mut pts = vec![(0.0, 0.0)];
    if big_w <= 0.0 || total <= 0.0 {
        return pts;
    }
    let (mut cw, mut cy) = (0.0, 0.0);
    for i in idx {
        cw += w[i];
        cy += y[i] * w[i];
        pts.push((cw / big_w, cy / total));
    }
    pts
}

/// Share of the total held by the top `fraction` of the weight (e.g. 0.1 = richest 10 % of the
/// regions, or of the area), interpolating linearly inside the region that straddles the cut.
pub fn top_share(y: &[f64], w: &[f64], fraction: f64) -> Option<f64> {
    let pts = lorenz(y, w);
    if pts.len() < 2 {
        return None;
    }
    Some(1.0 - lorenz_at(&pts, 1.0 - fraction))
}

/// Palma ratio: share of the top 10 % over the share of the bottom 40 %. `None` when the bottom
/// 40 % hold nothing.
pub fn palma(y: &[f64], w: &[f64]) -> Option<f64> {
    let pts = lorenz(y, w);
    if pts.len() < 2 {
        return None;
    }
    let bottom = lorenz_at(&pts, 0.4);
    let top = 1.0 - lorenz_at(&pts, 0.9);
    (bottom > 0.0).then(|| top / bottom)
}

fn lorenz_at(pts: &[(f64, f64)], x: f64) -> f64 {
    for w in pts.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if x <= x1 {
            return if x1 > x0 {
                y0 + (y1 - y0) * (x - x0) / (x1 - x0)
            } else {
                y1
            };
        }
    }
    1.0
}

/// Atkinson index with inequality aversion `epsilon`, PySAL's `Atkinson(y, ε).A` when
/// unweighted: `1 − (mean of yᵢ^(1−ε))^(1/(1−ε)) / μ`, and `1 − exp(mean ln yᵢ) / μ` at ε = 1.
/// `None` for ε ≥ 1 when a value is zero (the index is undefined there).
pub fn atkinson(y: &[f64], w: &[f64], epsilon: f64) -> Option<f64> {
    let big_w: f64 = w.iter().sum();
    if y.is_empty() || big_w <= 0.0 {
        return None;
    }
    let mu = y.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / big_w;
    if mu <= 0.0 {
        return None;
    }
    if epsilon >= 1.0 && y.iter().zip(w).any(|(a, b)| *b > 0.0 && *a <= 0.0) {
        return None;
    }
    let ede = if (epsilon - 1.0).abs() < 1e-12 {
        (y.iter().zip(w).map(|(a, b)| b * a.ln()).sum::<f64>() / big_w).exp()
    } else {
        let e = 1.0 - epsilon;
        (y.iter().zip(w).map(|(a, b)| b * a.powf(e)).sum::<f64>() / big_w).powf(1.0 / e)
    };
    Some(1.0 - ede / mu)
}

/// Ranks 1..n, ties sharing their average rank (scipy's `rankdata(method="average")`).
pub fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = avg;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman's rank correlation (scipy's `spearmanr`: Pearson correlation of average ranks).
/// `None` when either variable is constant.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    let (rx, ry) = (average_ranks(x), average_ranks(y));
    let n = rx.len() as f64;
    if n < 2.0 {
        return None;
    }
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = rx.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = ry.iter().map(|b| (b - my).powi(2)).sum();
    (vx > 0.0 && vy > 0.0).then(|| cov / (vx * vy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-12;

    #[test]
    fn gini_of_equal_amounts_is_zero_and_of_one_holder_is_n_minus_1_over_n() {
        assert!(gini(&[5.0, 5.0, 5.0, 5.0]).unwrap().abs() < EPS);
        assert!((gini(&[0.0, 0.0, 0.0, 8.0]).unwrap() - 0.75).abs() < EPS);
        assert!(
            (gini(&[0.0; 9].iter().copied().chain([1.0]).collect::<Vec<_>>()).unwrap() - 0.9).abs()
                < EPS
        );
        // By hand: y = 1, 2, 3: Σ|yi−yj| over ordered pairs = 8, 2 n² μ = 2·9·2 = 36 → 2/9.
        assert!((gini(&[3.0, 1.0, 2.0]).unwrap() - 2.0 / 9.0).abs() < EPS);
    }

    #[test]
    fn weighted_gini_equals_the_gini_of_replicated_regions() {
        let w = gini_weighted(&[1.0, 4.0, 2.0], &[2.0, 1.0, 3.0]).unwrap();
        let replicated = gini(&[1.0, 1.0, 4.0, 2.0, 2.0, 2.0]).unwrap();
        assert!((w - replicated).abs() < EPS, "{w} {replicated}");
        assert!((gini_weighted(&[3.0, 1.0, 2.0], &[1.0; 3]).unwrap() - 2.0 / 9.0).abs() < EPS);
    }

    #[test]
    fn theil_bounds_and_decomposition_add_up() {
        assert!(theil_t_weighted(&[2.0, 2.0, 2.0], &[1.0; 3]).unwrap().abs() < EPS);
        // One of n holds all: T = ln n.
        assert!(
            (theil_t_weighted(&[0.0, 0.0, 0.0, 7.0], &[1.0; 4]).unwrap() - 4f64.ln()).abs() < EPS
        );
        let y = [1.0, 2.0, 3.0, 10.0, 0.0, 4.0];
        let w = [1.0; 6];
        let d = theil_t_decomposed(&y, &w, &[0, 0, 1, 1, 2, 2]).unwrap();
        assert!((d.between + d.within - d.total).abs() < EPS);
        // Between by hand: totals 3, 13, 4 of 20; each group 2 of 6 regions.
        let between: f64 = [3.0, 13.0, 4.0]
            .iter()
            .map(|g: &f64| (g / 20.0) * ((g / 20.0) / (2.0 / 6.0)).ln())
            .sum();
        assert!((d.between - between).abs() < EPS);
        // Groups of one region each: everything is between.
        let d1 = theil_t_decomposed(&y, &w, &[0, 1, 2, 3, 4, 5]).unwrap();
        assert!(d1.within.abs() < EPS);
    }

    #[test]
    fn theil_l_and_atkinson_are_undefined_with_a_zero_value() {
        assert_eq!(theil_l_weighted(&[0.0, 1.0], &[1.0, 1.0]), None);
        assert_eq!(atkinson(&[0.0, 1.0], &[1.0, 1.0], 1.0), None);
        assert!(atkinson(&[0.0, 1.0], &[1.0, 1.0], 0.5).is_some());
        // By hand: y = 1, 4; ε = 1: 1 − √4 / 2.5 = 0.2; ε = 2: 1 − (mean of 1/y)^(-1)/μ = 1 − 1.6/2.5.
        assert!((atkinson(&[1.0, 4.0], &[1.0, 1.0], 1.0).unwrap() - 0.2).abs() < EPS);
        assert!((atkinson(&[1.0, 4.0], &[1.0, 1.0], 2.0).unwrap() - (1.0 - 1.6 / 2.5)).abs() < EPS);
        // MLD of 1, 4: mean ln(μ/y) = (ln 2.5 + ln 0.625) / 2.
        let l = theil_l_weighted(&[1.0, 4.0], &[1.0, 1.0]).unwrap();
        assert!((l - (2.5f64.ln() + 0.625f64.ln()) / 2.0).abs() < EPS);
    }

    #[test]
    fn spearman_by_hand_with_ties() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 10.0, 30.0]),
            vec![1.5, 3.0, 1.5, 4.0]
        );
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]).unwrap() - 1.0).abs() < EPS);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < EPS);
        assert_eq!(spearman(&[1.0, 1.0], &[1.0, 2.0]), None);
        // ranks x = 1, 2, 3, 4; y = 1.5, 1.5, 4, 3: Σ dxdy = 3.5, Σdx² = 5, Σdy² = 4.5.
        let r = spearman(&[1.0, 2.0, 3.0, 4.0], &[5.0, 5.0, 9.0, 7.0]).unwrap();
        assert!((r - 3.5 / (5.0f64 * 4.5).sqrt()).abs() < EPS);
    }

    #[test]
    fn cv_hoover_palma_and_shares_by_hand() {
        // y = 2, 4: μ 3, population σ 1, sample σ √2.
        assert!((cv(&[2.0, 4.0], &[1.0, 1.0], false).unwrap() - 1.0 / 3.0).abs() < EPS);
        assert!((cv(&[2.0, 4.0], &[1.0, 1.0], true).unwrap() - 2f64.sqrt() / 3.0).abs() < EPS);
        // Money all in region 1, area equal: half must move.
        assert!((hoover(&[10.0, 0.0], &[1.0, 1.0]).unwrap() - 0.5).abs() < EPS);
        // Ten equal regions: top 10 % hold 10 %, bottom 40 % hold 40 %.
        let y = [1.0; 10];
        let w = [1.0; 10];
        assert!((top_share(&y, &w, 0.1).unwrap() - 0.1).abs() < EPS);
        assert!((palma(&y, &w).unwrap() - 0.25).abs() < EPS);
        let pts = lorenz(&[3.0, 1.0], &[1.0, 1.0]);
        assert_eq!(pts, vec![(0.0, 0.0), (0.5, 0.25), (1.0, 1.0)]);
    }
}
