#[charm::memoize]
async fn fetch(url: String) -> String {
    url
}

fn main() {}
