use charm_freeze::Freeze;

#[derive(Freeze)]
#[freeze(transparent)]
enum Either {
    A(u8),
}

fn main() {}
