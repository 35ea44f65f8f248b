//! The local time, for the `Received:` line and syslog.
//!
//! `jiff::Zoned::now()` finds the local zone through jiff's time zone
//! database, which it builds by walking all of /usr/share/zoneinfo (some
//! 600 files) whenever /etc/localtime is a copy rather than a link, as on
//! Debian images: 5 ms of a cron run, for a name nobody prints. Only the
//! offset is needed here, so without `TZ` the zone comes straight from
//! /etc/localtime; with `TZ`, or when that file will not do, jiff decides.

use std::io::Read;

use jiff::Zoned;
use jiff::tz::TimeZone;

/// Larger than any real TZif file (the biggest are a few KiB).
const MAX_TZIF: u64 = 1 << 20;

/// Now, in the local time zone.
pub(crate) fn local_now() -> Zoned {
    jiff::Timestamp::now().to_zoned(local_zone())
}

fn local_zone() -> TimeZone {
    if std::env::var_os("TZ").is_none()
        && let Some(tz) = read_localtime("/etc/localtime")
    {
        return tz;
    }
    TimeZone::system()
}

/// The zone a TZif file describes, if it is one.
fn read_localtime(path: &str) -> Option<TimeZone> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_TZIF)
        .read_to_end(&mut bytes)
        .ok()?;
    TimeZone::tzif("Local", &bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tzif_file_gives_its_offset_and_anything_else_gives_none() {
        let dir = tempfile::tempdir().unwrap();
        // A minimal TZif v1 file for UTC+2 without transitions.
        let mut tzif = b"TZif\0".to_vec();
        tzif.extend_from_slice(&[0; 15]);
        // isutcnt isstdcnt leapcnt timecnt typecnt charcnt
        for n in [0u32, 0, 0, 0, 1, 4] {
            tzif.extend_from_slice(&n.to_be_bytes());
        }
        tzif.extend_from_slice(&7200i32.to_be_bytes());
        tzif.extend_from_slice(&[0, 0]);
        tzif.extend_from_slice(b"XX2\0");
        let good = dir.path().join("good");
        std::fs::write(&good, &tzif).unwrap();
        let tz = read_localtime(good.to_str().unwrap()).expect("a TZif file");
        let offset = tz.to_offset(jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(offset.seconds(), 7200);

        let bad = dir.path().join("bad");
        std::fs::write(&bad, b"not a zone").unwrap();
        assert!(read_localtime(bad.to_str().unwrap()).is_none());
        assert!(read_localtime(dir.path().join("missing").to_str().unwrap()).is_none());
    }
}
