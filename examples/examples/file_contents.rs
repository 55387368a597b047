//! `cargo run -p charm-examples --example file_contents`
//!
//! The `pure_copy` of charmonium.cache: a memoized function whose result is
//! a file. A hit restores the file (its contents are cached with the
//! result); editing the input file makes the call miss.

use charm::FileContents;
use std::error::Error;
use std::path::PathBuf;

/// Copies `src` to `dst`, uppercasing it (the side effect is the point).
#[charm::memoize(group = charm_examples::scratch_cache())]
fn pure_copy(src: FileContents, dst: PathBuf) -> Result<FileContents, String> {
    let text = std::fs::read_to_string(&src).map_err(|e| e.to_string())?;
    std::fs::write(&dst, text.to_uppercase()).map_err(|e| e.to_string())?;
    println!(
        "  (computed: copied {} -> {})",
        src.path().display(),
        dst.display()
    );
    Ok(FileContents::new(dst))
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("charm-example-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (src, dst) = (dir.join("input.txt"), dir.join("output.txt"));
    std::fs::write(&src, "hello")?;

    println!("first call:");
    pure_copy(FileContents::new(&src), dst.clone())?;

    std::fs::remove_file(&dst)?;
    println!("second call, after deleting the output:");
    let out = pure_copy(FileContents::new(&src), dst.clone())?;
    println!(
        "  restored from the cache: {:?}",
        std::fs::read_to_string(out.path())?
    );
    assert_eq!(std::fs::read_to_string(&dst)?, "HELLO");

    std::fs::write(&src, "changed")?;
    println!("third call, after editing the input:");
    pure_copy(FileContents::new(&src), dst.clone())?;
    assert_eq!(std::fs::read_to_string(&dst)?, "CHANGED");

    let usage = pure_copy::memoized().usage();
    println!("{} hit, {} misses", usage.hits, usage.misses);
    assert_eq!((usage.hits, usage.misses), (1, 2));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
