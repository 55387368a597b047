struct Opaque;

impl Opaque {
    #[charm::memoize]
    fn get(&self, x: u32) -> u32 {
        x
    }
}

fn main() {}
