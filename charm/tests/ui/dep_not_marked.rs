fn helper() -> u32 {
    1
}

#[charm::memoize(deps = [helper])]
fn f(x: u32) -> u32 {
    x + helper()
}

fn main() {}
