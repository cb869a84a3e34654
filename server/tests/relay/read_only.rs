//! A relay whose database it may not write (file and folder permissions, as after a restore
//! done by another user) refuses to start with a sentence that tells the operator what to fix,
//! and serves normally once the permissions are right again.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use giaoban_client_core::Store;
use giaoban_relay::RelayStore;

fn set_mode(dir: &Path, dir_mode: u32, file_mode: u32) {
    for entry in std::fs::read_dir(dir).unwrap() {
        std::fs::set_permissions(entry.unwrap().path(), std::fs::Permissions::from_mode(file_mode)).unwrap();
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(dir_mode)).unwrap();
}

/// The relay binary (copied into `dir`, which anyone may enter) as an unprivileged user: root
/// ignores file modes, so as root the command drops to `nobody` (util-linux `setpriv`).
fn relay_command(dir: &Path) -> Command {
    let root =
        std::process::Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    let bin = dir.join("giaoban-relay");
    if !bin.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_giaoban-relay"), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(&bin);
        c
    } else {
        Command::new(bin)
    }
}

#[test]
fn a_read_only_database_is_a_clear_operator_error_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("relay");
    let code = {
        let store = RelayStore::open(&data).unwrap();
        let org = store.create_units_from_reference("Đồng Nai").unwrap();
        store.create_enrollment(org.units[1].id, 1).unwrap().code
    };
    let port = common::free_port();
    let serve = |c: &mut Command| {
        c.arg("serve")
            .env("GIAOBAN_RELAY_DATA_DIR", &data)
            .env("GIAOBAN_RELAY_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .env("RUST_BACKTRACE", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    };

    // Nobody but root may write the folder or its files.
    set_mode(&data, 0o555, 0o444);
    let mut cmd = relay_command(dir.path());
    serve(&mut cmd);
    let out = cmd.output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "the relay started on a database it cannot write: {said}");
    assert!(said.contains("cannot write its database"), "{said}");
    assert!(said.contains(&data.display().to_string()), "the message must name the folder: {said}");
    assert!(said.contains("let the user running the relay write"), "{said}");

    // The operator fixes the permissions: the same relay starts and enrols a device.
    set_mode(&data, 0o777, 0o666);
    let mut cmd = relay_command(dir.path());
    serve(&mut cmd);
    let mut relay = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    common::wait_until_listening(port);
    let mut phone = Store::open(dir.path().join("phuong.sqlite")).unwrap();
    phone.enroll(&format!("http://127.0.0.1:{port}"), &code, "Điện thoại cán bộ").unwrap();
    phone.sync_now().unwrap();
    relay.kill().unwrap();
    relay.wait().unwrap();
}
