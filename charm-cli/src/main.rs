//! The `charm` command; see the charm-cli crate for what it does.

fn main() -> std::process::ExitCode {
    log_from_env();
    charm_cli::main()
}

/// `RUST_LOG=charm::ops=debug` (targets and levels, comma-separated) prints
/// charm's events on stderr. Without it nothing is installed, so charm's
/// warnings keep going to stderr as they are.
fn log_from_env() {
    let Ok(spec) = std::env::var("RUST_LOG") else {
        return;
    };
    match spec.parse::<tracing_subscriber::filter::Targets>() {
        Ok(filter) => {
            use tracing_subscriber::layer::SubscriberExt;
            use tracing_subscriber::util::SubscriberInitExt;
            let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
            let _ = tracing_subscriber::registry()
                .with(layer)
                .with(filter)
                .try_init();
        }
        Err(e) => eprintln!("charm: RUST_LOG={spec:?} is not a filter ({e}); ignored"),
    }
}
