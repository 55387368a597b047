//! The `charm` command; see the charm-cli crate for what it does.

fn main() -> std::process::ExitCode {
    charm_cli::main()
}
