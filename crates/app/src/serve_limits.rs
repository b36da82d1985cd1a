//! The connection and storage-pool options of `roster serve`, read into their settings, and
//! the duration syntax those options share.

use std::time::Duration;

use storage_sql::PoolSettings;

use crate::cli::ServeArgs;
use crate::connections::ConnectionSettings;

/// A duration option's value is not `N`, `Nms`, `Ns`, `Nm`, `Nh` or `Nd`.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0:?} is not a duration: write seconds (10, 2.5, 10s), milliseconds (500ms), minutes (15m), hours (12h) or days (30d)"
)]
pub struct InvalidDuration(String);

/// Reads a duration option: plain seconds (`10`, `2.5`), `10s`, milliseconds (`500ms`),
/// minutes (`15m`), hours (`12h`) or days (`30d`), so options documented in seconds take
/// sub-second values too and token lifetimes read naturally.
///
/// # Errors
/// [`InvalidDuration`] for anything else, negative or not finite.
pub fn parse_duration(text: &str) -> Result<Duration, InvalidDuration> {
    let invalid = || InvalidDuration(text.to_owned());
    let trimmed = text.trim();
    let (number, unit) = if let Some(number) = trimmed.strip_suffix("ms") {
        (number, 0.001)
    } else if let Some(number) = trimmed.strip_suffix('s') {
        (number, 1.0)
    } else if let Some(number) = trimmed.strip_suffix('m') {
        (number, 60.0)
    } else if let Some(number) = trimmed.strip_suffix('h') {
        (number, 3600.0)
    } else if let Some(number) = trimmed.strip_suffix('d') {
        (number, 86_400.0)
    } else {
        (trimmed, 1.0)
    };
    let value: f64 = number.trim().parse().map_err(|_| invalid())?;
    Duration::try_from_secs_f64(value * unit).map_err(|_| invalid())
}

impl ServeArgs {
    /// The connection cap and timeouts these options ask for.
    pub fn connection_settings(&self) -> ConnectionSettings {
        ConnectionSettings {
            max_connections: self.max_connections,
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
        }
    }

    /// The storage pool these options ask for (the core-derived size when none is given).
    pub fn pool_settings(&self) -> PoolSettings {
        let default = PoolSettings::default();
        PoolSettings {
            max_connections: self.pool_size.unwrap_or(default.max_connections),
            acquire_timeout: self.pool_acquire_timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    #[test]
    fn durations_are_seconds_unless_marked_as_milliseconds() {
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("2.5").unwrap(), Duration::from_millis(2500));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration(" 0 ").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("12h").unwrap(), Duration::from_secs(43_200));
        assert_eq!(
            parse_duration("30d").unwrap(),
            Duration::from_secs(2_592_000)
        );
        for bad in ["", "ten", "-1", "5w", "1e400", "NaN", "m"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    fn serve_args(extra: &[&str]) -> ServeArgs {
        let cli = Cli::try_parse_from(["roster", "serve"].iter().chain(extra)).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        *args
    }

    #[test]
    fn the_limits_default_to_the_documented_values() {
        let args = serve_args(&[]);
        assert_eq!(args.connection_settings(), ConnectionSettings::default());
        assert_eq!(args.pool_settings(), PoolSettings::default());
    }

    #[test]
    fn the_limits_follow_their_options() {
        let args = serve_args(&[
            "--max-connections",
            "20",
            "--header-read-timeout",
            "2",
            "--idle-timeout",
            "500ms",
            "--pool-size",
            "3",
            "--pool-acquire-timeout",
            "1.5",
        ]);
        assert_eq!(
            args.connection_settings(),
            ConnectionSettings {
                max_connections: Some(20),
                header_read_timeout: Duration::from_secs(2),
                idle_timeout: Duration::from_millis(500),
            }
        );
        assert_eq!(
            args.pool_settings(),
            PoolSettings {
                max_connections: 3,
                acquire_timeout: Duration::from_millis(1500),
            }
        );
    }

    #[test]
    fn metrics_stay_off_unless_a_long_enough_token_is_given() {
        assert_eq!(serve_args(&[]).metrics_token, None);
        let token = "0123456789abcdef";
        assert_eq!(
            serve_args(&["--metrics-token", token]).metrics_token,
            Some(token.parse().unwrap())
        );
        let short = Cli::try_parse_from(["roster", "serve", "--metrics-token", "short"]);
        assert!(short.is_err(), "a short token is refused");
    }
}
