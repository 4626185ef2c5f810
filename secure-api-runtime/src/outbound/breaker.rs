//! A circuit breaker per upstream host: after `threshold` failures in a
//! row, calls to the host are refused for `cooldown`; then one call is let
//! through, and its outcome closes or reopens the circuit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::OutboundError;

/// Hosts tracked at most; the oldest healthy ones make room.
const MAX_HOSTS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Circuit {
    failures: u32,
    open_until: Option<Instant>,
}

#[derive(Debug)]
pub(super) struct Breakers {
    threshold: u32,
    cooldown: Duration,
    circuits: Mutex<HashMap<String, Circuit>>,
}

impl Breakers {
    pub(super) fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold,
            cooldown,
            circuits: Mutex::new(HashMap::new()),
        }
    }

    /// `Err` while the host's circuit is open. Once the cooldown is over, one
    /// call is admitted (the circuit stays open for the others until it
    /// reports back).
    pub(super) fn admit(&self, host: &str) -> Result<(), OutboundError> {
        let mut circuits = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        let Some(circuit) = circuits.get_mut(host) else {
            return Ok(());
        };
        match circuit.open_until {
            Some(until) if Instant::now() < until => {
                Err(OutboundError::CircuitOpen(host.to_owned()))
            }
            Some(_) => {
                // Half-open: this call probes; the others wait out another cooldown.
                circuit.open_until = Some(Instant::now() + self.cooldown);
                Ok(())
            }
            None => Ok(()),
        }
    }

    pub(super) fn succeeded(&self, host: &str) {
        self.circuits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(host);
    }

    pub(super) fn failed(&self, host: &str) {
        let mut circuits = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        if circuits.len() >= MAX_HOSTS && !circuits.contains_key(host) {
            circuits.retain(|_, c| c.open_until.is_some());
        }
        let circuit = circuits.entry(host.to_owned()).or_insert(Circuit {
            failures: 0,
            open_until: None,
        });
        circuit.failures = circuit.failures.saturating_add(1);
        if circuit.failures >= self.threshold {
            circuit.open_until = Some(Instant::now() + self.cooldown);
            tracing::warn!(target: "secure_api::outbound", host, "circuit opened after repeated failures");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_probes_after_the_cooldown() {
        let breakers = Breakers::new(3, Duration::from_millis(30));
        for _ in 0..2 {
            breakers.failed("a.test");
        }
        assert!(breakers.admit("a.test").is_ok());
        breakers.failed("a.test");
        assert_eq!(
            breakers.admit("a.test"),
            Err(OutboundError::CircuitOpen("a.test".to_owned()))
        );
        assert!(breakers.admit("b.test").is_ok());
        std::thread::sleep(Duration::from_millis(40));
        assert!(breakers.admit("a.test").is_ok(), "one probe");
        assert!(breakers.admit("a.test").is_err(), "only one");
        breakers.succeeded("a.test");
        assert!(breakers.admit("a.test").is_ok());
    }
}
