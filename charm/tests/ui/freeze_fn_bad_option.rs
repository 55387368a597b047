#[charm::freeze_fn(group = charm::default_group())]
fn helper() -> u8 {
    1
}

fn main() {}
