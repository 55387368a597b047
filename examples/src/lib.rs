//! Runnable examples of charm: `cargo run -p charm-examples --example NAME`.
