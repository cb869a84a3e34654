//! A database of its own on the test PostgreSQL server (`GIAOBAN_TEST_POSTGRES`, which
//! `scripts/postgres.sh start` prints), dropped when the test ends. Without a server the test
//! says it was skipped; in CI (`CI` set) that is a failure.

/// A fresh database on the test server.
pub struct TestPostgres {
    admin_url: String,
    name: String,
    /// Its URL.
    pub url: String,
}

impl TestPostgres {
    /// A fresh database, or `None` after saying the test is skipped.
    pub fn new() -> Option<TestPostgres> {
        let admin_url = match std::env::var("GIAOBAN_TEST_POSTGRES") {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var_os("CI").is_some() => panic!(
                "GIAOBAN_TEST_POSTGRES is not set: in CI the PostgreSQL tests must run (scripts/test.sh starts a server with scripts/postgres.sh)"
            ),
            _ => {
                eprintln!(
                    "skipped: this test needs PostgreSQL (set GIAOBAN_TEST_POSTGRES to a server's URL; scripts/postgres.sh start runs one)"
                );
                return None;
            }
        };
        let name = format!("giaoban_e2e_{:016x}", rand::random::<u64>());
        let mut admin =
            postgres::Client::connect(&admin_url, postgres::NoTls).expect("connect to the test server");
        admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create a test database");
        let base = admin_url.split('?').next().unwrap_or(&admin_url);
        let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
        let url = format!("{base}/{name}");
        Some(TestPostgres { admin_url, name, url })
    }

    /// A new connection to it.
    pub fn connect(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to the test database")
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}
