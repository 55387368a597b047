use charm_freeze::Freeze;

#[derive(Freeze)]
#[freeze(transparent)]
struct Pair(u32, u32);

fn main() {}
