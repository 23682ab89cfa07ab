#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The binomial distribution, exactly: what funnel limits need where the normal approximation fails (EHC-plan
/// rates of 1-5% in schools of a few hundred pupils).
public enum Binomial {
    /// log P(X = k) for X ~ Binomial(n, p): lgamma(n+1) − lgamma(k+1) − lgamma(n−k+1) + k·log p + (n−k)·log(1−p).
    public static func logPMF(_ k: Int, n: Int, p: Double) -> Double {
        guard n >= 0, (0...n).contains(k) else { return -.infinity }
        if p <= 0 { return k == 0 ? 0 : -.infinity }
        if p >= 1 { return k == n ? 0 : -.infinity }
        let (n, kd) = (Double(n), Double(k))
        return lgamma(n + 1) - lgamma(kd + 1) - lgamma(n - kd + 1) + kd * log(p) + (n - kd) * log1p(-p)
    }

    public static func pmf(_ k: Int, n: Int, p: Double) -> Double { exp(logPMF(k, n: n, p: p)) }

    /// P(X ≤ k) = I_{1−p}(n − k, k + 1), the regularised incomplete beta function (Abramowitz and Stegun 26.5.24).
    public static func cdf(_ k: Int, n: Int, p: Double) -> Double {
        if k < 0 { return 0 }
        if k >= n { return 1 }
        if p <= 0 { return 1 }
        if p >= 1 { return 0 }
        return regularisedBeta(x: 1 - p, a: Double(n - k), b: Double(k + 1))
    }

    /// The q-quantile: the smallest r with P(X ≤ r) ≥ q (as R's qbinom and scipy's binom.ppf), found from the
    /// normal approximation and stepped to the exact value.
    public static func quantile(_ q: Double, n: Int, p: Double) -> Int {
        guard n > 0, p > 0 else { return 0 }
        guard p < 1 else { return n }
        let mean = Double(n) * p
        let sd = (mean * (1 - p)).squareRoot()
        var r = min(max(0, Int((mean + normalQuantile(q) * sd).rounded())), n)
        // Step down while the one below still reaches q, then up until r does.
        while r > 0, cdf(r - 1, n: n, p: p) >= q { r -= 1 }
        while r < n, cdf(r, n: n, p: p) < q { r += 1 }
        return r
    }

    /// Spiegelhalter's interpolated exact limit (Statistics in Medicine 2005, 24:1185, appendix A.1.1): with r_q
    /// the q-quantile of Binomial(n, p0) and α = (P(R ≤ r_q) − q) / P(R = r_q), the limit on the proportion is
    /// (r_q − α) / n, clipped to [0, 1]. It moves smoothly with n where the raw quantile would step.
    public static func spiegelhalterLimit(_ q: Double, n: Int, target p0: Double) -> Double {
        guard n > 0 else { return q < 0.5 ? 0 : 1 }
        let r = quantile(q, n: n, p: p0)
        let below = cdf(r - 1, n: n, p: p0)
        let at = cdf(r, n: n, p: p0)
        let alpha = at - below > 0 ? (at - q) / (at - below) : 0
        return min(1, max(0, (Double(r) - alpha) / Double(n)))
    }

    /// `spiegelhalterLimit` for several probabilities at once, in ascending order. The densities are built outward
    /// from the mode by their ratio P(R = r + 1) / P(R = r) = (n − r)/(r + 1) · p/(1 − p) until they fall below
    /// 1e-18 of the mode's (about nine standard deviations each way), summed from the lower end, and read for every
    /// probability: one log-gamma density and a few hundred multiplications for all four funnel limits, where
    /// separate searches by the incomplete beta function took about 16 µs a school.
    public static func spiegelhalterLimits(_ probabilities: [Double], n: Int, target p0: Double) -> [Double] {
        guard n > 0, p0 > 0, p0 < 1, !probabilities.isEmpty else {
            return probabilities.map { spiegelhalterLimit($0, n: n, target: p0) }
        }
        let odds = p0 / (1 - p0)
        let mode = min(n, Int((Double(n + 1) * p0).rounded(.down)))
        let peak = pmf(mode, n: n, p: p0)
        guard peak > 0, peak.isFinite else { return probabilities.map { spiegelhalterLimit($0, n: n, target: p0) } }
        return DensityWalk.quantiles(
            probabilities, mode: mode, peak: peak, highest: n,
            down: { r in Double(r) / Double(n - r + 1) / odds }, up: { r in Double(n - r) / Double(r + 1) * odds },
            limit: { min(1, max(0, $0 / Double(n))) })
    }

    /// Acklam's rational approximation to the standard normal quantile, refined by one Halley step on erfc:
    /// relative error below 1e-15 on (0, 1).
    public static func normalQuantile(_ q: Double) -> Double {
        guard q > 0, q < 1 else { return q <= 0 ? -.infinity : .infinity }
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if q < low {
            let t = (-2 * log(q)).squareRoot()
            x = (((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t + c[5]) / ((((d[0] * t + d[1]) * t + d[2]) * t + d[3]) * t + 1)
        } else if q <= 1 - low {
            let s = q - 0.5
            let t = s * s
            x = (((((a[0] * t + a[1]) * t + a[2]) * t + a[3]) * t + a[4]) * t + a[5]) * s / (((((b[0] * t + b[1]) * t + b[2]) * t + b[3]) * t + b[4]) * t + 1)
        } else {
            let t = (-2 * log(1 - q)).squareRoot()
            x = -(((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t + c[5]) / ((((d[0] * t + d[1]) * t + d[2]) * t + d[3]) * t + 1)
        }
        let e = 0.5 * erfc(-x / 2.0.squareRoot()) - q
        let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        return x - u / (1 + x * u / 2)
    }

    /// I_x(a, b) by the continued fraction of Numerical Recipes (betacf, modified Lentz), using the symmetry
    /// I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges faster.
    static func regularisedBeta(x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logFront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x)
        if x < (a + 1) / (a + b + 2) {
            return exp(logFront) * continuedFraction(x: x, a: a, b: b) / a
        }
        return 1 - exp(logFront) * continuedFraction(x: 1 - x, a: b, b: a) / b
    }

    static func continuedFraction(x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...10_000 {
            let m = Double(m)
            let m2 = 2 * m
            var aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        return h
    }
}

/// Spiegelhalter's interpolated quantiles of a discrete distribution for several probabilities at once (ascending),
/// from its mode and its density there: the densities are built outward by their ratio to the neighbour until they
/// fall below 1e-18 of the mode's, summed from the lower end, and read for every probability as r − α with
/// α = (P(X ≤ r) − q) / P(X = r). The binomial and Poisson funnel limits are this walk with their own ratios.
enum DensityWalk {
    /// `down(r)` = P(X = r − 1) / P(X = r); `up(r)` = P(X = r + 1) / P(X = r); `highest` the largest value X takes;
    /// `limit` turns the interpolated quantile into the limit returned (a proportion, a clipped count).
    @inline(__always)
    static func quantiles(
        _ probabilities: [Double], mode: Int, peak: Double, highest: Int, down: (Int) -> Double, up: (Int) -> Double,
        limit: (Double) -> Double
    ) -> [Double] {
        // P(X ≤ mode): the densities below the mode, until they are negligible.
        var belowMode = 0.0
        var density = peak
        var r = mode
        while r > 0 {
            density *= down(r)
            r -= 1
            if density < peak * 1e-18 { break }
            belowMode += density
        }
        // Then walk from the mode to each probability's quantile r: P(X ≤ r) ≥ q > P(X ≤ r − 1).
        var cumulative = belowMode + peak
        density = peak
        r = mode
        var limits: [Double] = []
        limits.reserveCapacity(probabilities.count)
        for q in probabilities {
            while r > 0, cumulative - density >= q {
                cumulative -= density
                density *= down(r)
                r -= 1
            }
            while r < highest, cumulative < q {
                density *= up(r)
                r += 1
                cumulative += density
                if density == 0 { break }
            }
            let alpha = density > 0 ? (min(cumulative, 1) - q) / density : 0
            limits.append(limit(Double(r) - alpha))
        }
        return limits
    }
}
