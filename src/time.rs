//! Times and durations as operators type them and as outage notices show them.
//!
//! Operators write moments like `14:30`, `tomorrow 10:00`, `in 30 minutes` or
//! `+2h`, and durations like `1h30m` or `45 minutes`. Every wall-clock time is
//! read in the company's time zone. Notices show moments back in that zone
//! with the zone named (`14:30 CET`, `Fri 27 Nov, 10:00 CET`).
//!
//! Wall-clock times that do not exist (the hour skipped when clocks spring
//! forward) or that happen twice (the hour repeated when clocks fall back) are
//! resolved with jiff's "compatible" disambiguation, which is what people
//! expect: a skipped time moves forward by the length of the gap
//! (02:30 becomes 03:30 summer time), and a repeated time means its first
//! occurrence (02:30 summer time).

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Span, Timestamp};

/// The moment formats offered to an operator who typed something unreadable.
const MOMENT_EXAMPLES: &str = "`14:30`, `in 30 minutes`, `tomorrow 10:00`, \
     `next monday 09:00`, `+2h` or `2026-11-27T10:00:00+01:00`";

/// The duration formats offered to an operator who typed something unreadable.
const DURATION_EXAMPLES: &str = "`90s`, `30m`, `2h`, `1h30m`, `45 minutes` or `2 days`";

/// How far in the past a moment may lie and still count as "now" for
/// [`parse_future`]: typing takes time.
const PAST_TOLERANCE: SignedDuration = SignedDuration::from_secs(60);

const SECONDS_PER_DAY: i64 = 86_400;

/// Errors a user sees: one sentence naming the input in backticks, then the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// No moment was typed at all.
    #[error("no time was given; try {}", MOMENT_EXAMPLES)]
    EmptyMoment,
    /// The moment matches none of the understood forms.
    #[error("`{0}` is not a time I understand; try {examples}", examples = MOMENT_EXAMPLES)]
    UnknownMoment(String),
    /// A day was named (`tomorrow`, `2026-11-27`, `monday`) without a time of day.
    #[error("`{0}` names a day but not a time; add one, e.g. `{0} 10:00`")]
    MissingTime(String),
    /// The time of day is out of range, like `25:00` or `10:75`.
    #[error(
        "`{0}` has a time of day that does not exist; use 24-hour `HH:MM` \
         from `00:00` to `23:59`, e.g. `14:30`"
    )]
    BadClock(String),
    /// The calendar date does not exist, like `2026-02-30`.
    #[error(
        "`{0}` has a date that does not exist; use `YYYY-MM-DD` with a real day, \
         e.g. `2026-11-27 10:00`"
    )]
    BadDate(String),
    /// A relative moment like `in 0 minutes` or `-2h` does not point forward.
    #[error(
        "`{0}` does not point into the future; use an amount above zero, \
         e.g. `in 30 minutes` or `+2h`"
    )]
    NotForward(String),
    /// [`parse_future`] got a moment more than a minute before now.
    #[error("`{input}` means {shown}, which is in the past; for the next day write `{suggestion}`")]
    InPast {
        /// What the operator typed.
        input: String,
        /// The moment as [`display_moment`] shows it.
        shown: String,
        /// The same wall-clock time tomorrow, e.g. `tomorrow 14:30`.
        suggestion: String,
    },
    /// The moment or duration is beyond what the calendar arithmetic supports.
    #[error("`{0}` is too far away for me to handle; use a smaller amount or a nearer date")]
    OutOfRange(String),
    /// No duration was typed at all.
    #[error("no duration was given; try {}", DURATION_EXAMPLES)]
    EmptyDuration,
    /// The duration matches none of the understood forms.
    #[error("`{0}` is not a duration I understand; try {examples}", examples = DURATION_EXAMPLES)]
    UnknownDuration(String),
    /// The duration is zero or negative.
    #[error("`{0}` is not a positive duration; use an amount above zero, e.g. `30m` or `1h30m`")]
    NotPositive(String),
    /// The time zone name is not in the time zone database.
    #[error(
        "`{0}` is not a time zone I know; use an IANA name such as `Europe/Berlin` \
         or `UTC`"
    )]
    UnknownZone(String),
    /// There is no time zone database on this machine at all.
    #[error(
        "`{0}` cannot be loaded because this machine has no time zone database; \
         install the `tzdata` package (or set `TZDIR`), or use `UTC`"
    )]
    NoZoneDatabase(String),
}

/// Parse a moment typed by an operator, read in the company's time zone `tz`,
/// relative to `now`.
///
/// Accepts (case-insensitive, surrounding whitespace ignored):
///  - `now`
///  - `14:30`, `9:05`, `14:30:15`: today at that time, even if it has passed
///    (use [`parse_future`] to reject past moments)
///  - `2026-11-27 10:00`, `2026-11-27T10:00`; a bare date is rejected
///  - RFC 3339 with offset or `Z`: `2026-11-27T10:00:00+01:00`, `2026-11-27T09:00:00Z`
///  - `today 14:30`, `tomorrow 10:00`, `tomorrow at 10:00`, `10:00 tomorrow`
///  - `monday 09:00`, `next mon 09:00`: the next such weekday strictly after today
///  - `next business day 10:00`: the next Monday to Friday strictly after today
///  - `in 30 minutes`, `in 2 hours`, `in 1h30m`, `in 90s`, `+2h`, `+30m`,
///    `+1d`, `in 2 days`, `in 1 week`, relative to `now`
///
/// Days and weeks in relative moments are calendar days in `tz`: `+1d` keeps
/// the wall-clock time even across a DST change (so it may be 23 or 25 hours).
/// Hours, minutes and seconds are exact lengths of time added afterwards.
///
/// Wall-clock times that fall in a spring-forward gap or a fall-back fold are
/// resolved with jiff's "compatible" disambiguation: a skipped time moves
/// forward by the gap (02:30 → 03:30 summer time); a repeated time means the
/// earlier occurrence (02:30 summer time).
pub fn parse_moment(input: &str, now: Timestamp, tz: &TimeZone) -> Result<Timestamp, TimeError> {
    let typed = input.trim();
    let lowered = typed.to_lowercase();
    let words: Vec<&str> = lowered.split_whitespace().collect();
    if words.is_empty() {
        return Err(TimeError::EmptyMoment);
    }
    if words == ["now"] {
        return Ok(now);
    }
    if let Some(relative) = relative_part(&lowered, &words) {
        return parse_relative(&relative, typed, now, tz);
    }
    if let Some(exact) = parse_exact(typed) {
        return Ok(exact);
    }
    parse_wall_clock(&words, typed, now, tz)
}

/// Like [`parse_moment`], but the result must not be in the past: a moment
/// more than 60 seconds before `now` is an error that names the moment and
/// suggests the same time tomorrow.
pub fn parse_future(input: &str, now: Timestamp, tz: &TimeZone) -> Result<Timestamp, TimeError> {
    let moment = parse_moment(input, now, tz)?;
    if moment.duration_until(now) <= PAST_TOLERANCE {
        return Ok(moment);
    }
    let local = tz.to_datetime(moment);
    Err(TimeError::InPast {
        input: input.trim().to_string(),
        shown: display_moment(moment, now, tz),
        suggestion: format!("tomorrow {:02}:{:02}", local.hour(), local.minute()),
    })
}

/// Parse a duration typed by an operator: `90s`, `30m`, `2h`, `1h30m`,
/// `1h 30m`, `2h 15m`, `45 minutes`, `1 hour 30 minutes`,
/// `1 hour and 30 minutes`, `2 days`, `1d`, `1w`.
///
/// The result has a fixed length: a day is 24 hours and a week 7 days here.
/// Zero and negative durations are errors.
pub fn parse_duration(input: &str) -> Result<SignedDuration, TimeError> {
    let typed = input.trim();
    let lowered = typed.to_lowercase();
    if lowered.is_empty() {
        return Err(TimeError::EmptyDuration);
    }
    let (negative, text) = match lowered.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, lowered.as_str()),
    };
    let amount = parse_amount(text).map_err(|e| match e {
        AmountError::Syntax => TimeError::UnknownDuration(typed.to_string()),
        AmountError::Overflow => TimeError::OutOfRange(typed.to_string()),
    })?;
    if negative || amount.is_zero() {
        return Err(TimeError::NotPositive(typed.to_string()));
    }
    let seconds = amount
        .days
        .checked_mul(SECONDS_PER_DAY)
        .and_then(|s| s.checked_add(amount.seconds))
        .ok_or_else(|| TimeError::OutOfRange(typed.to_string()))?;
    Ok(SignedDuration::from_secs(seconds))
}

/// How a duration reads in a message: "30 seconds", "1 minute",
/// "1 hour 30 minutes", "2 days 3 hours".
///
/// Shows at most the two largest non-zero units of days, hours, minutes and
/// seconds, dropping (rounding down) the rest. Zero (and anything under a
/// second) reads "0 seconds"; a negative duration is prefixed with "minus".
pub fn describe_duration(d: SignedDuration) -> String {
    let total = d.as_secs().unsigned_abs();
    let units = [
        (total / 86_400, "day"),
        (total % 86_400 / 3_600, "hour"),
        (total % 3_600 / 60, "minute"),
        (total % 60, "second"),
    ];
    let parts: Vec<String> = units
        .iter()
        .filter(|(count, _)| *count > 0)
        .take(2)
        .map(|&(count, unit)| plural(count, unit))
        .collect();
    let text = if parts.is_empty() {
        plural(0, "second")
    } else {
        parts.join(" ")
    };
    if d.as_secs() < 0 {
        format!("minus {text}")
    } else {
        text
    }
}

/// `d` to the whole minute, as people read times: "0 minutes", "25 minutes", "2 hours 15
/// minutes". Seconds are dropped, or counted as one more minute with `round_up` (time left
/// before something is due: "in 10 minutes", never "in 9 minutes 59 seconds").
pub fn describe_minutes(d: SignedDuration, round_up: bool) -> String {
    let secs = d.as_secs();
    let minutes = secs.div_euclid(60) + i64::from(round_up && secs.rem_euclid(60) != 0);
    match minutes {
        0 => plural(0, "minute"),
        m => describe_duration(SignedDuration::from_mins(m)),
    }
}

/// `t` as a time of day to the second, in `tz`: "14:30:05 CET" (for retries seconds away).
pub fn display_seconds(t: Timestamp, tz: &TimeZone) -> String {
    let local = tz.to_datetime(t);
    format!(
        "{:02}:{:02}:{:02} {}",
        local.hour(),
        local.minute(),
        local.second(),
        zone_label(tz, t)
    )
}

/// How a moment reads in a message, in the company's zone with the zone named.
///
/// On the same local day as `now`: "14:30 CET". On another day:
/// "Fri 27 Nov, 10:00 CET", with the year added when it differs from the
/// year of `now` ("Tue 5 Jan 2027, 10:00 CET"). The zone is named by the
/// abbreviation in effect at `t` (CET/CEST, GMT/BST, EST/EDT, UTC); zones
/// whose abbreviation is only a number are shown as "UTC+04" or "UTC+05:30".
pub fn display_moment(t: Timestamp, now: Timestamp, tz: &TimeZone) -> String {
    let local = tz.to_datetime(t);
    let today = tz.to_datetime(now).date();
    let clock = format!("{:02}:{:02}", local.hour(), local.minute());
    let zone_name = zone_label(tz, t);
    let date = local.date();
    if date == today {
        return format!("{clock} {zone_name}");
    }
    let mut day = format!(
        "{} {} {}",
        weekday_abbreviation(date.weekday()),
        date.day(),
        month_abbreviation(date.month())
    );
    if date.year() != today.year() {
        day = format!("{day} {}", date.year());
    }
    format!("{day}, {clock} {zone_name}")
}

/// Load an IANA time zone by name, such as `Europe/Berlin` or `UTC`.
///
/// Uses jiff's time zone database: the system copy in `/usr/share/zoneinfo`
/// (or `TZDIR`) on Unix. `UTC` works even without any database.
pub fn zone(name: &str) -> Result<TimeZone, TimeError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(TimeError::UnknownZone(String::new()));
    }
    TimeZone::get(name).map_err(|_| {
        if jiff::tz::db().is_definitively_empty() {
            TimeError::NoZoneDatabase(name.to_string())
        } else {
            TimeError::UnknownZone(name.to_string())
        }
    })
}

/// An amount of time as typed: calendar days (weeks included) and exact seconds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Amount {
    days: i64,
    seconds: i64,
}

impl Amount {
    fn is_zero(self) -> bool {
        self.days == 0 && self.seconds == 0
    }

    /// Add `count` of `unit`; `None` on overflow.
    fn add(self, count: i64, unit: Unit) -> Option<Amount> {
        let mut sum = self;
        match unit {
            Unit::Weeks => sum.days = sum.days.checked_add(count.checked_mul(7)?)?,
            Unit::Days => sum.days = sum.days.checked_add(count)?,
            Unit::Hours => sum.seconds = sum.seconds.checked_add(count.checked_mul(3_600)?)?,
            Unit::Minutes => sum.seconds = sum.seconds.checked_add(count.checked_mul(60)?)?,
            Unit::Seconds => sum.seconds = sum.seconds.checked_add(count)?,
        }
        Some(sum)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Weeks,
    Days,
    Hours,
    Minutes,
    Seconds,
}

/// Why an amount of time could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AmountError {
    Syntax,
    Overflow,
}

/// The unit named by a (lowercase) word such as `h`, `min` or `days`.
fn unit_named(word: &str) -> Option<Unit> {
    Some(match word {
        "w" | "wk" | "wks" | "week" | "weeks" => Unit::Weeks,
        "d" | "day" | "days" => Unit::Days,
        "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Hours,
        "m" | "min" | "mins" | "minute" | "minutes" => Unit::Minutes,
        "s" | "sec" | "secs" | "second" | "seconds" => Unit::Seconds,
        _ => return None,
    })
}

/// Read a lowercase amount like `1h30m`, `1h 30m`, `1 hour and 30 minutes`:
/// one or more numbers, each followed by a unit.
fn parse_amount(text: &str) -> Result<Amount, AmountError> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(AmountError::Syntax);
    }
    let mut amount = Amount::default();
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_end == 0 {
            return Err(AmountError::Syntax);
        }
        let count: i64 = rest[..digits_end]
            .parse()
            .map_err(|_| AmountError::Overflow)?;
        rest = rest[digits_end..].trim_start();
        let unit_end = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = unit_named(&rest[..unit_end]).ok_or(AmountError::Syntax)?;
        amount = amount.add(count, unit).ok_or(AmountError::Overflow)?;
        rest = rest[unit_end..].trim_start_matches([' ', ',']);
        if let Some(after) = rest.strip_prefix("and ") {
            rest = after.trim_start();
        }
    }
    Ok(amount)
}

/// The amount part of a relative moment (`in 30 minutes`, `+2h`, `-2h`), if
/// the input is one. A leading `-` is kept so it can be reported.
fn relative_part(lowered: &str, words: &[&str]) -> Option<String> {
    if words.first() == Some(&"in") {
        return Some(words[1..].join(" "));
    }
    if let Some(rest) = lowered.strip_prefix('+') {
        return Some(rest.to_string());
    }
    let rest = lowered.strip_prefix('-')?;
    parse_amount(rest).is_ok().then(|| lowered.to_string())
}

/// Resolve a relative moment: calendar days first (keeping the wall-clock
/// time in `tz`), then the exact hours, minutes and seconds.
fn parse_relative(
    text: &str,
    typed: &str,
    now: Timestamp,
    tz: &TimeZone,
) -> Result<Timestamp, TimeError> {
    let out_of_range = || TimeError::OutOfRange(typed.to_string());
    if let Some(rest) = text.strip_prefix('-') {
        return Err(match parse_amount(rest) {
            Ok(_) => TimeError::NotForward(typed.to_string()),
            Err(_) => TimeError::UnknownMoment(typed.to_string()),
        });
    }
    let amount = parse_amount(text).map_err(|e| match e {
        AmountError::Syntax => TimeError::UnknownMoment(typed.to_string()),
        AmountError::Overflow => out_of_range(),
    })?;
    if amount.is_zero() {
        return Err(TimeError::NotForward(typed.to_string()));
    }
    let mut moment = now;
    if amount.days != 0 {
        let local = tz.to_datetime(now);
        let days = Span::new()
            .try_days(amount.days)
            .map_err(|_| out_of_range())?;
        let date = local.date().checked_add(days).map_err(|_| out_of_range())?;
        moment = resolve(tz, date.to_datetime(local.time())).ok_or_else(out_of_range)?;
    }
    moment
        .checked_add(SignedDuration::from_secs(amount.seconds))
        .map_err(|_| out_of_range())
}

/// An RFC 3339 / ISO 8601 moment with an offset or `Z`, if the input is one.
fn parse_exact(typed: &str) -> Option<Timestamp> {
    typed
        .parse::<Timestamp>()
        .or_else(|_| typed.to_ascii_uppercase().parse::<Timestamp>())
        .ok()
}

/// Resolve `[day words] [at] HH:MM` or `HH:MM [day words]` to a moment in `tz`.
fn parse_wall_clock(
    words: &[&str],
    typed: &str,
    now: Timestamp,
    tz: &TimeZone,
) -> Result<Timestamp, TimeError> {
    let words = split_iso_words(words);
    let (day_words, clock) = split_day_and_clock(&words);
    let today = tz.to_datetime(now).date();
    let date = match resolve_day(&day_words, today, typed) {
        Some(date) => date?,
        None => return Err(TimeError::UnknownMoment(typed.to_string())),
    };
    let Some(clock) = clock else {
        return Err(if day_words.is_empty() {
            TimeError::UnknownMoment(typed.to_string())
        } else {
            TimeError::MissingTime(typed.to_string())
        });
    };
    let time = parse_clock(clock).ok_or_else(|| TimeError::BadClock(typed.to_string()))?;
    resolve(tz, date.to_datetime(time)).ok_or_else(|| TimeError::OutOfRange(typed.to_string()))
}

/// Split ISO words like `2026-11-27t10:00` into a date word and a clock word.
fn split_iso_words<'a>(words: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::with_capacity(words.len() + 1);
    for &word in words {
        match word.split_once('t') {
            Some((date, clock)) if looks_like_date(date) => out.extend([date, clock]),
            _ => out.push(word),
        }
    }
    out
}

/// Separate the clock word (`14:30`, wherever it stands first or last) from
/// the words naming the day; a connecting `at` is dropped.
fn split_day_and_clock<'a>(words: &[&'a str]) -> (Vec<&'a str>, Option<&'a str>) {
    let mut day: Vec<&str> = words.to_vec();
    let mut clock = None;
    if let Some(&last) = day.last().filter(|w| looks_like_clock(w)) {
        clock = Some(last);
        day.pop();
    } else if let Some(&first) = day.first().filter(|w| looks_like_clock(w)) {
        clock = Some(first);
        day.remove(0);
    }
    if clock.is_some() && day.last() == Some(&"at") {
        day.pop();
    }
    (day, clock)
}

/// The date named by the day words, relative to `today`; `None` if they name
/// no day. No words at all mean today.
fn resolve_day(words: &[&str], today: Date, typed: &str) -> Option<Result<Date, TimeError>> {
    let out_of_range = || TimeError::OutOfRange(typed.to_string());
    let date = match words {
        [] | ["today"] => Ok(today),
        ["tomorrow"] => today.tomorrow().map_err(|_| out_of_range()),
        ["next", "business" | "working", "day"] => {
            next_matching(today, |d| !matches!(d, Weekday::Saturday | Weekday::Sunday))
                .ok_or_else(out_of_range)
        }
        ["next", name] | [name] if weekday_named(name).is_some() => {
            let wanted = weekday_named(name)?;
            next_matching(today, |d| d == wanted).ok_or_else(out_of_range)
        }
        [word] if looks_like_date(word) => {
            parse_date(word).ok_or_else(|| TimeError::BadDate(typed.to_string()))
        }
        _ => return None,
    };
    Some(date)
}

/// The first day strictly after `today` whose weekday satisfies `wanted`.
fn next_matching(today: Date, wanted: impl Fn(Weekday) -> bool) -> Option<Date> {
    let mut day = today;
    for _ in 0..7 {
        day = day.tomorrow().ok()?;
        if wanted(day.weekday()) {
            return Some(day);
        }
    }
    None
}

/// A weekday by full or abbreviated English name.
fn weekday_named(word: &str) -> Option<Weekday> {
    Some(match word {
        "monday" | "mon" => Weekday::Monday,
        "tuesday" | "tue" | "tues" => Weekday::Tuesday,
        "wednesday" | "wed" => Weekday::Wednesday,
        "thursday" | "thu" | "thur" | "thurs" => Weekday::Thursday,
        "friday" | "fri" => Weekday::Friday,
        "saturday" | "sat" => Weekday::Saturday,
        "sunday" | "sun" => Weekday::Sunday,
        _ => return None,
    })
}

/// Whether a word has the shape `YYYY-MM-DD` (digits and dashes only).
fn looks_like_date(word: &str) -> bool {
    let parts: Vec<&str> = word.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return false;
    };
    let digits = |p: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    digits(year, 4..=4) && digits(month, 1..=2) && digits(day, 1..=2)
}

/// Whether a word has the shape of a clock time (digits and colons, one colon at least).
fn looks_like_clock(word: &str) -> bool {
    word.contains(':') && word.bytes().all(|b| b.is_ascii_digit() || b == b':')
}

/// A real calendar date from a word of the shape `YYYY-MM-DD`.
fn parse_date(word: &str) -> Option<Date> {
    let mut parts = word.split('-');
    let year: i16 = parts.next()?.parse().ok()?;
    let month: i8 = parts.next()?.parse().ok()?;
    let day: i8 = parts.next()?.parse().ok()?;
    Date::new(year, month, day).ok()
}

/// A time of day from `H:MM`, `HH:MM` or `HH:MM:SS` (24-hour clock).
fn parse_clock(word: &str) -> Option<Time> {
    let parts: Vec<&str> = word.split(':').collect();
    let (hour, minute, second) = match parts.as_slice() {
        [h, m] => (*h, *m, "00"),
        [h, m, s] => (*h, *m, *s),
        _ => return None,
    };
    if !(1..=2).contains(&hour.len()) || minute.len() != 2 || second.len() != 2 {
        return None;
    }
    Time::new(
        hour.parse().ok()?,
        minute.parse().ok()?,
        second.parse().ok()?,
        0,
    )
    .ok()
}

/// The instant a wall-clock time in `tz` means, with "compatible"
/// disambiguation for gaps and folds; `None` if out of range.
fn resolve(tz: &TimeZone, datetime: DateTime) -> Option<Timestamp> {
    tz.to_ambiguous_timestamp(datetime).compatible().ok()
}

/// The zone name shown after a time: the abbreviation jiff gives for `t`, or
/// `UTC+hh[:mm]` when that abbreviation is only a number like `+04`.
fn zone_label(tz: &TimeZone, t: Timestamp) -> String {
    let info = tz.to_offset_info(t);
    let abbreviation = info.abbreviation();
    let numeric = abbreviation.is_empty()
        || abbreviation.starts_with(['+', '-'])
        || abbreviation.starts_with(|c: char| c.is_ascii_digit());
    if numeric {
        utc_offset_label(info.offset())
    } else {
        abbreviation.to_string()
    }
}

/// An offset as `UTC`, `UTC+04`, `UTC-03` or `UTC+05:30`.
fn utc_offset_label(offset: Offset) -> String {
    let seconds = offset.seconds();
    if seconds == 0 {
        return "UTC".to_string();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    let (hours, minutes) = (minutes / 60, minutes % 60);
    if minutes == 0 {
        format!("UTC{sign}{hours:02}")
    } else {
        format!("UTC{sign}{hours:02}:{minutes:02}")
    }
}

/// "1 hour", "2 hours".
pub fn plural(count: u64, unit: &str) -> String {
    if count == 1 {
        format!("{count} {unit}")
    } else {
        format!("{count} {unit}s")
    }
}

/// "Mon" … "Sun".
fn weekday_abbreviation(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "Mon",
        Weekday::Tuesday => "Tue",
        Weekday::Wednesday => "Wed",
        Weekday::Thursday => "Thu",
        Weekday::Friday => "Fri",
        Weekday::Saturday => "Sat",
        Weekday::Sunday => "Sun",
    }
}

/// "Jan" … "Dec" for months 1 to 12.
fn month_abbreviation(month: i8) -> &'static str {
    const NAMES: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    usize::try_from(month)
        .ok()
        .and_then(|m| m.checked_sub(1))
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("???")
}

/// A moment as machines read it: RFC 3339 in UTC, whole seconds (`2026-11-26T13:05:00Z`).
pub fn rfc3339(t: Timestamp) -> String {
    t.round(jiff::Unit::Second).unwrap_or(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Saturday 2026-10-24, 22:00 CEST: the evening before Berlin falls back.
    const NOW: &str = "2026-10-24T20:00:00Z";
    /// Friday 2026-10-23, 14:00 CEST.
    const FRIDAY: &str = "2026-10-23T12:00:00Z";

    fn ts(text: &str) -> Timestamp {
        text.parse().expect("test timestamp")
    }

    fn berlin() -> TimeZone {
        zone("Europe/Berlin").expect("Europe/Berlin in the tz database")
    }

    fn unknown(input: &str) -> String {
        format!("`{input}` is not a time I understand; try {MOMENT_EXAMPLES}")
    }

    /// Run `parse` and render the result as an RFC 3339 UTC string or the error message.
    fn outcome(result: Result<Timestamp, TimeError>) -> Result<String, String> {
        result.map(|t| t.to_string()).map_err(|e| e.to_string())
    }

    #[test]
    fn parse_moment_table() {
        let ok = |s: &str| Ok::<String, String>(s.to_string());
        let err = |s: &str| Err::<String, String>(s.to_string());
        let cases: Vec<(&str, &str, Result<String, String>)> = vec![
            (NOW, "now", ok("2026-10-24T20:00:00Z")),
            (NOW, "  NOW  ", ok("2026-10-24T20:00:00Z")),
            // Today, even if already past.
            (NOW, "14:30", ok("2026-10-24T12:30:00Z")),
            (NOW, "23:15", ok("2026-10-24T21:15:00Z")),
            (NOW, "9:05", ok("2026-10-24T07:05:00Z")),
            (NOW, "at 23:15:30", ok("2026-10-24T21:15:30Z")),
            // Local dates and times; November is winter time (CET, UTC+1).
            (NOW, "2026-11-27 10:00", ok("2026-11-27T09:00:00Z")),
            (NOW, "2026-11-27T10:00", ok("2026-11-27T09:00:00Z")),
            (NOW, "2026-11-27t10:00:30", ok("2026-11-27T09:00:30Z")),
            // RFC 3339 with offset or Z.
            (NOW, "2026-11-27T10:00:00+01:00", ok("2026-11-27T09:00:00Z")),
            (NOW, "2026-11-27T09:00:00Z", ok("2026-11-27T09:00:00Z")),
            (NOW, "2026-11-27t09:00:00z", ok("2026-11-27T09:00:00Z")),
            (NOW, "today 23:30", ok("2026-10-24T21:30:00Z")),
            // Tomorrow is after the fall-back: 10:00 CET.
            (NOW, "tomorrow 10:00", ok("2026-10-25T09:00:00Z")),
            (NOW, "Tomorrow at 10:00", ok("2026-10-25T09:00:00Z")),
            (NOW, "10:00 tomorrow", ok("2026-10-25T09:00:00Z")),
            // +1d keeps 22:00 wall clock: 22:00 CET is 25 h after 22:00 CEST.
            (NOW, "+1d", ok("2026-10-25T21:00:00Z")),
            (NOW, "in 2 days", ok("2026-10-26T21:00:00Z")),
            (NOW, "in 1 day 2 hours", ok("2026-10-25T23:00:00Z")),
            (NOW, "in 1 week", ok("2026-10-31T21:00:00Z")),
            // Hours are exact: +24h is not +1d across the change.
            (NOW, "+24h", ok("2026-10-25T20:00:00Z")),
            (NOW, "in 30 minutes", ok("2026-10-24T20:30:00Z")),
            (NOW, "in 2 hours", ok("2026-10-24T22:00:00Z")),
            (NOW, "in 1h30m", ok("2026-10-24T21:30:00Z")),
            (NOW, "in 90s", ok("2026-10-24T20:01:30Z")),
            (NOW, "+2h", ok("2026-10-24T22:00:00Z")),
            (NOW, "+30m", ok("2026-10-24T20:30:00Z")),
            // Weekdays: strictly after today (a Saturday).
            (NOW, "next monday 09:00", ok("2026-10-26T08:00:00Z")),
            (NOW, "mon 09:00", ok("2026-10-26T08:00:00Z")),
            (NOW, "Saturday 09:00", ok("2026-10-31T08:00:00Z")),
            (NOW, "next business day 10:00", ok("2026-10-26T09:00:00Z")),
            (
                FRIDAY,
                "next business day 10:00",
                ok("2026-10-26T09:00:00Z"),
            ),
            (
                FRIDAY,
                "next working day at 08:30",
                ok("2026-10-26T07:30:00Z"),
            ),
            // Fall-back fold: 02:30 happens twice; the earlier one (CEST) wins.
            (NOW, "sunday 02:30", ok("2026-10-25T00:30:00Z")),
            // Spring-forward gap: 02:30 does not exist; it moves to 03:30 CEST.
            (NOW, "2027-03-28 02:30", ok("2027-03-28T01:30:00Z")),
            // Errors.
            (NOW, "tomorow 10:00", err(&unknown("tomorow 10:00"))),
            (NOW, "banana", err(&unknown("banana"))),
            (NOW, "in 30", err(&unknown("in 30"))),
            (NOW, "in 5 fortnights", err(&unknown("in 5 fortnights"))),
            (NOW, "next 10:00", err(&unknown("next 10:00"))),
            (
                NOW,
                "",
                err(
                    "no time was given; try `14:30`, `in 30 minutes`, `tomorrow 10:00`, \
                     `next monday 09:00`, `+2h` or `2026-11-27T10:00:00+01:00`",
                ),
            ),
            (NOW, "   ", err(&TimeError::EmptyMoment.to_string())),
            (
                NOW,
                "in 0 minutes",
                err(
                    "`in 0 minutes` does not point into the future; use an amount above zero, \
                     e.g. `in 30 minutes` or `+2h`",
                ),
            ),
            (
                NOW,
                "-2h",
                err(&TimeError::NotForward("-2h".into()).to_string()),
            ),
            (
                NOW,
                "tomorrow",
                err("`tomorrow` names a day but not a time; add one, e.g. `tomorrow 10:00`"),
            ),
            (
                NOW,
                "2026-11-27",
                err("`2026-11-27` names a day but not a time; add one, e.g. `2026-11-27 10:00`"),
            ),
            (
                NOW,
                "25:00",
                err(
                    "`25:00` has a time of day that does not exist; use 24-hour `HH:MM` \
                     from `00:00` to `23:59`, e.g. `14:30`",
                ),
            ),
            (
                NOW,
                "2026-02-30 10:00",
                err(
                    "`2026-02-30 10:00` has a date that does not exist; use `YYYY-MM-DD` \
                     with a real day, e.g. `2026-11-27 10:00`",
                ),
            ),
            (
                NOW,
                "+99999999999d",
                err(
                    "`+99999999999d` is too far away for me to handle; use a smaller amount \
                     or a nearer date",
                ),
            ),
        ];
        assert!(cases.len() >= 25);
        let tz = berlin();
        for (now, input, expected) in cases {
            let got = outcome(parse_moment(input, ts(now), &tz));
            assert_eq!(got, expected, "input {input:?} at {now}");
        }
    }

    #[test]
    fn parse_future_rejects_the_past() {
        let tz = berlin();
        let now = ts(NOW);
        assert_eq!(
            outcome(parse_future("14:30", now, &tz)),
            Err(
                "`14:30` means 14:30 CEST, which is in the past; for the next day write \
                 `tomorrow 14:30`"
                    .to_string()
            )
        );
        assert_eq!(
            outcome(parse_future("2026-10-20 09:15", now, &tz)),
            Err(
                "`2026-10-20 09:15` means Tue 20 Oct, 09:15 CEST, which is in the past; \
                 for the next day write `tomorrow 09:15`"
                    .to_string()
            )
        );
        // Within a minute of now still counts.
        assert_eq!(
            outcome(parse_future("21:59:30", now, &tz)),
            Ok("2026-10-24T19:59:30Z".into())
        );
        assert_eq!(
            outcome(parse_future("23:15", now, &tz)),
            Ok("2026-10-24T21:15:00Z".into())
        );
        assert_eq!(outcome(parse_future("now", now, &tz)), Ok(NOW.into()));
        // Errors from parsing pass through.
        assert_eq!(parse_future("", now, &tz), Err(TimeError::EmptyMoment));
    }

    #[test]
    fn parse_duration_table() {
        let cases: &[(&str, Result<i64, &str>)] = &[
            ("90s", Ok(90)),
            ("30m", Ok(1_800)),
            ("2h", Ok(7_200)),
            ("1h30m", Ok(5_400)),
            ("1h 30m", Ok(5_400)),
            ("2h 15m", Ok(8_100)),
            ("45 minutes", Ok(2_700)),
            ("1 hour 30 minutes", Ok(5_400)),
            ("1 hour and 30 minutes", Ok(5_400)),
            ("2 days", Ok(172_800)),
            ("1d", Ok(86_400)),
            ("  2H ", Ok(7_200)),
            ("1 sec", Ok(1)),
            (
                "",
                Err(
                    "no duration was given; try `90s`, `30m`, `2h`, `1h30m`, `45 minutes` or `2 days`",
                ),
            ),
            (
                "5",
                Err(
                    "`5` is not a duration I understand; try `90s`, `30m`, `2h`, `1h30m`, `45 minutes` or `2 days`",
                ),
            ),
            (
                "1 30m",
                Err(
                    "`1 30m` is not a duration I understand; try `90s`, `30m`, `2h`, `1h30m`, `45 minutes` or `2 days`",
                ),
            ),
            (
                "1.5h",
                Err(
                    "`1.5h` is not a duration I understand; try `90s`, `30m`, `2h`, `1h30m`, `45 minutes` or `2 days`",
                ),
            ),
            (
                "soon",
                Err(
                    "`soon` is not a duration I understand; try `90s`, `30m`, `2h`, `1h30m`, `45 minutes` or `2 days`",
                ),
            ),
            (
                "0m",
                Err(
                    "`0m` is not a positive duration; use an amount above zero, e.g. `30m` or `1h30m`",
                ),
            ),
            (
                "-5m",
                Err(
                    "`-5m` is not a positive duration; use an amount above zero, e.g. `30m` or `1h30m`",
                ),
            ),
            (
                "99999999999999999999s",
                Err(
                    "`99999999999999999999s` is too far away for me to handle; use a smaller amount or a nearer date",
                ),
            ),
        ];
        for (input, expected) in cases {
            let got = parse_duration(input)
                .map(|d| d.as_secs())
                .map_err(|e| e.to_string());
            assert_eq!(got, expected.map_err(str::to_string), "input {input:?}");
        }
    }

    #[test]
    fn describe_minutes_table() {
        let cases = [
            (0, false, "0 minutes"),
            (59, false, "0 minutes"),
            (59, true, "1 minute"),
            (600, true, "10 minutes"),
            (599, true, "10 minutes"),
            (601, false, "10 minutes"),
            (8_100, false, "2 hours 15 minutes"),
        ];
        for (secs, up, expected) in cases {
            let got = describe_minutes(SignedDuration::from_secs(secs), up);
            assert_eq!(got, expected, "{secs} s, round up: {up}");
        }
    }

    #[test]
    fn describe_duration_table() {
        let cases: &[(i64, &str)] = &[
            (0, "0 seconds"),
            (1, "1 second"),
            (30, "30 seconds"),
            (60, "1 minute"),
            (1_800, "30 minutes"),
            (3_600, "1 hour"),
            (5_400, "1 hour 30 minutes"),
            (3_661, "1 hour 1 minute"),
            (86_400 + 30, "1 day 30 seconds"),
            (2 * 86_400 + 3 * 3_600 + 5 * 60, "2 days 3 hours"),
            (-90, "minus 1 minute 30 seconds"),
        ];
        for &(seconds, expected) in cases {
            assert_eq!(
                describe_duration(SignedDuration::from_secs(seconds)),
                expected
            );
        }
        assert_eq!(
            describe_duration(SignedDuration::from_millis(500)),
            "0 seconds"
        );
    }

    #[test]
    fn display_moment_names_the_zone() {
        let tz = berlin();
        let now = ts(NOW);
        assert_eq!(
            display_moment(ts("2026-10-24T12:30:00Z"), now, &tz),
            "14:30 CEST"
        );
        assert_eq!(
            display_moment(ts("2026-11-27T09:00:00Z"), now, &tz),
            "Fri 27 Nov, 10:00 CET"
        );
        assert_eq!(
            display_moment(ts("2027-01-05T09:00:00Z"), now, &tz),
            "Tue 5 Jan 2027, 10:00 CET"
        );
        let utc = zone("UTC").expect("UTC");
        assert_eq!(
            display_moment(ts("2026-10-24T23:45:00Z"), now, &utc),
            "23:45 UTC"
        );
        let london = zone("Europe/London").expect("London");
        assert_eq!(
            display_moment(ts("2026-10-24T20:30:00Z"), now, &london),
            "21:30 BST"
        );
        let new_york = zone("America/New_York").expect("New York");
        assert_eq!(
            display_moment(ts("2026-12-01T15:00:00Z"), now, &new_york),
            "Tue 1 Dec, 10:00 EST"
        );
    }

    #[test]
    fn display_moment_spells_numeric_abbreviations() {
        let now = ts(NOW);
        // Dubai: "+04"; 20:30Z is 00:30 on the 25th, the same local day as now.
        let dubai = zone("Asia/Dubai").expect("Dubai");
        assert_eq!(
            display_moment(ts("2026-10-24T20:30:00Z"), now, &dubai),
            "00:30 UTC+04"
        );
        // Colombo: "+0530".
        let colombo = zone("Asia/Colombo").expect("Colombo");
        assert_eq!(
            display_moment(ts("2026-10-24T12:00:00Z"), now, &colombo),
            "Sat 24 Oct, 17:30 UTC+05:30"
        );
        assert_eq!(
            utc_offset_label(Offset::from_seconds(-3 * 3_600).expect("offset")),
            "UTC-03"
        );
    }

    #[test]
    fn zone_names() {
        assert!(zone("Europe/Berlin").is_ok());
        assert!(zone(" UTC ").is_ok());
        assert_eq!(
            zone("Europe/Berln").map_err(|e| e.to_string()),
            Err(
                "`Europe/Berln` is not a time zone I know; use an IANA name such as \
                 `Europe/Berlin` or `UTC`"
                    .to_string()
            )
        );
        assert_eq!(zone(""), Err(TimeError::UnknownZone(String::new())));
    }
}
