//! The one way popfetch writes a size for a person: the check line, the
//! summary, the progress bars and `-v` all call [`human_size`].

/// `512 bytes`, `3.4 KB`, `93 MB`: binary units (1 KB = 1024 bytes, as
/// `max_size` reads them), one decimal below 10, none from 10 up.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        // Rounded as shown: 1023.96 KB is written "1.0 MB", not "1024 KB".
        if v < 1023.5 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    if v < 9.95 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.0} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 bytes");
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(1023), "1023 bytes");
        assert_eq!(human_size(1024), "1.0 KB");
        assert_eq!(human_size(3_565_158), "3.4 MB");
        assert_eq!(human_size(10 * 1024 * 1024), "10 MB");
        // Rounding never shows "10.0" or "1024": the next form is used.
        assert_eq!(human_size(10 * 1024 - 20), "10 KB");
        assert_eq!(human_size(1024 * 1024 - 10), "1.0 MB");
        assert_eq!(human_size(u64::MAX), "16384 PB");
    }
}
