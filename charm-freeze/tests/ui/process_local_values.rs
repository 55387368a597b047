// Values whose meaning ends with the process have no Freeze impl.
fn main() {
    let now = std::time::Instant::now();
    charm_freeze::hash(&now);
    let p: *const u8 = std::ptr::null();
    charm_freeze::hash(&p);
    let m = std::sync::Mutex::new(1u8);
    charm_freeze::hash(&m);
}
