//! Free-form dates, as upstream reads `--timestamp` and `--keep-younger-than`: upstream
//! hands them to gnulib's `parse_datetime`, the parser behind `date -d`, so scripts write
//! `October 25 1985`, `1 week ago`, `2005-10-29 12:43:29 +0000` or `@1234567890`.
//!
//! This is our own reading of that grammar's documented items (see the coreutils manual,
//! "Date input formats"), in the same order of evaluation:
//!
//! ```text
//!   calendar date  2005-10-29  10/29/2005  10/29  29 Oct 2005  Oct 29, 2005  29-oct-2005
//!   time of day    12:43  12:43:29[.frac]  [am|pm]  [+HHMM | +HH:MM | +HH]
//!   time zone      UTC  GMT  UT  Z  [UTC]+HH[MM]
//!   day of week    [last|this|next|first..twelfth] Monday[,]
//!   relative       [N|ordinal] year|month|fortnight|week|day|hour|minute|min|second|sec[s] [ago]
//!                  yesterday  today  now  tomorrow
//!   bare number    a year after a date, else HHMM as a time, or YYYYMMDD as a date
//!   epoch          @SECONDS   (alone)
//! ```
//!
//! Missing date fields come from today's date in the local time zone; a date, time or day
//! of the week without a time of day means midnight. Years, months and days then move the
//! calendar date (overflow rolling on, as `mktime` normalises), the day of the week moves
//! forward to that day when no date was given, and hours, minutes and seconds are added to
//! the resulting instant.

use chrono::{DateTime, Datelike, Duration, FixedOffset, Local, NaiveDate, TimeZone, Timelike};

/// Seconds since the epoch for `text`, read against the current time in the local zone.
pub fn parse_datetime(text: &str) -> Option<i64> {
    parse_datetime_at(text, &Local::now())
}

/// [`parse_datetime`] against a given "now" (and its zone, for dates without one).
pub fn parse_datetime_at<Tz: TimeZone>(text: &str, now: &DateTime<Tz>) -> Option<i64> {
    let tokens = tokenize(text)?;
    if let [Token::At, rest @ ..] = tokens.as_slice() {
        return match rest {
            [Token::Num(n)] => Some(n.signed()),
            [Token::Num(n), Token::Dot, Token::Num(frac)] if frac.sign.is_none() => {
                Some(n.signed())
            }
            _ => None,
        };
    }
    let mut items = Items::default();
    if tokens.is_empty() {
        // Nothing at all is read as `0`: midnight today.
        items.set_time(0, 0, 0)?;
    }
    Parser {
        tokens: &tokens,
        pos: 0,
    }
    .parse_into(&mut items)?;
    items.resolve(now)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Number {
    value: i64,
    digits: usize,
    /// `Some(-1 | 1)` when written with a sign, which makes `-10` in `2005-10-29` a field.
    sign: Option<i64>,
}

impl Number {
    fn signed(self) -> i64 {
        self.value * self.sign.unwrap_or(1)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Num(Number),
    Word(String),
    Colon,
    Slash,
    Comma,
    Dot,
    Dash,
    At,
}

fn tokenize(text: &str) -> Option<Vec<Token>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let digits_at = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_digit);
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c' => i += 1,
            b'0'..=b'9' => {
                let start = i;
                while digits_at(i) {
                    i += 1;
                }
                tokens.push(Token::Num(number(&text[start..i], None)?));
            }
            b'+' | b'-' if digits_at(i + 1) => {
                let start = i + 1;
                i = start;
                while digits_at(i) {
                    i += 1;
                }
                let sign = if c == b'-' { -1 } else { 1 };
                tokens.push(Token::Num(number(&text[start..i], Some(sign))?));
            }
            b'-' => {
                tokens.push(Token::Dash);
                i += 1;
            }
            // A `+` not before digits says nothing.
            b'+' => i += 1,
            b':' | b'/' | b',' | b'.' | b'@' => {
                tokens.push(match c {
                    b':' => Token::Colon,
                    b'/' => Token::Slash,
                    b',' => Token::Comma,
                    b'.' => Token::Dot,
                    _ => Token::At,
                });
                i += 1;
            }
            b'(' => {
                // Parenthesised comments, nested, are skipped.
                let mut depth = 0usize;
                loop {
                    match bytes.get(i)? {
                        b'(' => depth += 1,
                        b')' => depth -= 1,
                        _ => {}
                    }
                    i += 1;
                    if depth == 0 {
                        break;
                    }
                }
            }
            c if c.is_ascii_alphabetic() => {
                let start = i;
                // Abbreviations may carry dots: `a.m.`, `Oct.`.
                while bytes
                    .get(i)
                    .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'.')
                {
                    i += 1;
                }
                let word: String = text[start..i]
                    .chars()
                    .filter(|c| *c != '.')
                    .map(|c| c.to_ascii_lowercase())
                    .collect();
                tokens.push(Token::Word(word));
            }
            _ => return None,
        }
    }
    Some(tokens)
}

fn number(digits: &str, sign: Option<i64>) -> Option<Number> {
    Some(Number {
        value: digits.parse().ok()?,
        digits: digits.len(),
        sign,
    })
}

fn month_number(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    if word == "sept" {
        return Some(9);
    }
    MONTHS
        .iter()
        .position(|m| *m == word || (word.len() == 3 && m.starts_with(word)))
        .map(|i| i as u32 + 1)
}

/// Sunday is 0, as `tm_wday` counts.
fn weekday_number(word: &str) -> Option<i64> {
    const DAYS: [&str; 7] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    let word = match word {
        "tues" => "tue",
        "wednes" => "wed",
        "thur" | "thurs" => "thu",
        w => w,
    };
    DAYS.iter()
        .position(|d| *d == word || (word.len() == 3 && d.starts_with(word)))
        .map(|i| i as i64)
}

fn ordinal(word: &str) -> Option<i64> {
    Some(match word {
        "last" => -1,
        "this" => 0,
        "next" | "first" => 1,
        "third" => 3,
        "fourth" => 4,
        "fifth" => 5,
        "sixth" => 6,
        "seventh" => 7,
        "eighth" => 8,
        "ninth" => 9,
        "tenth" => 10,
        "eleventh" => 11,
        "twelfth" => 12,
        _ => return None,
    })
}

#[derive(Clone, Copy)]
enum Unit {
    Years,
    Months,
    Days,
    Seconds,
}

/// A relative unit and how many of it one stands for.
fn unit(word: &str) -> Option<(Unit, i64)> {
    let singular = word.strip_suffix('s').unwrap_or(word);
    Some(match singular {
        "year" => (Unit::Years, 1),
        "month" => (Unit::Months, 1),
        "fortnight" => (Unit::Days, 14),
        "week" => (Unit::Days, 7),
        "day" => (Unit::Days, 1),
        "hour" => (Unit::Seconds, 3600),
        "minute" | "min" => (Unit::Seconds, 60),
        "second" | "sec" => (Unit::Seconds, 1),
        _ => return None,
    })
}

/// Offsets of the zone names the grammar knows without a time zone database.
fn zone_offset(word: &str) -> Option<i64> {
    matches!(word, "utc" | "gmt" | "ut" | "z").then_some(0)
}

#[derive(Default, Debug)]
struct Items {
    year: Option<(i64, usize)>,
    month: Option<u32>,
    day: Option<i64>,
    dates_seen: bool,
    time: Option<(i64, i64, i64)>,
    /// Seconds east of UTC.
    zone: Option<i64>,
    weekday: Option<(i64, i64)>,
    rel_years: i64,
    rel_months: i64,
    rel_days: i64,
    rel_seconds: i64,
    rels_seen: bool,
}

impl Items {
    fn set_date(&mut self, year: Option<Number>, month: u32, day: i64) -> Option<()> {
        if self.dates_seen {
            return None;
        }
        self.dates_seen = true;
        self.year = year.map(|y| (y.value, y.digits));
        self.month = Some(month);
        self.day = Some(day);
        Some(())
    }

    fn set_time(&mut self, hour: i64, minute: i64, second: i64) -> Option<()> {
        if self.time.is_some() || hour > 24 || minute > 59 || second > 60 {
            return None;
        }
        self.time = Some((hour, minute, second));
        Some(())
    }

    fn set_zone(&mut self, offset: i64) -> Option<()> {
        if self.zone.is_some() {
            return None;
        }
        self.zone = Some(offset);
        Some(())
    }

    fn add_relative(&mut self, (unit, per): (Unit, i64), count: i64) {
        let n = count * per;
        match unit {
            Unit::Years => self.rel_years += n,
            Unit::Months => self.rel_months += n,
            Unit::Days => self.rel_days += n,
            Unit::Seconds => self.rel_seconds += n,
        }
        self.rels_seen = true;
    }

    fn resolve<Tz: TimeZone>(&self, now: &DateTime<Tz>) -> Option<i64> {
        let year = match self.year {
            // Two-digit years are 1969-2068, as POSIX `date` reads them.
            Some((y, 2)) if y < 69 => y + 2000,
            Some((y, 2)) => y + 1900,
            Some((y, _)) => y,
            None => i64::from(now.year()),
        };
        let month = i64::from(self.month.unwrap_or(now.month()));
        let day = self.day.unwrap_or(i64::from(now.day()));
        let (hour, minute, second) = match self.time {
            Some(t) => t,
            None if self.dates_seen || self.weekday.is_some() => (0, 0, 0),
            None => (
                i64::from(now.hour()),
                i64::from(now.minute()),
                i64::from(now.second()),
            ),
        };
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        // The named date must exist (no February 30th) before relative items roll it on.
        let named = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month as u32, day as u32)?;
        let mut date = named;
        if let (Some((ordinal, weekday)), false) = (self.weekday, self.dates_seen) {
            let today = i64::from(date.weekday().num_days_from_sunday());
            let ahead = (weekday - today + 7) % 7
                + 7 * (ordinal - i64::from(ordinal > 0 && today != weekday));
            date = date.checked_add_signed(Duration::try_days(ahead)?)?;
        }
        date = add_calendar(date, self.rel_years, self.rel_months, self.rel_days)?;
        let local =
            date.and_hms_opt(0, 0, 0)? + Duration::try_seconds(hour * 3600 + minute * 60 + second)?;
        let instant = match self.zone {
            Some(offset) => FixedOffset::east_opt(i32::try_from(offset).ok()?)?
                .from_local_datetime(&local)
                .single()?
                .timestamp(),
            None => now
                .timezone()
                .from_local_datetime(&local)
                .earliest()?
                .timestamp(),
        };
        instant.checked_add(self.rel_seconds)
    }
}

/// Moves a date by years, months and days with `mktime`'s normalisation: January 31st plus
/// one month is March 3rd (or 2nd), not February's last day.
fn add_calendar(date: NaiveDate, years: i64, months: i64, days: i64) -> Option<NaiveDate> {
    let month0 = i64::from(date.month0()) + months;
    let year = i64::from(date.year()) + years + month0.div_euclid(12);
    let first = NaiveDate::from_ymd_opt(
        i32::try_from(year).ok()?,
        month0.rem_euclid(12) as u32 + 1,
        1,
    )?;
    first.checked_add_signed(Duration::try_days(i64::from(date.day()) - 1 + days)?)
}

struct Parser<'t> {
    tokens: &'t [Token],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self, ahead: usize) -> Option<&Token> {
        self.tokens.get(self.pos + ahead)
    }

    fn num(&self, ahead: usize) -> Option<Number> {
        match self.peek(ahead) {
            Some(Token::Num(n)) => Some(*n),
            _ => None,
        }
    }

    fn unsigned(&self, ahead: usize) -> Option<Number> {
        self.num(ahead).filter(|n| n.sign.is_none())
    }

    fn word(&self, ahead: usize) -> Option<&str> {
        match self.peek(ahead) {
            Some(Token::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn is(&self, ahead: usize, token: &Token) -> bool {
        self.peek(ahead) == Some(token)
    }

    fn parse_into(&mut self, items: &mut Items) -> Option<()> {
        while self.pos < self.tokens.len() {
            self.item(items)?;
        }
        Some(())
    }

    /// One item at the current position; `None` when nothing there parses.
    fn item(&mut self, items: &mut Items) -> Option<()> {
        if let Some(n) = self.unsigned(0) {
            if self.is(1, &Token::Colon) {
                return self.time_of_day(items);
            }
            // 2005-10-29
            if let (Some(m), Some(d)) = (self.num(1), self.num(2))
                && m.sign == Some(-1)
                && d.sign == Some(-1)
            {
                self.pos += 3;
                return items.set_date(Some(n), u32::try_from(m.value).ok()?, d.value);
            }
            if self.is(1, &Token::Slash) {
                return self.slashed_date(items);
            }
            // 29 Oct [1985], 29-Oct-1985
            let dash = usize::from(self.is(1, &Token::Dash));
            if let Some(month) = self.word(1 + dash).and_then(month_number) {
                self.pos += 2 + dash;
                let year = match self.num(0) {
                    Some(y) if y.sign.is_none() || (dash == 1 && y.sign == Some(-1)) => {
                        if self.is(1, &Token::Colon) {
                            None
                        } else {
                            self.pos += 1;
                            Some(Number { sign: None, ..y })
                        }
                    }
                    _ => None,
                };
                return items.set_date(year, month, n.value);
            }
            if let Some(word) = self.word(1) {
                if let Some(u) = unit(word) {
                    self.pos += 2;
                    return self.relative(items, u, n.value);
                }
                if let Some(pm) = meridian(word) {
                    self.pos += 2;
                    let hour = apply_meridian(n.value, Some(pm))?;
                    items.set_time(hour, 0, 0)?;
                    return self.optional_offset(items);
                }
            }
            self.pos += 1;
            return bare_number(items, n);
        }
        if let Some(n) = self.num(0) {
            // A signed number: a relative count, or a zone offset after a time.
            if let Some(u) = self.word(1).and_then(unit) {
                self.pos += 2;
                return self.relative(items, u, n.signed());
            }
            return None;
        }
        match self.peek(0)? {
            Token::Comma => {
                self.pos += 1;
                return Some(());
            }
            Token::Word(_) => {}
            _ => return None,
        }
        let word = self.word(0)?.to_owned();
        self.pos += 1;
        if let Some(month) = month_number(&word) {
            let day = self.num(0)?;
            self.pos += 1;
            let year = match day.sign {
                // Oct 29, 1985 (without the comma the year is a bare number after a date)
                None if self.is(0, &Token::Comma) && !self.is(2, &Token::Colon) => {
                    let year = self.unsigned(1);
                    if year.is_some() {
                        self.pos += 2;
                    }
                    year
                }
                None => None,
                // Oct-29-1985
                Some(-1) => match self.num(0) {
                    Some(y) if y.sign == Some(-1) => {
                        self.pos += 1;
                        Some(Number { sign: None, ..y })
                    }
                    _ => None,
                },
                Some(_) => return None,
            };
            return items.set_date(year, month, day.value);
        }
        if let Some(weekday) = weekday_number(&word) {
            return set_weekday(items, 0, weekday);
        }
        if let Some(ord) = ordinal(&word) {
            if let Some(weekday) = self.word(0).and_then(weekday_number) {
                self.pos += 1;
                return set_weekday(items, ord, weekday);
            }
            let u = self.word(0).and_then(unit)?;
            self.pos += 1;
            return self.relative(items, u, ord);
        }
        if let Some(u) = unit(&word) {
            return self.relative(items, u, 1);
        }
        let days = match word.as_str() {
            "yesterday" => Some(-1),
            "today" | "now" => Some(0),
            "tomorrow" => Some(1),
            _ => None,
        };
        if let Some(days) = days {
            items.add_relative((Unit::Days, 1), days);
            return Some(());
        }
        if let Some(offset) = zone_offset(&word) {
            items.set_zone(offset)?;
            // UTC+5, UTC-0130
            if let Some(n) = self.num(0).filter(|n| n.sign.is_some())
                && self.word(1).is_none_or(|w| unit(w).is_none())
            {
                self.pos += 1;
                items.zone = Some(offset + self.offset_seconds(n)?);
            }
            return Some(());
        }
        // The `T` between an ISO date and its time.
        if word == "t" && items.dates_seen && self.unsigned(0).is_some() {
            return Some(());
        }
        None
    }

    fn relative(&mut self, items: &mut Items, u: (Unit, i64), count: i64) -> Option<()> {
        let count = if self.word(0) == Some("ago") {
            self.pos += 1;
            -count
        } else {
            count
        };
        items.add_relative(u, count);
        Some(())
    }

    /// `HH:MM[:SS[.frac]] [am|pm] [offset]`.
    fn time_of_day(&mut self, items: &mut Items) -> Option<()> {
        let hour = self.unsigned(0)?.value;
        let minute = self.unsigned(2)?.value;
        self.pos += 3;
        let mut second = 0;
        if self.is(0, &Token::Colon) {
            second = self.unsigned(1)?.value;
            self.pos += 2;
            if self.is(0, &Token::Dot) && self.unsigned(1).is_some() {
                self.pos += 2;
            }
        }
        let pm = self.word(0).and_then(meridian);
        if pm.is_some() {
            self.pos += 1;
        }
        items.set_time(apply_meridian(hour, pm)?, minute, second)?;
        self.optional_offset(items)
    }

    /// A signed number right after a time is its zone offset, even before a unit: GNU reads
    /// `12:00 +2 hours` as noon at +02 plus one hour.
    fn optional_offset(&mut self, items: &mut Items) -> Option<()> {
        if let Some(n) = self.num(0).filter(|n| n.sign.is_some()) {
            self.pos += 1;
            let offset = self.offset_seconds(n)?;
            return items.set_zone(offset);
        }
        Some(())
    }

    /// `+HH`, `+HHMM` or `+HH:MM` as seconds east of UTC (consuming `:MM`).
    fn offset_seconds(&mut self, n: Number) -> Option<i64> {
        let (hours, minutes) = if self.is(0, &Token::Colon) {
            let m = self.unsigned(1)?;
            self.pos += 2;
            (n.value, m.value)
        } else if n.digits <= 2 {
            (n.value, 0)
        } else if n.digits == 4 {
            (n.value / 100, n.value % 100)
        } else {
            return None;
        };
        if hours > 24 || minutes > 59 {
            return None;
        }
        Some(n.sign.unwrap_or(1) * (hours * 3600 + minutes * 60))
    }

    /// `M/D`, `M/D/Y` or `Y/M/D` (when the first field has four digits).
    fn slashed_date(&mut self, items: &mut Items) -> Option<()> {
        let first = self.unsigned(0)?;
        let second = self.unsigned(2)?;
        self.pos += 3;
        let third = if self.is(0, &Token::Slash) {
            let t = self.unsigned(1)?;
            self.pos += 2;
            Some(t)
        } else {
            None
        };
        let month = |n: Number| u32::try_from(n.value).ok();
        match third {
            Some(day) if first.digits >= 4 => {
                items.set_date(Some(first), month(second)?, day.value)
            }
            Some(year) => items.set_date(Some(year), month(first)?, second.value),
            None => items.set_date(None, month(first)?, second.value),
        }
    }
}

fn set_weekday(items: &mut Items, ordinal: i64, weekday: i64) -> Option<()> {
    if items.weekday.is_some() {
        return None;
    }
    items.weekday = Some((ordinal, weekday));
    Some(())
}

/// `Some(true)` for pm.
fn meridian(word: &str) -> Option<bool> {
    match word {
        "am" => Some(false),
        "pm" => Some(true),
        _ => None,
    }
}

fn apply_meridian(hour: i64, pm: Option<bool>) -> Option<i64> {
    match pm {
        None => Some(hour),
        Some(_) if !(1..=12).contains(&hour) => None,
        Some(false) => Some(hour % 12),
        Some(true) => Some(hour % 12 + 12),
    }
}

/// A number standing alone: the year of a date that has none, else `HHMM` or `YYYYMMDD`.
fn bare_number(items: &mut Items, n: Number) -> Option<()> {
    if items.dates_seen
        && items.year.is_none()
        && !items.rels_seen
        && (items.time.is_some() || n.digits > 2)
    {
        items.year = Some((n.value, n.digits));
        return Some(());
    }
    if n.digits > 4 {
        let date = Number {
            value: n.value / 10000,
            digits: n.digits - 4,
            sign: None,
        };
        return items.set_date(
            Some(date),
            u32::try_from((n.value / 100) % 100).ok()?,
            n.value % 100,
        );
    }
    let (hour, minute) = if n.digits <= 2 {
        (n.value, 0)
    } else {
        (n.value / 100, n.value % 100)
    };
    items.set_time(hour, minute, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    /// Saturday 2026-12-05 10:20:30 UTC.
    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 10, 20, 30)
            .single()
            .expect("a valid instant")
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("a valid instant")
            .timestamp()
    }

    #[test]
    fn reads_the_forms_scripts_write() {
        let now_ts = now().timestamp();
        for (text, wanted) in [
            ("@1234567890", 1_234_567_890),
            ("@-5", -5),
            ("2005-10-29 12:43:29 +0000", at(2005, 10, 29, 12, 43, 29)),
            ("2005-10-29 12:43:29 +0200", at(2005, 10, 29, 10, 43, 29)),
            ("2005-10-29T12:43:29Z", at(2005, 10, 29, 12, 43, 29)),
            ("2005-10-29 12:43:29 -05:30", at(2005, 10, 29, 18, 13, 29)),
            ("2005-10-29", at(2005, 10, 29, 0, 0, 0)),
            ("October 25 1985", at(1985, 10, 25, 0, 0, 0)),
            ("November 05 1955", at(1955, 11, 5, 0, 0, 0)),
            ("Oct 25, 1985", at(1985, 10, 25, 0, 0, 0)),
            ("25 Oct 1985", at(1985, 10, 25, 0, 0, 0)),
            ("25-oct-1985", at(1985, 10, 25, 0, 0, 0)),
            (
                "Sat, 29 Oct 2005 12:43:29 +0000",
                at(2005, 10, 29, 12, 43, 29),
            ),
            ("10/29/2005", at(2005, 10, 29, 0, 0, 0)),
            ("2005/10/29", at(2005, 10, 29, 0, 0, 0)),
            ("10/29/05", at(2005, 10, 29, 0, 0, 0)),
            ("10/29/85", at(1985, 10, 29, 0, 0, 0)),
            ("October 20", at(2026, 10, 20, 0, 0, 0)),
            ("20051029", at(2005, 10, 29, 0, 0, 0)),
            ("12:00", at(2026, 12, 5, 12, 0, 0)),
            ("3pm", at(2026, 12, 5, 15, 0, 0)),
            ("12:30 am", at(2026, 12, 5, 0, 30, 0)),
            ("1 week ago", now_ts - 7 * 86_400),
            ("2 days ago", now_ts - 2 * 86_400),
            ("+1 day", now_ts + 86_400),
            ("-3 hours", now_ts - 3 * 3600),
            ("12:00 +2 hours", at(2026, 12, 5, 11, 0, 0)),
            ("1 hour ago", now_ts - 3600),
            ("yesterday", now_ts - 86_400),
            ("tomorrow", now_ts + 86_400),
            ("now", now_ts),
            ("today", now_ts),
            ("", at(2026, 12, 5, 0, 0, 0)),
            ("next week", now_ts + 7 * 86_400),
            ("last month", at(2026, 11, 5, 10, 20, 30)),
            ("2026-01-31 + 1 month", at(2026, 3, 3, 0, 0, 0)),
            ("October 25 1985 1 year ago", at(1984, 10, 25, 0, 0, 0)),
            ("monday", at(2026, 12, 7, 0, 0, 0)),
            ("saturday", at(2026, 12, 5, 0, 0, 0)),
            ("next saturday", at(2026, 12, 12, 0, 0, 0)),
            ("last friday", at(2026, 12, 4, 0, 0, 0)),
            ("12:00 UTC", at(2026, 12, 5, 12, 0, 0)),
            ("12:00 UTC+2", at(2026, 12, 5, 10, 0, 0)),
            ("(a comment) 1985-10-25", at(1985, 10, 25, 0, 0, 0)),
        ] {
            assert_eq!(parse_datetime_at(text, &now()), Some(wanted), "{text:?}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for text in [
            "bacon",
            "2020-13-01",
            "2020-02-30",
            "25:00",
            "12:61",
            "1985-10-25 1985-10-26",
            "@",
            "@12 1",
            "13pm",
            "October",
            "1 parsec ago",
            "12:00 +123456",
            "(unclosed",
            "µ",
        ] {
            assert_eq!(parse_datetime_at(text, &now()), None, "{text:?}");
        }
    }

    /// GNU `date -d` runs the grammar we follow: absolute forms must read the same, in UTC
    /// and in a zone an hour east (POSIX `XYZ-1`).
    #[test]
    fn reads_absolute_dates_as_gnu_date_does() {
        let east = FixedOffset::east_opt(3600).expect("one hour east");
        for text in [
            "October 25 1985",
            "Oct 25, 1985 13:14:15",
            "25 October 1985 1:02 pm",
            "Fri, 25 Oct 1985 23:59:59 -0130",
            "1985-10-25T08:00:00+05:00",
            "1985-10-25 08:00 UTC",
            "10/25/1985",
            "1985/10/25 12:00:01",
            "25-oct-1985",
            "oct-25-1985",
            "19851025",
            "1985-01-31 1 month",
            "1985-10-25 3 days ago",
            "1985-10-25 12:00 +2 hours",
            "1985-03-01 -1 day",
            "1985-10-25 next year",
            "@499000000",
        ] {
            for (tz, now) in [
                ("UTC", Utc::now().fixed_offset()),
                ("XYZ-1", Utc::now().with_timezone(&east)),
            ] {
                let out = std::process::Command::new("date")
                    .args(["-d", text, "+%s"])
                    .env("TZ", tz)
                    .output()
                    .expect("GNU date runs");
                assert!(out.status.success(), "date -d {text:?} failed");
                let gnu: i64 = String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse()
                    .expect("date prints seconds");
                assert_eq!(parse_datetime_at(text, &now), Some(gnu), "{text:?} in {tz}");
            }
        }
    }

    #[test]
    fn dates_without_a_zone_are_local() {
        let tz = FixedOffset::east_opt(3600).expect("one hour east");
        let now = now().with_timezone(&tz);
        assert_eq!(
            parse_datetime_at("1985-10-25 01:00", &now),
            Some(at(1985, 10, 25, 0, 0, 0))
        );
    }
}
