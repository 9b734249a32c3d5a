//! `rostree-prepare-root SYSROOT`: run by the initramfs with the physical root mounted at
//! SYSROOT (usually `/sysroot`); leaves the deployment named by `ostree=` there, ready for
//! `switch_root`. Run as PID 1, it prepares `/` and executes `/sbin/init`.

use std::process::ExitCode;

const PROGRAM: &str = "rostree-prepare-root";

fn main() -> ExitCode {
    let pid1 = rustix::process::getpid().is_init();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let root = if pid1 {
        std::path::PathBuf::from("/")
    } else {
        match args.get(1) {
            Some(root) if args.len() == 2 => std::path::PathBuf::from(root),
            _ => {
                eprintln!("usage: {PROGRAM} SYSROOT");
                return ExitCode::FAILURE;
            }
        }
    };
    // A bug must still end in the message and the shell, not an abort mid-sequence.
    let outcome =
        std::panic::catch_unwind(|| rostree_prepare_root::prepare::prepare_root(&root, pid1));
    let error = match outcome {
        Ok(Ok(prepared)) => {
            eprintln!("{PROGRAM}: prepared {}", prepared.deployment.display());
            if pid1 {
                let error = std::os::unix::process::CommandExt::exec(
                    &mut std::process::Command::new("/sbin/init"),
                );
                rostree_prepare_root::emergency(PROGRAM, &format!("executing /sbin/init: {error}"));
                return ExitCode::FAILURE;
            }
            return ExitCode::SUCCESS;
        }
        Ok(Err(error)) => error.to_string(),
        Err(_) => "internal error (see the message above)".to_string(),
    };
    rostree_prepare_root::emergency(PROGRAM, &error);
    ExitCode::FAILURE
}
