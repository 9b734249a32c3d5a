//! Unsigned LEB128 integers ("varuint64"), used in `ostree.sizes` and delta opcodes.

/// Appends `value` as a varuint64.
///
/// ```
/// use rostree_core::varint::write_varuint64;
///
/// let mut out = Vec::new();
/// write_varuint64(&mut out, 300);
/// assert_eq!(out, [0xac, 0x02]);
/// write_varuint64(&mut out, 5);
/// assert_eq!(out, [0xac, 0x02, 0x05]);
/// ```
pub fn write_varuint64(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads a varuint64 from the front of `data`, returning it and the bytes it took.
/// `None` for truncated input or more than 64 bits.
///
/// ```
/// use rostree_core::varint::{read_varuint64, write_varuint64};
///
/// // 300 takes two bytes; what follows is left alone.
/// assert_eq!(read_varuint64(&[0xac, 0x02, 0xff]), Some((300, 2)));
///
/// let mut out = Vec::new();
/// write_varuint64(&mut out, u64::MAX);
/// assert_eq!(read_varuint64(&out), Some((u64::MAX, 10)));
///
/// // A continuation bit with nothing after it is truncated input.
/// assert_eq!(read_varuint64(&[0x80]), None);
/// ```
pub fn read_varuint64(data: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &byte) in data.iter().enumerate().take(10) {
        let bits = u64::from(byte & 0x7f);
        let shift = 7 * i as u32;
        if shift == 63 && bits > 1 {
            return None;
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for (value, encoded) in [
            (0u64, vec![0u8]),
            (127, vec![0x7f]),
            (128, vec![0x80, 1]),
            (300, vec![0xac, 2]),
            (
                u64::MAX,
                vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1],
            ),
        ] {
            let mut out = Vec::new();
            write_varuint64(&mut out, value);
            assert_eq!(out, encoded);
            assert_eq!(read_varuint64(&out), Some((value, out.len())));
        }
        assert_eq!(read_varuint64(&[0x80]), None);
        assert_eq!(read_varuint64(&[0xff; 11]), None);
        assert_eq!(
            read_varuint64(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2]),
            None
        );
    }
}
