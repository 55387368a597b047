use charm_freeze::Freeze;

#[derive(Freeze)]
enum Clash {
    A,
    #[freeze(rename = "A")]
    B,
}

fn main() {}
