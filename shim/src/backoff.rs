//! The one growing pause of every retry loop: a base delay, doubled after each failure up to a
//! cap, back to the base after a success.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    next: Duration,
    jitter: bool,
}

impl Backoff {
    /// Starts at `base` (a base above the cap is the cap).
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        let base = base.min(cap);
        Backoff {
            base,
            cap,
            next: base,
            jitter: false,
        }
    }

    /// Each delay becomes a random one in [d/2, d], so that clients cut off together do not
    /// come back together; the doubling itself is unchanged.
    pub fn with_jitter(mut self) -> Backoff {
        self.jitter = true;
        self
    }

    /// The delay to wait now; the following one is twice as long, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (delay * 2).min(self.cap);
        if self.jitter {
            jittered(delay)
        } else {
            delay
        }
    }

    /// After a success: the next delay is the base again.
    pub fn reset(&mut self) {
        self.next = self.base;
    }
}

fn jittered(delay: Duration) -> Duration {
    delay.mul_f64(0.5 + rand::random::<f64>() * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(backoff: &mut Backoff, count: usize) -> Vec<u64> {
        (0..count).map(|_| backoff.next_delay().as_secs()).collect()
    }

    #[test]
    fn doubles_up_to_its_cap_and_resets_after_a_success() {
        let mut backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(30));
        assert_eq!(seconds(&mut backoff, 5), [5, 10, 20, 30, 30]);
        backoff.reset();
        assert_eq!(seconds(&mut backoff, 2), [5, 10]);
    }

    #[test]
    fn a_base_above_the_cap_is_the_cap() {
        let mut backoff = Backoff::new(Duration::from_secs(600), Duration::from_secs(60));
        assert_eq!(seconds(&mut backoff, 2), [60, 60]);
    }

    #[test]
    fn jitter_stays_within_half_and_full_delay_and_keeps_the_doubling() {
        let mut backoff =
            Backoff::new(Duration::from_secs(2), Duration::from_secs(8)).with_jitter();
        for expected in [2, 4, 8, 8] {
            let full = Duration::from_secs(expected);
            let delay = backoff.next_delay();
            assert!(delay >= full / 2 && delay <= full, "{delay:?} for {full:?}");
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_secs(2));
    }
}
