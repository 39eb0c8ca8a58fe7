//! How much history the periodic compactor keeps.
//!
//! A compaction target is the newest revision that is both older than `min_age` and at least
//! `min_revisions` behind the head, so history is kept for whichever bound is longer. The pure
//! part ([`Retention::target`]) works on samples of `(time, revision)` taken by the engine.

use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// History kept by periodic compaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Keep at least this much time of history.
    pub min_age: Duration,
    /// Keep at least this many revisions of history.
    pub min_revisions: i64,
    /// How often to compact.
    pub interval: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            min_age: Duration::from_secs(300),
            min_revisions: 10_000,
            interval: Duration::from_secs(60),
        }
    }
}

/// Revision samples over time, for [`Retention::target`].
#[derive(Debug, Default)]
pub(crate) struct RevisionSamples {
    samples: VecDeque<(Instant, i64)>,
}

impl RevisionSamples {
    /// Records the head revision at `now` and forgets samples older than `keep`
    /// (always keeping the newest sample that is older than `keep`).
    pub(crate) fn record(&mut self, now: Instant, revision: i64, keep: Duration) {
        self.samples.push_back((now, revision));
        while self.samples.len() > 1 {
            let second = self.samples[1].0;
            if now.duration_since(second) >= keep {
                self.samples.pop_front();
            } else {
                break;
            }
        }
    }

    /// Newest recorded revision that is at least `age` old at `now`.
    fn revision_older_than(&self, now: Instant, age: Duration) -> Option<i64> {
        self.samples
            .iter()
            .rev()
            .find(|(t, _)| now.duration_since(*t) >= age)
            .map(|(_, r)| *r)
    }
}

impl Retention {
    /// The revision to compact to, if any, given the head, the current compaction point and the
    /// samples.
    pub(crate) fn target(
        &self,
        now: Instant,
        head: i64,
        compacted: i64,
        samples: &RevisionSamples,
    ) -> Option<i64> {
        let by_count = head - self.min_revisions;
        let by_age = samples.revision_older_than(now, self.min_age)?;
        let target = by_count.min(by_age);
        (target > compacted).then_some(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn target_keeps_the_longer_of_age_and_count() {
        let policy = Retention {
            min_age: Duration::from_secs(300),
            min_revisions: 100,
            interval: Duration::from_secs(60),
        };
        let mut samples = RevisionSamples::default();
        let start = Instant::now();
        samples.record(start, 1_000, policy.min_age);
        // Nothing is old enough yet.
        assert_eq!(policy.target(start, 5_000, 0, &samples), None);

        tokio::time::advance(Duration::from_secs(301)).await;
        let now = Instant::now();
        samples.record(now, 5_000, policy.min_age);
        // Age allows 1,000, count allows 4,900: keep the longer history.
        assert_eq!(policy.target(now, 5_000, 0, &samples), Some(1_000));
        // Already compacted there: nothing to do.
        assert_eq!(policy.target(now, 5_000, 1_000, &samples), None);
        // Few revisions: the count bound wins.
        assert_eq!(policy.target(now, 1_050, 0, &samples), Some(950));
    }

    #[tokio::test(start_paused = true)]
    async fn old_samples_are_forgotten_but_one_older_than_the_window_stays() {
        let keep = Duration::from_secs(10);
        let mut samples = RevisionSamples::default();
        for i in 0..100 {
            samples.record(Instant::now(), i, keep);
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        assert!(samples.samples.len() <= 12, "{}", samples.samples.len());
        let now = Instant::now();
        assert_eq!(samples.revision_older_than(now, keep), Some(90));
    }
}
