//! The time expressions operators type (`time::parse_moment`, `parse_future` for `--at`,
//! `parse_duration` for `--next-update-in`), read in one of a few zones relative to any
//! moment. Never a panic; a duration is positive and round-trips through how crier and jiff
//! write it; `in D` is `now + D`; a moment written as RFC 3339 reads back as itself;
//! `parse_future` refuses exactly the moments more than a minute in the past.
#![no_main]

use crier::time::{
    TimeError, describe_duration, display_moment, display_seconds, parse_duration, parse_future,
    parse_moment, rfc3339,
};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

/// The numbers, then the text as typed.
#[derive(Debug, Arbitrary)]
struct Input<'a> {
    now: i64,
    zone: u8,
    seconds: i64,
    moment: i64,
    text: &'a [u8],
}

const ZONES: [&str; 6] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Kiritimati",
];

/// A second in jiff's range, from any number.
fn second(n: i64) -> Timestamp {
    let (min, max) = (Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
    Timestamp::from_second(min + n.rem_euclid(max - min)).expect("in range")
}

/// How many of days, hours, minutes and seconds are not zero.
fn units(d: SignedDuration) -> usize {
    let s = d.as_secs();
    [s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60, s % 60]
        .iter()
        .filter(|&&n| n != 0)
        .count()
}

fuzz_target!(|input: Input<'_>| {
    let text = common::text(input.text);
    let text = text.as_ref();
    let tz = TimeZone::get(ZONES[usize::from(input.zone) % ZONES.len()]).expect("a bundled zone");
    let utc = TimeZone::UTC;
    let now = second(input.now);

    // Durations: positive, and written back the way crier and jiff write them.
    if let Ok(d) = parse_duration(text) {
        assert!(d.is_positive());
        assert_eq!(d.subsec_nanos(), 0);
        let described = describe_duration(d);
        let again = parse_duration(&described).expect("a described duration reads back");
        assert!(again <= d);
        if units(d) <= 2 {
            assert_eq!(again, d, "{described:?}");
        }
        assert_eq!(parse_duration(&format!("{d:#}")), Ok(d));
        // `in D` from now, in UTC (where a day is always 24 hours), is now + D.
        if let Ok(later) = now.checked_add(d) {
            assert_eq!(parse_moment(&format!("in {}", text), now, &utc), Ok(later));
        }
    }
    let positive =
        SignedDuration::from_secs(input.seconds.checked_abs().unwrap_or(i64::MAX).max(1));
    assert_eq!(
        parse_duration(&format!("{}s", positive.as_secs())),
        Ok(positive)
    );
    let described = describe_duration(positive);
    if units(positive) <= 2 {
        assert_eq!(parse_duration(&described), Ok(positive), "{described:?}");
    }
    assert_eq!(parse_duration(&format!("{positive:#}")), Ok(positive));

    // Moments: any text in any zone.
    let moment = parse_moment(text, now, &tz);
    if let Ok(t) = moment {
        assert!(!display_moment(t, now, &tz).is_empty());
        assert!(!display_seconds(t, &tz).is_empty());
    }
    match (parse_future(text, now, &tz), &moment) {
        (Ok(t), Ok(m)) => {
            assert_eq!(t, *m);
            assert!(t.duration_until(now) <= SignedDuration::from_secs(60));
        }
        (Err(TimeError::InPast { .. }), Ok(m)) => {
            assert!(m.duration_until(now) > SignedDuration::from_secs(60))
        }
        (Err(e), Err(m)) => assert_eq!(&e, m),
        (f, m) => panic!("parse_future {f:?} but parse_moment {m:?}"),
    }
    if let Err(e) = &moment {
        assert!(!e.to_string().is_empty());
    }

    // A moment as machines write it reads back as itself, in any zone, from any now.
    let at = second(input.moment);
    let written = rfc3339(at);
    let whole = Timestamp::from_second(at.as_second()).expect("in range");
    assert_eq!(parse_moment(&written, now, &tz), Ok(whole), "{written}");
});
