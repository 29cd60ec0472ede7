//! The statistics the detection needs: medians, the MAD, Poisson tail probabilities and the
//! normal quantile that turns them into z-scores. No crate offers these small pieces
//! without a large dependency.

/// 1.4826 × MAD estimates the standard deviation of normal data.
const MAD_TO_SD: f64 = 1.4826;

/// The middle value (the mean of the two middle ones for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    // Selected, not sorted: the same values as a sort finds, in linear time (a duration
    // series' spread takes two medians of up to 430,000 values).
    let mut v = values.to_vec();
    let n = v.len();
    if n == 0 {
        return None;
    }
    let (below, &mut upper, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = below.iter().copied().max_by(f64::total_cmp)?;
    Some((lower + upper) / 2.0)
}

/// 1.4826 × the median absolute deviation: a standard deviation that outliers do not move.
pub fn spread(values: &[f64]) -> f64 {
    let Some(m) = median(values) else { return 0.0 };
    let deviations: Vec<f64> = values.iter().map(|x| (x - m).abs()).collect();
    MAD_TO_SD * median(&deviations).unwrap_or(0.0)
}

/// How surprising the count `k` is for a Poisson mean `mean`, as a signed z-score: the
/// normal quantile of P(X ≥ k) above the mean, of P(X ≤ k) below it.
pub fn poisson_z(k: f64, mean: f64) -> f64 {
    let k = k.max(0.0).round();
    if mean <= 0.0 {
        // Nothing ever happens: any event is as surprising as the scale allows.
        return if k > 0.0 { MAX_Z } else { 0.0 };
    }
    if k >= mean {
        // P(X ≥ k) = P(k, mean), the regularized lower incomplete gamma function.
        let p = if k == 0.0 { 1.0 } else { gamma_p(k, mean) };
        upper_z(p).max(0.0)
    } else {
        // P(X ≤ k) = Q(k + 1, mean).
        -upper_z(gamma_q(k + 1.0, mean)).max(0.0)
    }
}

/// Scores stop here (a tail probability of about 1e-300).
pub const MAX_Z: f64 = 37.0;

/// z such that P(N(0,1) ≥ z) = p (Acklam's rational approximation, relative error 1e-9).
pub fn upper_z(p: f64) -> f64 {
    if p <= 1e-300 {
        return MAX_Z;
    }
    if p >= 1.0 {
        return -MAX_Z;
    }
    -normal_quantile(p)
}

fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    const LOW: f64 = 0.024_25;
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = G[1..]
        .iter()
        .enumerate()
        .fold(G[0], |s, (i, g)| s + g / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

const EPS: f64 = 1e-15;
const MAX_ITERATIONS: usize = 10_000;

/// The regularized lower incomplete gamma function P(a, x), for a > 0.
fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        0.0
    } else if x < a + 1.0 {
        gamma_series(a, x)
    } else {
        1.0 - gamma_fraction(a, x)
    }
}

/// The regularized upper incomplete gamma function Q(a, x) = 1 − P(a, x).
fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        1.0
    } else if x < a + 1.0 {
        1.0 - gamma_series(a, x)
    } else {
        gamma_fraction(a, x)
    }
}

/// P(a, x) by its series (converges fast for x < a + 1).
fn gamma_series(a: f64, x: f64) -> f64 {
    let (mut term, mut sum, mut n) = (1.0 / a, 1.0 / a, a);
    for _ in 0..MAX_ITERATIONS {
        n += 1.0;
        term *= x / n;
        sum += term;
        if term.abs() < sum.abs() * EPS {
            break;
        }
    }
    sum * (-x + a * x.ln() - ln_gamma(a)).exp()
}

/// Q(a, x) by its continued fraction (modified Lentz; converges fast for x > a + 1).
fn gamma_fraction(a: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..MAX_ITERATIONS {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < EPS {
            break;
        }
    }
    (-x + a * x.ln() - ln_gamma(a)).exp() * h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    #[test]
    fn medians_and_spreads() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        // One wild value does not move the spread.
        assert_eq!(spread(&[1.0, 2.0, 3.0, 4.0, 1000.0]), MAD_TO_SD);
    }

    #[test]
    fn selected_medians_are_the_sorted_ones() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for n in 1..200 {
            let values: Vec<f64> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 50) as f64 / 7.0 // ties included
                })
                .collect();
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let expected = match n % 2 {
                1 => sorted[n / 2],
                _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
            };
            assert_eq!(median(&values), Some(expected), "{values:?}");
        }
    }

    #[test]
    fn normal_quantiles() {
        assert!(close(upper_z(0.025), 1.959_964, 1e-6));
        assert!(close(upper_z(0.5).abs() + 1.0, 1.0, 1e-9));
        assert!(
            close(upper_z(2.326_290_790_355_25e-4), 3.5, 1e-5),
            "{}",
            upper_z(2.326e-4)
        );
        assert!(close(upper_z(1e-10), 6.361_340_9, 1e-6));
        assert_eq!(upper_z(0.0), MAX_Z);
    }

    #[test]
    fn poisson_tails_match_direct_sums() {
        let pmf =
            |k: u32, m: f64| (-m + f64::from(k) * m.ln() - ln_gamma(f64::from(k) + 1.0)).exp();
        for (k, m) in [
            (5u32, 0.36),
            (12, 4.0),
            (0, 8.0),
            (3, 20.0),
            (60, 34.0),
            (1, 0.04),
        ] {
            let upper: f64 = 1.0 - (0..k).map(|i| pmf(i, m)).sum::<f64>();
            let lower: f64 = (0..=k).map(|i| pmf(i, m)).sum();
            if k > 0 {
                assert!(close(gamma_p(f64::from(k), m), upper, 1e-9), "P({k}, {m})");
            }
            assert!(
                close(gamma_q(f64::from(k) + 1.0, m), lower, 1e-9),
                "Q({k}, {m})"
            );
        }
        // 5 failures in a week that averages 0.36: P ≈ 4e-5, about 3.9 standard deviations.
        let z = poisson_z(5.0, 0.36);
        assert!((3.8..4.1).contains(&z), "{z}");
        // One event where 0.04 are expected is no surprise worth a report.
        assert!(poisson_z(1.0, 0.04) < 2.0);
        assert!(poisson_z(0.0, 8.0) < -3.0 && poisson_z(0.0, 8.0) > -3.6);
        assert_eq!(poisson_z(3.0, 0.0), MAX_Z);
    }
}
