//! Scheduler configuration (placeholder until the configuration module lands).
