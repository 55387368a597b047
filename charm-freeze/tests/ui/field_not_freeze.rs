use charm_freeze::Freeze;

struct Opaque;

#[derive(Freeze)]
struct Holder {
    inner: Opaque,
}

fn main() {}
