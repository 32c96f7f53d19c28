//! The one duration syntax of every flag: humantime's (`500ms`, `10s`, `2m`, `1h 30m`), or a
//! bare number of seconds (`10`, `1.5`), which earlier versions of `serve` required.

use std::time::Duration;

/// Parses a positive duration; zero is refused (a zero timeout or interval is always a mistake).
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))?
        }
        Ok(_) => return Err(format!("`{text}` is not a positive duration")),
        Err(_) => humantime::parse_duration(text)
            .map_err(|e| format!("`{text}` is not a duration like 500ms, 10s, 2m or 1h ({e})"))?,
    };
    if duration.is_zero() {
        return Err("a duration must be positive".to_owned());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_seconds() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse(" 1.5 "), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn zero_negative_and_nonsense_are_refused() {
        for text in [
            "",
            "s",
            "0",
            "0ms",
            "0s",
            "-1",
            "-1s",
            "1.2.3s",
            "five",
            "NaN",
            "inf",
            "5 parsecs",
        ] {
            assert!(parse(text).is_err(), "{text:?} was accepted");
        }
    }
}
