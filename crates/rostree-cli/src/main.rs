//! The `rostree` binary; also answers as `ostree` through a symlink.

fn main() {
    std::process::exit(rostree_cli::run_from_iter(std::env::args_os()));
}
