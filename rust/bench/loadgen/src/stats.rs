use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The longest latency recorded as itself; longer ones are recorded as this.
const LONGEST_NANOS: u64 = 60_000_000_000;

/// What one worker saw: the latencies of the calls measured, and every error.
#[derive(Debug, Clone)]
pub struct Tally {
    latencies: Histogram<u64>,
    warmup_calls: u64,
    errors: BTreeMap<String, u64>,
    warmup_errors: BTreeMap<String, u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Self::new()
    }
}

impl Tally {
    /// An empty tally: nanoseconds from 1 ns to a minute, 3 significant digits.
    #[must_use]
    pub fn new() -> Self {
        Self {
            latencies: Histogram::new_with_bounds(1, LONGEST_NANOS, 3)
                .expect("the bounds are valid"),
            warmup_calls: 0,
            errors: BTreeMap::new(),
            warmup_errors: BTreeMap::new(),
        }
    }

    /// A call answered within the measured window: its latency, or why it failed.
    pub fn measured(&mut self, outcome: Result<Duration, String>) {
        match outcome {
            Ok(latency) => {
                let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
                self.latencies.saturating_record(nanos.max(1));
            }
            Err(kind) => *self.errors.entry(kind).or_default() += 1,
        }
    }

    /// A call answered during the warm-up: not timed, but an error still counts.
    pub fn warmup(&mut self, outcome: Result<Duration, String>) {
        self.warmup_calls += 1;
        if let Err(kind) = outcome {
            *self.warmup_errors.entry(kind).or_default() += 1;
        }
    }

    /// Adds another worker's tally to this one.
    pub fn merge(&mut self, other: &Self) {
        self.latencies
            .add(&other.latencies)
            .expect("every tally has the same bounds");
        self.warmup_calls += other.warmup_calls;
        for (kind, count) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += count;
        }
        for (kind, count) in &other.warmup_errors {
            *self.warmup_errors.entry(kind.clone()).or_default() += count;
        }
    }

    /// Successful calls in the measured window.
    #[must_use]
    pub fn calls(&self) -> u64 {
        self.latencies.len()
    }

    /// Calls of the warm-up, successful or not.
    #[must_use]
    pub fn warmup_calls(&self) -> u64 {
        self.warmup_calls
    }

    /// Failed calls in the measured window, by kind.
    #[must_use]
    pub fn errors(&self) -> &BTreeMap<String, u64> {
        &self.errors
    }

    /// Failed calls of the warm-up, by kind.
    #[must_use]
    pub fn warmup_errors(&self) -> &BTreeMap<String, u64> {
        &self.warmup_errors
    }

    /// The latency percentiles of the successful calls measured.
    #[must_use]
    pub fn latency(&self) -> Latency {
        Latency::of(&self.latencies)
    }
}

/// Latency percentiles, in microseconds (zero when nothing was measured).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// The slowest call.
    pub max_us: f64,
    /// The mean.
    pub mean_us: f64,
}

impl Latency {
    fn of(histogram: &Histogram<u64>) -> Self {
        #[allow(clippy::cast_precision_loss, reason = "nanoseconds far below 2^52")]
        let micros = |nanos: u64| nanos as f64 / 1000.0;
        if histogram.is_empty() {
            return Self {
                p50_us: 0.0,
                p90_us: 0.0,
                p99_us: 0.0,
                p999_us: 0.0,
                max_us: 0.0,
                mean_us: 0.0,
            };
        }
        Self {
            p50_us: micros(histogram.value_at_quantile(0.50)),
            p90_us: micros(histogram.value_at_quantile(0.90)),
            p99_us: micros(histogram.value_at_quantile(0.99)),
            p999_us: micros(histogram.value_at_quantile(0.999)),
            max_us: micros(histogram.max()),
            mean_us: histogram.mean() / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(us: u64) -> Duration {
        Duration::from_micros(us)
    }

    #[test]
    fn percentiles_come_from_the_measured_calls() {
        let mut tally = Tally::new();
        for us in 1..=100 {
            tally.measured(Ok(micros(us)));
        }
        let latency = tally.latency();
        assert_eq!(tally.calls(), 100);
        // Three significant digits: within 0.1 % of the exact figure.
        for (got, want) in [
            (latency.p50_us, 50.0),
            (latency.p90_us, 90.0),
            (latency.p99_us, 99.0),
            (latency.max_us, 100.0),
            (latency.mean_us, 50.5),
        ] {
            assert!((got - want).abs() <= want * 0.001, "{got} != {want}");
        }
    }

    #[test]
    fn errors_are_counted_by_kind_and_not_timed() {
        let mut tally = Tally::new();
        tally.measured(Ok(micros(10)));
        tally.measured(Err("Unavailable".into()));
        tally.measured(Err("Unavailable".into()));
        tally.measured(Err("empty answer".into()));
        assert_eq!(tally.calls(), 1);
        assert_eq!(
            tally.errors(),
            &BTreeMap::from([("Unavailable".into(), 2), ("empty answer".into(), 1)])
        );
    }

    #[test]
    fn warmup_calls_are_not_timed_but_their_errors_count() {
        let mut tally = Tally::new();
        tally.warmup(Ok(micros(10)));
        tally.warmup(Err("Internal".into()));
        assert_eq!((tally.calls(), tally.warmup_calls()), (0, 2));
        assert_eq!(
            tally.warmup_errors(),
            &BTreeMap::from([("Internal".into(), 1)])
        );
        assert!(tally.errors().is_empty());
    }

    #[test]
    fn tallies_of_workers_add_up() {
        let (mut first, mut second) = (Tally::new(), Tally::new());
        first.measured(Ok(micros(10)));
        first.measured(Err("Unavailable".into()));
        second.measured(Ok(micros(30)));
        second.measured(Err("Unavailable".into()));
        second.warmup(Ok(micros(1)));
        first.merge(&second);
        assert_eq!(first.calls(), 2);
        assert_eq!(first.warmup_calls(), 1);
        assert_eq!(first.errors()["Unavailable"], 2);
        assert!((first.latency().max_us - 30.0).abs() < 0.1);
    }

    #[test]
    fn nothing_measured_is_all_zeros() {
        assert!(Tally::new().latency().p99_us.abs() < f64::EPSILON);
    }
}
