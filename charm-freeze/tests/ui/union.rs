use charm_freeze::Freeze;

#[derive(Freeze)]
union Bits {
    i: u32,
    f: f32,
}

fn main() {}
