//! The relay's clock. Receipt times, which decide whether a report was on time, come from it,
//! so tests set it instead of waiting for real time to pass.

use std::sync::Arc;

/// Where the relay reads "now" (UTC milliseconds). The system clock by default.
#[derive(Clone)]
pub struct RelayClock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl RelayClock {
    /// The system clock.
    pub fn system() -> RelayClock {
        RelayClock(Arc::new(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0)
        }))
    }

    /// A clock that calls `f`.
    pub fn from_fn(f: impl Fn() -> i64 + Send + Sync + 'static) -> RelayClock {
        RelayClock(Arc::new(f))
    }

    /// The current time, UTC ms.
    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

impl Default for RelayClock {
    fn default() -> Self {
        RelayClock::system()
    }
}

impl std::fmt::Debug for RelayClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelayClock")
    }
}
