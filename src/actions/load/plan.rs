//! When each request of an open-model load is due, and which request it is: pure arithmetic, so the schedule is
//! the same every run and can be tested without a clock.
//!
//! Open model: requests arrive on a timetable that does not depend on how fast the target answers (Gatling's
//! `constantUsersPerSec` / `rampUsersPerSec`). A slow answer never delays the next arrival, and each request's
//! latency is measured from its due time, not from when it was sent, so a generator that falls behind its own
//! timetable makes the latency worse, not better (no coordinated omission).

use std::time::Duration;

/// The arrival rate over the run: constant, or a straight line from one rate to another.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arrivals {
    Constant { per_second: f64 },
    Ramp { from_per_second: f64, to_per_second: f64 },
}

/// The timetable of one load: `count` arrivals within `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timetable {
    arrivals: Arrivals,
    duration: Duration,
}

impl Timetable {
    pub fn new(arrivals: Arrivals, duration: Duration) -> Self {
        Self { arrivals, duration }
    }

    /// How long arrivals last.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// How many requests arrive in the whole run: the integral of the rate over the duration, rounded down.
    pub fn count(&self) -> u64 {
        let seconds = self.duration.as_secs_f64();
        let expected = match self.arrivals {
            Arrivals::Constant { per_second } => per_second * seconds,
            Arrivals::Ramp { from_per_second, to_per_second } => (from_per_second + to_per_second) / 2.0 * seconds,
        };
        // A hair of tolerance, so that 10/s for 3 s is 30 arrivals despite binary fractions.
        (expected + 1e-9).floor() as u64
    }

    /// When arrival `index` (from 0) is due, from the start of the run: the instant the rate's integral reaches
    /// `index`, so arrival 0 is due at once.
    pub fn due(&self, index: u64) -> Duration {
        let n = index as f64;
        let seconds = match self.arrivals {
            Arrivals::Constant { per_second } => n / per_second,
            Arrivals::Ramp { from_per_second: a, to_per_second: b } => {
                // N(t) = a·t + (b − a)·t² / (2T); solve N(t) = n for t ≥ 0.
                let total = self.duration.as_secs_f64();
                let slope = (b - a) / total;
                if index == 0 {
                    0.0
                } else if slope.abs() < 1e-12 {
                    n / a
                } else {
                    // The root that is ≥ 0; written to stay accurate when a is 0.
                    2.0 * n / (a + (a * a + 2.0 * slope * n).max(0.0).sqrt())
                }
            }
        };
        Duration::from_secs_f64(seconds.clamp(0.0, self.duration.as_secs_f64()))
    }
}

/// Picks requests by weight, spread evenly (smooth weighted round robin, as nginx balances upstreams): weights 3
/// and 1 give `A A B A`, `A A B A`, …, so a short run has the mix it asked for, and every run the same.
#[derive(Debug, Clone)]
pub struct WeightedTurns {
    weights: Vec<i64>,
    current: Vec<i64>,
    total: i64,
}

impl WeightedTurns {
    /// `weights` are each at least 1 (the arguments say so).
    pub fn new(weights: &[u32]) -> Self {
        let weights: Vec<i64> = weights.iter().map(|&weight| i64::from(weight)).collect();
        Self { total: weights.iter().sum(), current: vec![0; weights.len()], weights }
    }

    /// The index of the next request.
    pub fn next_index(&mut self) -> usize {
        let mut best = 0;
        for (index, weight) in self.weights.iter().enumerate() {
            self.current[index] += weight;
            if self.current[index] > self.current[best] {
                best = index;
            }
        }
        self.current[best] -= self.total;
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(value: f64) -> Duration {
        Duration::from_secs_f64(value)
    }

    #[test]
    fn a_constant_rate_is_evenly_spaced_from_zero() {
        let table = Timetable::new(Arrivals::Constant { per_second: 4.0 }, secs(3.0));
        assert_eq!(table.count(), 12);
        assert_eq!(table.due(0), Duration::ZERO);
        assert_eq!(table.due(1), secs(0.25));
        assert_eq!(table.due(11), secs(2.75));
        assert_eq!(Timetable::new(Arrivals::Constant { per_second: 10.0 }, secs(3.0)).count(), 30);
    }

    #[test]
    fn a_ramp_arrives_ever_faster_and_ends_on_time() {
        let table = Timetable::new(Arrivals::Ramp { from_per_second: 0.0, to_per_second: 10.0 }, secs(10.0));
        // The integral: 0 → 10/s over 10 s is 50 arrivals.
        assert_eq!(table.count(), 50);
        let gaps: Vec<f64> = (1..50).map(|i| (table.due(i) - table.due(i - 1)).as_secs_f64()).collect();
        assert!(gaps.windows(2).all(|pair| pair[1] <= pair[0] + 1e-9), "gaps shrink: {gaps:?}");
        // Half the arrivals come in the last 30 % of the time: N(t) = t²/2, N = 25 at t = √50.
        assert!((table.due(25).as_secs_f64() - 50f64.sqrt()).abs() < 1e-9);
        assert!(table.due(49) <= secs(10.0));
    }

    #[test]
    fn a_ramp_down_is_the_mirror_of_a_ramp_up() {
        let down = Timetable::new(Arrivals::Ramp { from_per_second: 10.0, to_per_second: 0.0 }, secs(10.0));
        assert_eq!(down.count(), 50);
        assert!((down.due(1).as_secs_f64() - 0.1).abs() < 0.01, "it starts at 10/s: {:?}", down.due(1));
        let flat = Timetable::new(Arrivals::Ramp { from_per_second: 5.0, to_per_second: 5.0 }, secs(2.0));
        assert_eq!((flat.count(), flat.due(3)), (10, secs(0.6)));
    }

    #[test]
    fn weights_are_spread_evenly() {
        let mut turns = WeightedTurns::new(&[3, 1]);
        let picked: Vec<usize> = (0..8).map(|_| turns.next_index()).collect();
        assert_eq!(picked, [0, 0, 1, 0, 0, 0, 1, 0]);
        let mut three = WeightedTurns::new(&[1, 1, 2]);
        let mut counts = [0; 3];
        for _ in 0..400 {
            counts[three.next_index()] += 1;
        }
        assert_eq!(counts, [100, 100, 200]);
    }
}
