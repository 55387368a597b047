//! Misuse of `#[derive(Freeze)]`, and values with no meaning in another
//! process, are compile errors with clear messages.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
