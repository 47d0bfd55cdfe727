//! Log line timestamps (SPEC §13): the RFC 3339 UTC form with milliseconds that prefixes a
//! stored line (`2026-12-01T08:00:00.123Z hello`), written from a Unix time and read back from
//! the start of a line. Pure: no clock of its own (the caller gives the time).

use std::time::{SystemTime, UNIX_EPOCH};

/// `2026-12-01T08:00:00.123Z`.
pub const STAMP_LEN: usize = 24;
/// A stamp and the space after it, as it starts a stored line.
pub const PREFIX_LEN: usize = STAMP_LEN + 1;

/// Milliseconds since the Unix epoch (0 for a clock before it).
pub fn unix_millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The stamp of a time, followed by a space: what goes before a stored line.
pub fn prefix(millis: i64) -> [u8; PREFIX_LEN] {
    let mut out = [b' '; PREFIX_LEN];
    let seconds = millis.div_euclid(1000);
    let milli = millis.rem_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let year = year.clamp(0, 9999);
    let mut put = |at: usize, value: i64, width: usize| {
        let mut value = value;
        for index in (at..at + width).rev() {
            out[index] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, of_day / 3600, 2);
    put(14, of_day / 60 % 60, 2);
    put(17, of_day % 60, 2);
    put(20, milli, 3);
    out[4] = b'-';
    out[7] = b'-';
    out[10] = b'T';
    out[13] = b':';
    out[16] = b':';
    out[19] = b'.';
    out[23] = b'Z';
    out
}

/// The stamp of a time as text (`2026-12-01T08:00:00.123Z`), for JSON.
pub fn text(millis: i64) -> String {
    String::from_utf8_lossy(&prefix(millis)[..STAMP_LEN]).into_owned()
}

/// Splits a stored line into its time and the line itself, when it starts with a stamp and a
/// space exactly as [`prefix`] writes them; `None` for any other line.
pub fn split(line: &[u8]) -> Option<(i64, &[u8])> {
    if line.len() < PREFIX_LEN || line[STAMP_LEN] != b' ' {
        return None;
    }
    let stamp = &line[..STAMP_LEN];
    for (index, byte) in stamp.iter().enumerate() {
        let fits = match index {
            4 | 7 => *byte == b'-',
            10 => *byte == b'T',
            13 | 16 => *byte == b':',
            19 => *byte == b'.',
            23 => *byte == b'Z',
            _ => byte.is_ascii_digit(),
        };
        if !fits {
            return None;
        }
    }
    let number = |from: usize, to: usize| {
        stamp[from..to]
            .iter()
            .fold(0i64, |value, digit| value * 10 + i64::from(digit - b'0'))
    };
    let (month, day) = (number(5, 7), number(8, 10));
    let (hour, minute, second) = (number(11, 13), number(14, 16), number(17, 19));
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(number(0, 4), month, day);
    let millis = ((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000) + number(20, 23);
    Some((millis, &line[PREFIX_LEN..]))
}

/// (year, month, day) of a day number counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The day number (from 1970-01-01) of a civil date; the inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_rfc3339_utc_with_milliseconds() {
        let cases: &[(i64, &str)] = &[
            (0, "1970-01-01T00:00:00.000Z"),
            (1, "1970-01-01T00:00:00.001Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_796_112_000_123, "2026-12-01T08:00:00.123Z"),
            (4_102_444_799_999, "2099-12-31T23:59:59.999Z"),
            (253_402_300_799_000, "9999-12-31T23:59:59.000Z"),
        ];
        for (millis, expected) in cases {
            assert_eq!(text(*millis), *expected, "{millis}");
            let line = [&prefix(*millis)[..], b"hello"].concat();
            assert_eq!(split(&line), Some((*millis, &b"hello"[..])), "{expected}");
        }
        // Every day of a few leap and common years reads back as it was written.
        for day in (-1..20_000).step_by(7) {
            let millis = day * 86_400_000 + 12_345_678;
            if millis >= 0 {
                assert_eq!(split(&prefix(millis)).map(|(time, _)| time), Some(millis));
            }
        }
    }

    #[test]
    fn lines_without_a_stamp_are_not_read_as_one() {
        let lines: &[&[u8]] = &[
            b"",
            b"hello",
            b"2026-12-01T08:00:00.123Z",
            b"2026-12-01T08:00:00.123Zhello",
            b"2026-12-01 08:00:00.123Z hello",
            b"2026-13-01T08:00:00.123Z hello",
            b"2026-12-01T24:00:00.123Z hello",
            b"2026-12-01T08:00:00,123Z hello",
            b"2026-12-01T08:00:00.12xZ hello",
        ];
        for line in lines {
            assert_eq!(split(line), None, "{:?}", String::from_utf8_lossy(line));
        }
        assert_eq!(
            split(b"2026-12-01T08:00:00.123Z "),
            Some((1_796_112_000_123, &b""[..]))
        );
    }
}
