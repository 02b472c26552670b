//! Placeholder until data lands.
