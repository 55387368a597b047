use charm_freeze::Freeze;

#[derive(Freeze)]
#[freeze(nmae = "X")]
struct Typo {
    #[freeze(skp)]
    a: u32,
}

fn main() {}
