//! Running a profile's plugins (placeholder until the runtime lands).
