#[derive(charm::Freeze)]
struct Counter {
    n: u32,
}

impl Counter {
    #[charm::memoize]
    fn bump(&mut self) -> u32 {
        self.n += 1;
        self.n
    }
}

fn main() {}
