//! `rostree serve`: serve a repository over HTTP (rostree's own; upstream has none).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, Result};
use cap_std::ambient_authority;
use cap_std::fs::Dir;

use crate::{GlobalOptions, util};

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…]")]
pub struct Args {
    /// Port to listen on (0: any free port, printed on start)
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    address: IpAddr,
    /// The directory to serve (default: the repository)
    dir: Option<PathBuf>,
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let root = match &args.dir {
        Some(dir) => dir.clone(),
        None => global.repo_path()?,
    };
    let dir = Dir::open_ambient_dir(&root, ambient_authority())
        .with_context(|| format!("opening {}", root.display()))?;
    let server = rostree::serve::serve(dir, SocketAddr::new(args.address, args.port))?;
    util::write_stdout(format!("Serving {} on {}\n", root.display(), server.url()).as_bytes())?;
    server.wait();
    Ok(0)
}
