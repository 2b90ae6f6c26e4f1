//! Channel connectors: one module per channel, each turning its wire into typed values.

pub mod email;
