#[charm::memoize(verison = "2", cache_errors = "yes")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
