//! The least work `fsck` of an archive repository must do: read every object, inflate each
//! `.filez` payload (libdeflate, the fastest inflater here) and SHA-256 it, on every core,
//! from a warm page cache. Prints the wall time of three passes.
//!
//! Usage: fsck_floor REPO

use rayon::prelude::*;
use sha2::Digest;
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let repo = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: fsck_floor REPO"));
    let mut files = Vec::new();
    for dir in std::fs::read_dir(repo.join("objects"))? {
        for file in std::fs::read_dir(dir?.path())? {
            files.push(file?.path());
        }
    }
    for file in &files {
        std::fs::read(file)?;
    }
    for _ in 0..3 {
        let started = Instant::now();
        let bytes: u64 = files
            .par_iter()
            .map_init(libdeflater::Decompressor::new, |inflater, path| {
                let data = std::fs::read(path).expect("read an object");
                let mut hash = sha2::Sha256::new();
                if path.extension().is_some_and(|e| e == "filez") {
                    let header_len =
                        u32::from_be_bytes(data[0..4].try_into().expect("4 bytes")) as usize;
                    let header = &data[8..8 + header_len];
                    let size =
                        u64::from_be_bytes(header[0..8].try_into().expect("8 bytes")) as usize;
                    hash.update(header);
                    let mut payload = vec![0u8; size];
                    if size > 0 {
                        inflater
                            .deflate_decompress(&data[8 + header_len..], &mut payload)
                            .expect("inflate");
                    }
                    hash.update(&payload);
                    std::hint::black_box(hash.finalize());
                    size as u64
                } else {
                    hash.update(&data);
                    std::hint::black_box(hash.finalize());
                    data.len() as u64
                }
            })
            .sum();
        println!(
            "{} objects, {bytes} bytes inflated and hashed in {:.3} s",
            files.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
