//! Legend classes: quantiles, equal interval and exact Fisher–Jenks natural breaks, with the
//! conventions of PySAL's `mapclassify` (bins are upper bounds; a value belongs to the first
//! bin it does not exceed), so the same data give the same classes every night.

use rayon::prelude::*;

/// Class upper bounds.
pub type Bins = Vec<f64>;

/// The class (0-based) of each value: the first bin whose upper bound is ≥ the value.
pub fn classes(y: &[f64], bins: &[f64]) -> Vec<u32> {
    y.iter()
        .map(|v| {
            bins.partition_point(|b| b < v)
                .min(bins.len().saturating_sub(1)) as u32
        })
        .collect()
}

/// mapclassify `Quantiles(y, k)`: the `100·i/k` percentiles (linear interpolation, as numpy),
/// duplicates removed.
pub fn quantiles(y: &[f64], k: usize) -> Bins {
    let mut s = y.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() || k == 0 {
        return Vec::new();
    }
    let mut bins: Vec<f64> = (1..=k)
        .map(|i| {
            let pos = (s.len() - 1) as f64 * i as f64 / k as f64;
            let lo = pos.floor() as usize;
            let hi = pos.ceil() as usize;
            s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
        })
        .collect();
    bins.dedup();
    bins
}

/// mapclassify `EqualInterval(y, k)`: `k` bins of equal width from min to max (the last bin is
/// the max itself).
pub fn equal_interval(y: &[f64], k: usize) -> Bins {
    let (min, max) = y
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    if y.is_empty() || k == 0 {
        return Vec::new();
    }
    let width = (max - min) / k as f64;
    let mut bins: Vec<f64> = (1..k).map(|i| min + width * i as f64).collect();
    bins.push(max);
    bins
}

/// Exact Fisher–Jenks natural breaks: the partition of the sorted values into `k` contiguous
/// classes that minimises the total within-class sum of squared deviations (dynamic
/// programming, O(k·n²)). Ties between equally good partitions go to the smallest break index,
/// so the result is deterministic. Bins are the maximum of each class.
pub fn fisher_jenks(y: &[f64], k: usize) -> Bins {
    let mut s = y.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 || k == 0 {
        return Vec::new();
    }
    let k = k.min(n);
    // Prefix sums for O(1) within-class sum of squares of s[i..j].
    let mut p1 = vec![0.0; n + 1];
    let mut p2 = vec![0.0; n + 1];
    for (i, v) in s.iter().enumerate() {
        p1[i + 1] = p1[i] + v;
        p2[i + 1] = p2[i] + v * v;
    }
    let ssd = |i: usize, j: usize| {
        let m = (j - i) as f64;
        let sum = p1[j] - p1[i];
        (p2[j] - p2[i] - sum * sum / m).max(0.0)
    };
    // cost[c][j]: best cost of splitting s[..j] into c+1 classes; back[c][j]: start of last class.
    let mut cost = vec![vec![f64::INFINITY; n + 1]; k];
    let mut back = vec![vec![0usize; n + 1]; k];
    for (j, c0) in cost[0].iter_mut().enumerate().skip(1) {
        *c0 = ssd(0, j);
    }
    for c in 1..k {
        // Each end j is independent given the previous class row: computed in parallel, each
        // exactly as a sequential loop would. The last class only needs j = n.
        let first = if c == k - 1 { n } else { c + 1 };
        let prev = &cost[c - 1];
        let row: Vec<(f64, usize)> = (first..n + 1)
            .into_par_iter()
            .with_min_len(64)
            .map(|j| {
                let mut best = f64::INFINITY;
                let mut arg = c;
                for (i, p) in prev.iter().enumerate().take(j).skip(c) {
                    let v = p + ssd(i, j);
                    if v < best {
                        best = v;
                        arg = i;
                    }
                }
                (best, arg)
            })
            .collect();
        for (j, (best, arg)) in (first..n + 1).zip(row) {
            cost[c][j] = best;
            back[c][j] = arg;
        }
    }
    let mut ends = vec![n];
    let mut j = n;
    for c in (1..k).rev() {
        j = back[c][j];
        ends.push(j);
    }
    ends.reverse();
    let mut bins: Vec<f64> = ends.iter().map(|&e| s[e - 1]).collect();
    bins.dedup();
    bins
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fisher_jenks_finds_the_obvious_groups() {
        let y = [1.0, 2.0, 1.5, 10.0, 11.0, 10.5, 50.0, 52.0];
        assert_eq!(fisher_jenks(&y, 3), vec![2.0, 11.0, 52.0]);
        assert_eq!(
            classes(&y, &fisher_jenks(&y, 3)),
            vec![0, 0, 0, 1, 1, 1, 2, 2]
        );
    }

    #[test]
    fn fisher_jenks_is_optimal_against_brute_force() {
        let y = [3.0, 7.0, 1.0, 9.0, 4.0, 12.0, 2.0, 8.0];
        let mut s = y.to_vec();
        s.sort_by(f64::total_cmp);
        let ssd = |c: &[f64]| {
            let m = c.iter().sum::<f64>() / c.len() as f64;
            c.iter().map(|v| (v - m).powi(2)).sum::<f64>()
        };
        let mut best = f64::INFINITY;
        for a in 1..s.len() {
            for b in a + 1..s.len() {
                best = best.min(ssd(&s[..a]) + ssd(&s[a..b]) + ssd(&s[b..]));
            }
        }
        let bins = fisher_jenks(&y, 3);
        let cls = classes(&s, &bins);
        let got: f64 = (0..3)
            .map(|c| {
                let part: Vec<f64> = s
                    .iter()
                    .zip(&cls)
                    .filter(|(_, k)| **k == c)
                    .map(|(v, _)| *v)
                    .collect();
                ssd(&part)
            })
            .sum();
        assert!((got - best).abs() < 1e-9, "{got} vs {best}");
    }

    #[test]
    fn quantiles_and_equal_intervals_follow_mapclassify() {
        // numpy.percentile([1..=10], [20, 40, 60, 80, 100]) = 2.8, 4.6, 6.4, 8.2, 10.
        let y: Vec<f64> = (1..=10).map(f64::from).collect();
        let q = quantiles(&y, 5);
        for (a, b) in q.iter().zip([2.8, 4.6, 6.4, 8.2, 10.0]) {
            assert!((a - b).abs() < 1e-12);
        }
        assert_eq!(equal_interval(&y, 3), vec![4.0, 7.0, 10.0]);
        assert_eq!(
            classes(&[1.0, 4.0, 4.5, 10.0], &[4.0, 7.0, 10.0]),
            vec![0, 0, 1, 2]
        );
    }
}
