use charm_freeze::Freeze;

#[derive(Freeze)]
#[freeze(version = "two")]
struct V {
    a: u8,
}

#[derive(Freeze)]
#[freeze(version = 1, version = 2)]
struct Twice {
    a: u8,
}

fn main() {}
