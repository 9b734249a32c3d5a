//! Copying a payload between a reader and a writer in wide steps.
//!
//! `std::io::copy` moves 8 KiB at a time when neither side is a plain file, so a large
//! payload read through an inflater or a hashing reader costs one `write(2)`, one inflate
//! call and one window update per 8 KiB. Steps of [`STEP`] bytes cut those by 32.

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};

/// Bytes moved per step.
pub const STEP: usize = 256 << 10;

thread_local! {
    // One buffer per thread, reused: allocating 256 KiB for each small file would cost an
    // mmap and page faults every time.
    static BUFFER: RefCell<Option<Box<[u8]>>> = const { RefCell::new(None) };
}

/// Copies `reader` to its end into `writer`, as `std::io::copy` does; returns the bytes
/// copied.
pub fn copy_wide(
    reader: &mut (impl Read + ?Sized),
    writer: &mut (impl Write + ?Sized),
) -> std::io::Result<u64> {
    let mut buffer = BUFFER
        .with(|b| b.borrow_mut().take())
        .unwrap_or_else(|| vec![0u8; STEP].into_boxed_slice());
    let copied = copy_with(reader, writer, &mut buffer);
    BUFFER.with(|b| *b.borrow_mut() = Some(buffer));
    copied
}

fn copy_with(
    reader: &mut (impl Read + ?Sized),
    writer: &mut (impl Write + ?Sized),
    buffer: &mut [u8],
) -> std::io::Result<u64> {
    let mut copied = 0u64;
    loop {
        let n = match reader.read(buffer) {
            Ok(0) => return Ok(copied),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        writer.write_all(&buffer[..n])?;
        copied += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_everything_and_nests() {
        let data: Vec<u8> = (0..STEP * 3 + 17).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        assert_eq!(
            copy_wide(&mut &data[..], &mut out).expect("copy"),
            data.len() as u64
        );
        assert_eq!(out, data);

        // A reader that itself copies (the thread's buffer is taken): still correct.
        struct Nested<'a>(&'a [u8], bool);
        impl Read for Nested<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if !self.1 {
                    self.1 = true;
                    let mut inner = Vec::new();
                    copy_wide(&mut &self.0[..], &mut inner)?;
                    assert_eq!(inner, self.0);
                }
                (&mut self.0).read(buf)
            }
        }
        let mut out = Vec::new();
        copy_wide(&mut Nested(&data, false), &mut out).expect("nested copy");
        assert_eq!(out, data);
    }
}
