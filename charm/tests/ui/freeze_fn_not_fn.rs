#[charm::freeze_fn]
const LIMIT: u32 = 3;

fn main() {}
