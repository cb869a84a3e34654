//! The relay's configuration: one typed struct, read from a TOML file, then overridden by
//! environment variables. Every default is here.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The relay's settings.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. Default `127.0.0.1:8080`; env `GIAOBAN_RELAY_LISTEN`.
    pub listen: String,
    /// Folder of the embedded SQLite store. Default `./relay-data`; env `GIAOBAN_RELAY_DATA_DIR`.
    pub data_dir: PathBuf,
    /// Largest request body accepted, in bytes. Default 8 MiB; env `GIAOBAN_RELAY_MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// A request taking longer than this many seconds is cut off. Default 60.
    pub request_timeout_secs: u64,
    /// How long a new enrollment code works, in hours. Default 72.
    pub enrollment_valid_hours: u32,
    /// Largest size of the relay database in kilobytes; 0 for no limit (the disk is the
    /// limit). Default 0; env `GIAOBAN_RELAY_MAX_DATABASE_KB`.
    pub max_database_kb: u64,
    /// Sync requests one device may make per minute before it gets 429. Default 600; env
    /// `GIAOBAN_RELAY_MAX_SYNCS_PER_MINUTE`.
    pub max_syncs_per_minute: u32,
    /// Largest attached file accepted, in bytes. Default 25 MiB; env
    /// `GIAOBAN_RELAY_MAX_FILE_BYTES`.
    pub max_file_bytes: u64,
    /// Bytes of attached files one unit's devices may keep on the relay; 0 for no limit.
    /// Default 2 GiB; env `GIAOBAN_RELAY_MAX_UNIT_FILE_BYTES`.
    pub max_unit_file_bytes: u64,
    /// How long an attached file no record refers to any more (or a send abandoned half way)
    /// is kept before the collector removes it, in hours. Default 168 (a week).
    pub file_grace_hours: u64,
    /// Where attached files are kept: empty (the default) for the folder `files/` in the data
    /// folder, or `s3://bucket/prefix` for an S3-compatible object store that several relays
    /// share, its credentials, region and endpoint from the usual `AWS_*` variables
    /// (`AWS_ENDPOINT` for a store other than Amazon's). Env `GIAOBAN_RELAY_FILE_STORE`.
    pub file_store: String,
    /// Settings of the object store, by their `object_store` names (`aws_endpoint`,
    /// `aws_region`, `aws_allow_http`, `aws_access_key_id`, …), over the `AWS_*` variables.
    /// Default none.
    pub file_store_options: std::collections::BTreeMap<String, String>,
    /// Whether the desk's cookies are marked Secure (sent only over HTTPS): set it when the
    /// relay is reached through a TLS front such as Caddy. Default false; env
    /// `GIAOBAN_RELAY_DESK_SECURE_COOKIE` (`true`/`false`).
    pub desk_secure_cookie: bool,
    /// The address staff and devices reach the relay at through a front such as Caddy or nginx
    /// ("https://giaoban.dongnai.example"). The desk accepts forms whose browser says they come
    /// from it, and puts it in enrollment QR codes. Default none: the request's Host is used.
    /// Env `GIAOBAN_RELAY_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// Whether the relay sits behind a front that sets `X-Forwarded-For`: sign-in attempts are
    /// then limited per address the front saw, not per front. Leave it off when the relay is
    /// reached directly (anyone could set the header). Default false; env
    /// `GIAOBAN_RELAY_TRUST_FORWARDED_FOR`.
    pub trust_forwarded_for: bool,
    /// A bearer token that lets a caller from anywhere read `GET /metrics` (a Prometheus on
    /// another machine). Without it, only requests from loopback that did not come through a
    /// front may read them; everyone else gets 404. At least 16 characters. Default none; env
    /// `GIAOBAN_RELAY_METRICS_TOKEN`.
    pub metrics_token: Option<Secret>,
}

/// A setting that must not be printed (its `Debug` hides it).
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret `s`.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The shortest `metrics_token` accepted.
const MIN_TOKEN_CHARS: usize = 16;

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./relay-data"),
            max_body_bytes: 8 * 1024 * 1024,
            request_timeout_secs: 60,
            enrollment_valid_hours: 72,
            max_syncs_per_minute: 600,
            max_database_kb: 0,
            max_file_bytes: 25 * 1024 * 1024,
            max_unit_file_bytes: 2 * 1024 * 1024 * 1024,
            file_grace_hours: 168,
            file_store: String::new(),
            file_store_options: Default::default(),
            desk_secure_cookie: false,
            public_url: None,
            trust_forwarded_for: false,
            metrics_token: None,
        }
    }
}

impl Config {
    /// Reads `path` if given (defaults otherwise), then applies environment overrides.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let mut config = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    anyhow::anyhow!("cannot read the configuration file {}: {e}", p.display())
                })?;
                toml::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("configuration file {}: {e}", p.display()))?
            }
            None => Config::default(),
        };
        if let Ok(v) = std::env::var("GIAOBAN_RELAY_LISTEN") {
            config.listen = v;
        }
        if let Ok(v) = std::env::var("GIAOBAN_RELAY_DATA_DIR") {
            config.data_dir = PathBuf::from(v);
        }
        if let Ok(v) = std::env::var("GIAOBAN_RELAY_MAX_BODY_BYTES") {
            config.max_body_bytes = v.parse().map_err(|_| {
                anyhow::anyhow!("GIAOBAN_RELAY_MAX_BODY_BYTES must be a number of bytes, not '{v}'")
            })?;
        }
        if let Ok(v) = std::env::var("GIAOBAN_RELAY_MAX_DATABASE_KB") {
            config.max_database_kb = v.parse().map_err(|_| {
                anyhow::anyhow!(
                    "GIAOBAN_RELAY_MAX_DATABASE_KB must be a whole number of kilobytes, not '{v}'"
                )
            })?;
        }
        if let Ok(v) = std::env::var("GIAOBAN_RELAY_MAX_SYNCS_PER_MINUTE") {
            config.max_syncs_per_minute = v.parse().map_err(|_| {
                anyhow::anyhow!("GIAOBAN_RELAY_MAX_SYNCS_PER_MINUTE must be a whole number, not '{v}'")
            })?;
        }
        if let Ok(v) = std::env::var("GIAOBAN_RELAY_MAX_FILE_BYTES") {
            config.max_file_bytes = v.parse().map_err(|_| {
                anyhow::anyhow!("GIAOBAN_RELAY_MAX_FILE_BYTES must be a number of bytes, not '{v}'")
            })?;
        }
        if let Ok(v) = std::env::var("GIAOBAN_RELAY_MAX_UNIT_FILE_BYTES") {
            config.max_unit_file_bytes = v.parse().map_err(|_| {
                anyhow::anyhow!("GIAOBAN_RELAY_MAX_UNIT_FILE_BYTES must be a number of bytes, not '{v}'")
            })?;
        }
        if let Ok(v) = std::env::var("GIAOBAN_RELAY_FILE_STORE") {
            config.file_store = v.trim().to_string();
        }
        if let Ok(v) = std::env::var("GIAOBAN_RELAY_DESK_SECURE_COOKIE") {
            config.desk_secure_cookie = v.parse().map_err(|_| {
                anyhow::anyhow!("GIAOBAN_RELAY_DESK_SECURE_COOKIE must be true or false, not '{v}'")
            })?;
        }
        if let Ok(v) = std::env::var("GIAOBAN_RELAY_PUBLIC_URL") {
            config.public_url = Some(v).filter(|v| !v.trim().is_empty());
        }
        if let Ok(v) = std::env::var("GIAOBAN_RELAY_TRUST_FORWARDED_FOR") {
            config.trust_forwarded_for = v.parse().map_err(|_| {
                anyhow::anyhow!("GIAOBAN_RELAY_TRUST_FORWARDED_FOR must be true or false, not '{v}'")
            })?;
        }
        if let Ok(v) = std::env::var("GIAOBAN_RELAY_METRICS_TOKEN") {
            config.metrics_token = Some(v).filter(|v| !v.trim().is_empty()).map(Secret);
        }
        if let Some(token) = &config.metrics_token
            && (token.0.trim().chars().count() < MIN_TOKEN_CHARS || token.0.trim() != token.0)
        {
            anyhow::bail!(
                "metrics_token must be at least {MIN_TOKEN_CHARS} characters with no spaces around it (try: openssl rand -hex 24)"
            );
        }
        if let Some(url) = &config.public_url {
            let url = url.trim().trim_end_matches('/').to_string();
            if !(url.starts_with("https://") || url.starts_with("http://"))
                || url[url.find("//").unwrap_or(0) + 2..].contains('/')
            {
                anyhow::bail!(
                    "public_url must be a scheme and host such as https://giaoban.dongnai.example, not '{url}'"
                );
            }
            config.public_url = Some(url);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn file_overrides_defaults_and_unknown_keys_are_refused() {
        let c: Config = toml::from_str("listen = \"0.0.0.0:9000\"").unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.data_dir, PathBuf::from("./relay-data"));
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
    }

    #[test]
    fn the_metrics_token_is_read_but_never_printed() {
        let c: Config = toml::from_str("metrics_token = \"0123456789abcdef-token\"").unwrap();
        assert_eq!(c.metrics_token.as_ref().map(Secret::expose), Some("0123456789abcdef-token"));
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
    }
}
