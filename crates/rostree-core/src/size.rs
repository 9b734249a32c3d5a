//! Sizes as GLib's `g_format_size` prints them, which upstream's messages use.

/// Bytes below 1000, then SI units with one decimal and a no-break space.
///
/// ```
/// use rostree_core::size::format_size;
///
/// assert_eq!(format_size(1), "1 byte");
/// assert_eq!(format_size(999), "999 bytes");
/// assert_eq!(format_size(1_600_000), "1.6\u{a0}MB");
/// ```
pub fn format_size(size: u64) -> String {
    if size < 1000 {
        return if size == 1 {
            "1 byte".into()
        } else {
            format!("{size} bytes")
        };
    }
    let units = ["kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = size as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1}\u{a0}{}", units[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_glib_prints_them() {
        for (n, text) in [
            (0, "0 bytes"),
            (1, "1 byte"),
            (999, "999 bytes"),
            (1000, "1.0\u{a0}kB"),
            (1_600_000, "1.6\u{a0}MB"),
            (2_500_000_000, "2.5\u{a0}GB"),
        ] {
            assert_eq!(format_size(n), text);
        }
    }
}
