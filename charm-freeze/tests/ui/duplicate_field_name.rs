use charm_freeze::Freeze;

#[derive(Freeze)]
struct Clash {
    a: u32,
    #[freeze(rename = "a")]
    b: u32,
}

fn main() {}
