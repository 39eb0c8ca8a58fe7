//! Latency samples and their percentiles.

use std::time::Duration;

/// Collected latencies of one workload.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    samples: Vec<Duration>,
}

impl Latencies {
    /// Adds one sample.
    pub fn push(&mut self, d: Duration) {
        self.samples.push(d);
    }

    /// Adds all samples of another set.
    pub fn extend(&mut self, other: Latencies) {
        self.samples.extend(other.samples);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// The `p`-th percentile (0..=100) in milliseconds; 0 without samples.
    pub fn percentile_ms(&mut self, p: f64) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        self.samples.sort_unstable();
        let rank = ((p / 100.0) * self.samples.len() as f64).ceil() as usize;
        let idx = rank.clamp(1, self.samples.len()) - 1;
        self.samples[idx].as_secs_f64() * 1e3
    }
}

/// Start times of numbered operations, shared between the task doing them and the tasks
/// observing their effects.
pub struct Starts(std::sync::Mutex<Vec<Option<std::time::Instant>>>);

impl Starts {
    /// `n` empty slots.
    pub fn new(n: usize) -> Self {
        Self(std::sync::Mutex::new(vec![None; n]))
    }

    /// Records when operation `i` started.
    pub fn set(&self, i: usize, t: std::time::Instant) {
        self.0.lock().expect("poisoned")[i] = Some(t);
    }

    /// When operation `i` started, if it has.
    pub fn get(&self, i: usize) -> Option<std::time::Instant> {
        self.0.lock().expect("poisoned").get(i).copied().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut l = Latencies::default();
        for ms in 1..=100 {
            l.push(Duration::from_millis(ms));
        }
        assert_eq!(l.percentile_ms(50.0), 50.0);
        assert_eq!(l.percentile_ms(99.0), 99.0);
        assert_eq!(l.percentile_ms(100.0), 100.0);
        assert_eq!(Latencies::default().percentile_ms(99.0), 0.0);
    }
}
