//! `rostree-remount`: run early in the booted system (`rostree-remount.service`) to set
//! `/sysroot`, `/etc` and `/var` writable or read-only as the OS configured.

use std::process::ExitCode;

fn main() -> ExitCode {
    match rostree_prepare_root::remount::remount() {
        Ok(done) => {
            for remounted in done {
                let state = if remounted.writable { "rw" } else { "ro" };
                println!("Remounted {state}: {}", remounted.path);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rostree-remount: error: {e}");
            ExitCode::FAILURE
        }
    }
}
