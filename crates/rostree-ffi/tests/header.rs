//! `include/rostree.h` is what cbindgen makes of the sources today: an ABI change shows in
//! the committed header. `ROSTREE_UPDATE_HEADER=1 cargo test -p rostree-ffi --test header`
//! writes it anew.

use std::path::Path;

#[test]
fn header_is_current() -> Result<(), Box<dyn std::error::Error>> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))?;
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()?
        .write(&mut generated);
    let committed_path = crate_dir.join("include/rostree.h");
    if std::env::var_os("ROSTREE_UPDATE_HEADER").is_some() {
        std::fs::write(&committed_path, &generated)?;
        return Ok(());
    }
    let committed = std::fs::read(&committed_path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is not what the sources generate; regenerate it with\n    \
         ROSTREE_UPDATE_HEADER=1 cargo test -p rostree-ffi --test header",
        committed_path.display()
    );
    Ok(())
}
