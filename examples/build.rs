//! Every memoized function's closure digest, for `#[charm::memoize]`.

fn main() {
    charm_build::scan();
}
