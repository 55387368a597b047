use charm_freeze::Freeze;

#[derive(Freeze)]
struct Useless {
    #[freeze(skip, rename = "b")]
    a: u32,
}

fn main() {}
