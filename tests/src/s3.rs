//! An S3 server for tests of the relay's object store of files: moto's (`pip install
//! 'moto[s3]' flask flask-cors`, which `scripts/test.sh` installs), started on a free port.
//! Without it the tests that need it say they were skipped, except in CI, where they fail.

use std::sync::Arc;
use std::time::Duration;

/// An S3 server of moto's on a free port, with a bucket made for the test.
pub struct S3Server {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.resume();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3Server {
    /// Starts `moto_server` (`GIAOBAN_MOTO_SERVER`, or found on the path) and makes `bucket`;
    /// `None`, with a message, when it is not installed and this is not CI.
    pub fn start(bucket: &str) -> Option<S3Server> {
        let program = std::env::var("GIAOBAN_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = match std::process::Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI runs the S3 suite: {program} could not be started ({e}); scripts/test.sh installs it"
                );
                eprintln!(
                    "skipped: no S3 server to test against ({program}: {e}); pip install 'moto[s3]' flask flask-cors"
                );
                return None;
            }
        };
        let server = S3Server { child, endpoint: format!("http://127.0.0.1:{port}") };
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let started = std::time::Instant::now();
        loop {
            if let Ok(resp) = agent.put(&format!("{}/{bucket}", server.endpoint)).send_empty()
                && resp.status().is_success()
            {
                return Some(server);
            }
            assert!(started.elapsed() < Duration::from_secs(60), "the S3 server did not start in a minute");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Pauses the server's process (SIGSTOP): a store that stops answering, as a frozen host
    /// or a firewall dropping packets does.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let _ = std::process::Command::new("kill").args([sig, &self.child.id().to_string()]).status();
    }

    /// A client of `bucket` on this server.
    pub fn store(&self, bucket: &str) -> Arc<dyn object_store::ObjectStore> {
        Arc::new(giaoban_relay::files::s3_bucket(bucket, &self.options()).unwrap())
    }

    /// The relay's settings for `bucket` of this server (`file_store_options`).
    pub fn options(&self) -> std::collections::BTreeMap<String, String> {
        [
            ("aws_endpoint", self.endpoint.as_str()),
            ("aws_allow_http", "true"),
            ("aws_region", "us-east-1"),
            ("aws_access_key_id", "giaoban"),
            ("aws_secret_access_key", "giaoban-test"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// A relay in `dir`, with Đồng Nai's units, whose files are in `bucket` of this server
    /// under `dong-nai/`.
    pub fn relay(&self, dir: &std::path::Path, bucket: &str) -> crate::Relay {
        let config = giaoban_relay::Config {
            data_dir: dir.to_path_buf(),
            file_store: format!("s3://{bucket}/dong-nai"),
            file_store_options: self.options(),
            ..giaoban_relay::Config::default()
        };
        crate::Relay::start_with(dir, config, true)
    }
}
