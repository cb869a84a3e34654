//! `giaoban-relay`: serve the relay, or administer its units and devices.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use giaoban_protocol::DeviceId;
use giaoban_relay::{AppState, Config, RelayStore};
use tracing_subscriber::EnvFilter;

/// The Giao Ban relay run by the city office.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML). Every setting has a default; see `Config`.
    #[arg(long, global = true, env = "GIAOBAN_RELAY_CONFIG")]
    config: Option<PathBuf>,
    /// How log lines are written: `text` for people, `json` (one object a line) for a log
    /// collector.
    #[arg(long, global = true, env = "GIAOBAN_RELAY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written.
#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// Human text.
    Text,
    /// One JSON object a line.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve devices.
    Serve {
        /// On an empty store, create a demo organisation (a province's committee and its
        /// communes and wards from the reference data) and print enrollment codes.
        #[arg(long)]
        demo: bool,
        /// The province of the demo organisation.
        #[arg(long, default_value = "Đồng Nai")]
        demo_province: String,
        /// With --demo: the organisation, codes and staff account only, without playing the
        /// demo dispatch (for scripts that bring their own records).
        #[arg(long)]
        demo_without_dispatch: bool,
    },
    /// Administer units and devices.
    #[command(subcommand)]
    Admin(Admin),
    /// Export the office's documents from a running relay, as a staff member downloads them
    /// from the desk: for scripts. The password is read from GIAOBAN_DESK_PASSWORD.
    #[command(subcommand, after_help = EXPORT_HELP)]
    Export(Export),
}

const EXPORT_HELP: &str = "\
The relay must be running: the export signs in to its desk over HTTP as the staff account, so
the account sees what it sees in a browser, and the relay's files are left to the relay. The
password is read from the environment variable GIAOBAN_DESK_PASSWORD, never from the command
line.

Examples:
  export GIAOBAN_DESK_PASSWORD=…
  giaoban-relay export dispatch 305/MTTQ-BTT --account vanphong
  giaoban-relay export consolidation 305/MTTQ-BTT --task 3 --format docx --account vanphong
  giaoban-relay export report 305/MTTQ-BTT --unit \"P. Xuân Trung\" --account vanphong --out bc.docx

Exit status: 0 written; 1 the relay answered with another error; 2 the command was given
wrongly; 3 the relay could not be reached; 4 the sign-in was refused (wrong account or
password, account locked or disabled); 5 no such dispatch, task or report (or several fit);
6 not permitted; 7 the relay cannot lay the document out as a file; 8 the file exists or
could not be written.";

/// What to export.
#[derive(Subcommand)]
enum Export {
    /// A dispatch as printed (Word), by its number as printed ("305/MTTQ-BTT") or its id.
    Dispatch {
        /// The dispatch's number as printed (spaces and case do not matter), or its id.
        number: String,
        #[command(flatten)]
        to: ExportTo,
    },
    /// A task's figures summed over the units it addressed: the sheet (xlsx), or the office's
    /// consolidated report (docx). Only reports the office accepted count, unless
    /// --all-submitted.
    Consolidation {
        /// The dispatch's number as printed, or its id.
        number: String,
        /// The task's number in the dispatch.
        #[arg(long)]
        task: u64,
        /// xlsx (the figures) or docx (the office's report).
        #[arg(long, value_enum, default_value_t = ExportFormat::Xlsx)]
        format: ExportFormat,
        /// Count every report submitted, not only those the office accepted.
        #[arg(long)]
        all_submitted: bool,
        #[command(flatten)]
        to: ExportTo,
    },
    /// A unit's report (Word): by its id, or by the dispatch's number with --unit.
    Report {
        /// The report's id; or, with --unit, the number of the dispatch it answers.
        report: String,
        /// The unit that sent it ("P. Xuân Trung"; diacritics optional).
        #[arg(long)]
        unit: Option<String>,
        /// The task it answers, when the unit sent reports for several.
        #[arg(long, requires = "unit")]
        task: Option<u64>,
        #[command(flatten)]
        to: ExportTo,
    },
}

/// Where an export goes and as whom.
#[derive(clap::Args)]
struct ExportTo {
    /// The staff account to sign in as (its password is read from GIAOBAN_DESK_PASSWORD).
    #[arg(long, env = "GIAOBAN_DESK_ACCOUNT")]
    account: String,
    /// The relay's address (http://127.0.0.1:8080, https://giaoban.dongnai.example); by
    /// default the listen address of the configuration (--config).
    #[arg(long)]
    relay: Option<String>,
    /// The file to write; by default the name the relay gives the download
    /// ("Bao-cao-tong-hop-305-MTTQ-BTT.docx"), in the current folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the file if it exists.
    #[arg(long)]
    force: bool,
}

/// The file a consolidation is exported as.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    /// The figures as a sheet.
    Xlsx,
    /// The office's consolidated report.
    Docx,
}

#[derive(Subcommand)]
enum Admin {
    /// Create a province's committee and its communes' and wards' committees from the reference data.
    CreateUnits {
        /// Province name (diacritics optional) or code.
        #[arg(long)]
        province: String,
    },
    /// List the units.
    Units,
    /// Add a unit under another: a member organisation (Hội Liên hiệp Phụ nữ, Đoàn Thanh
    /// niên, Hội Nông dân, Hội Cựu chiến binh, Công đoàn) or a work team, which then receives
    /// dispatches and reports like any unit.
    AddUnit {
        /// The unit it belongs under: its id or part of its name.
        #[arg(long)]
        parent: String,
        /// Its full name ("Hội Liên hiệp Phụ nữ phường Xuân Trung").
        #[arg(long)]
        name: String,
        /// A short name for lists ("Hội LHPN P. Xuân Trung"); the full name if not given.
        #[arg(long, default_value = "")]
        short_name: String,
        /// front-committee, member-organisation, work-team, party-body, state-body or other.
        #[arg(long, default_value = "member-organisation")]
        kind: String,
        /// Its level ("phường"); the parent's if not given.
        #[arg(long, default_value = "")]
        level: String,
    },
    /// Merge units into a successor: each ends today, and the successor's devices receive their
    /// records on their next sync and may answer their open tasks.
    Merge {
        /// A unit to merge (its id or part of its name); repeat for each.
        #[arg(long = "unit", required = true)]
        units: Vec<String>,
        /// The unit that takes over their work.
        #[arg(long)]
        into: String,
    },
    /// Give a unit one more successor (a split: once per successor). The successor reads what
    /// the unit reads and may act for it.
    Successor {
        /// The unit (its id or part of its name).
        #[arg(long)]
        unit: String,
        /// The unit that takes over (part of) its work.
        #[arg(long)]
        successor: String,
    },
    /// Move a unit (and everything under it) under another parent. The new parent's devices
    /// receive its records; the old parent gets none of their new changes.
    Move {
        /// The unit to move (its id or part of its name).
        #[arg(long)]
        unit: String,
        /// Its new parent.
        #[arg(long)]
        parent: String,
    },
    /// Print a one-time code that enrols one device for a unit.
    Enroll {
        /// The unit: its id or part of its name.
        #[arg(long)]
        unit: String,
    },
    /// List enrolled devices.
    Devices,
    /// Revoke a device: its token stops working at once.
    Revoke {
        /// The device id.
        #[arg(long)]
        device: DeviceId,
    },
    /// Staff accounts of the desk (the office's pages at /desk).
    #[command(subcommand)]
    Staff(Staff),
    /// The people of a unit to contact (name, title, phone): every device of the province
    /// receives them with the unit list, and the desk offers them as a dispatch's contacts.
    #[command(subcommand)]
    People(People),
    /// Write a consistent copy of the database while the relay runs.
    Backup {
        /// The new file to write.
        #[arg(long)]
        to: PathBuf,
    },
    /// Copy this relay's database into PostgreSQL, with its sequence, unit logs, epoch, voucher
    /// key, device tokens, units and staff, so devices carry on against relays on that database
    /// without enrolling or downloading again. Stop the relay first. An interrupted copy is
    /// taken up by running it again; a database holding another relay is refused.
    Migrate {
        /// The PostgreSQL database, e.g. postgres://giaoban@db.example/giaoban.
        #[arg(long)]
        to: String,
        /// Rows written per transaction.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// Copy the attached files of the folder beside the database into the object store that
    /// `file_store` names, before the relay is started on it. Each file is checked against its
    /// hash there; an interrupted run is taken up again by the next.
    CopyFiles,
    /// Make every device list what it holds on its next sync and give back what the relay
    /// lacks. A restore from a backup does not need it: devices that synced after the backup
    /// notice by themselves.
    NewEpoch,
}

#[derive(Subcommand)]
enum People {
    /// List a unit's people.
    List {
        /// The unit: its id or part of its name.
        #[arg(long)]
        unit: String,
    },
    /// Add a person to a unit (or change the entry of the same name).
    Add {
        /// The unit: its id or part of its name.
        #[arg(long)]
        unit: String,
        /// Full name ("Nguyễn Văn Muối").
        #[arg(long)]
        name: String,
        /// Title in the unit ("Chuyên viên").
        #[arg(long, default_value = "")]
        title: String,
        /// Phone number as written ("0251 3877 123").
        #[arg(long, default_value = "")]
        phone: String,
    },
    /// Remove a person (by name; diacritics optional) from a unit.
    Remove {
        /// The unit: its id or part of its name.
        #[arg(long)]
        unit: String,
        /// Their name.
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum Staff {
    /// Create an account for a person of a unit; its password is printed once.
    Add {
        /// The unit: its id or part of its name.
        #[arg(long)]
        unit: String,
        /// The name they sign in with: one word, such as "muoi.nv".
        #[arg(long)]
        login: String,
        /// Their full name, as the history shows it ("Nguyễn Văn Muối").
        #[arg(long)]
        name: String,
    },
    /// List the accounts.
    List,
    /// Disable an account: its sessions end at once.
    Disable {
        /// The login.
        #[arg(long)]
        login: String,
    },
    /// Give an account a new password (printed once), end its sessions, lift a lock and enable
    /// it again.
    Reset {
        /// The login.
        #[arg(long)]
        login: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")));
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let config = Config::load(cli.config.as_deref())?;
    let command = match cli.command {
        // Talks to the running relay over HTTP; never opens its store.
        Command::Export(what) => export(&config, what),
        other => other,
    };
    let store = RelayStore::open_with_quota(&config.data_dir, config.max_database_kb)
        .with_context(|| format!("opening the relay store in {}", config.data_dir.display()))?;
    match command {
        Command::Serve { demo, demo_province, demo_without_dispatch } => {
            let demo = if demo && store.units()?.is_empty() {
                let dir = create_demo(&store, &config, &demo_province)?;
                (!demo_without_dispatch).then_some(dir)
            } else {
                None
            };
            serve(store, config, demo)
        }
        Command::Admin(a) => admin(&store, &config, a),
        Command::Export(_) => unreachable!("an export never opens the store"),
    }
}

/// Runs an export and ends the process: 0 with the file written, otherwise the failure's
/// status (`export_client::exit`) after saying what went wrong and what to do.
fn export(config: &Config, what: Export) -> ! {
    use giaoban_relay::export_client::{self, Format, Options, What};
    let (what, to) = match what {
        Export::Dispatch { number, to } => (What::Dispatch { number }, to),
        Export::Consolidation { number, task, format, all_submitted, to } => {
            let format = match format {
                ExportFormat::Xlsx => Format::Xlsx,
                ExportFormat::Docx => Format::Docx,
            };
            (What::Consolidation { number, task, format, all_submitted }, to)
        }
        Export::Report { report, unit, task, to } => (What::Report { report, unit, task }, to),
    };
    let outcome = export_client::password_from_env().and_then(|password| {
        let (relay, relay_from) = match to.relay {
            Some(url) => (url, "--relay".to_string()),
            None => export_client::relay_url_from(config),
        };
        export_client::run(&Options {
            relay,
            relay_from,
            account: to.account,
            password,
            what,
            out: to.out,
            force: to.force,
        })
    });
    match outcome {
        Ok(written) => {
            println!("{} ({} bytes)", written.path.display(), written.bytes);
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("Error: {e}");
            std::process::exit(e.exit_code())
        }
    }
}

/// The demo staff member's login.
const DEMO_LOGIN: &str = "vanphong";

fn create_demo(
    store: &RelayStore,
    config: &Config,
    province: &str,
) -> anyhow::Result<giaoban_protocol::schema::UnitDirectory> {
    let dir = store.create_units_from_reference(province)?;
    println!("Tổ chức mẫu: {} và {} xã, phường.", dir.units[0].name, dir.units.len() - 1);
    println!("Mã đăng ký thiết bị (dùng một lần, hiệu lực {} giờ):", config.enrollment_valid_hours);
    for u in dir.units.iter().take(4) {
        let code = store.create_enrollment(u.id, config.enrollment_valid_hours)?;
        println!("  {:<48} {}", u.name, code.code);
    }
    let (account, password) = store.add_staff(dir.units[0].id, DEMO_LOGIN, "Văn phòng Ban Thường trực")?;
    println!("Bàn làm việc của {}: đăng nhập {} / {password}", dir.units[0].name, account.login);
    Ok(dir)
}

fn serve(
    store: RelayStore,
    config: Config,
    demo: Option<giaoban_protocol::schema::UnitDirectory>,
) -> anyhow::Result<()> {
    // Reads the store, so it runs here, before any async worker exists.
    let state = AppState::new(store, config.clone())?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().max_blocking_threads(16).enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, data = %config.data_dir.display(), "relay serving");
        println!("Giao Ban relay: http://{addr} (dữ liệu: {})", config.data_dir.display());
        println!("Bàn làm việc của văn phòng: http://{addr}/desk");
        if let Some(dir) = demo {
            let (state, handle, url) = (state.clone(), tokio::runtime::Handle::current(), format!("http://{addr}"));
            tokio::task::spawn_blocking(move || {
                match giaoban_relay::demo::play(&state, &handle, &url, &dir, DEMO_LOGIN) {
                    Ok(()) => println!(
                        "Văn bản mẫu 305/MTTQ-BTT đã giao cho 4 xã, phường; 3 điện thoại mẫu đã nhận, một đã báo cáo. Mở http://{addr}/desk để xem."
                    ),
                    Err(e) => tracing::warn!(error = %e, "the demo's dispatch could not be played; the relay serves without it"),
                }
            });
        }
        giaoban_relay::run(listener, state, async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await?;
        Ok(())
    })
}

/// A unit as the relay's table holds it: id, parent, name.
type UnitRow = (giaoban_protocol::UnitId, Option<giaoban_protocol::UnitId>, String);

/// Units as a tree: each unit followed by its children, siblings in Vietnamese name order (the
/// collator, not byte order, which would put every Đ, Ô, Ơ and Ư name last); with its depth.
/// Units whose parent is unknown here are listed as roots.
fn unit_tree_order(units: &[UnitRow]) -> Vec<(usize, &UnitRow)> {
    use std::collections::{HashMap, HashSet};
    let known: HashSet<_> = units.iter().map(|(id, _, _)| *id).collect();
    let mut children: HashMap<Option<giaoban_protocol::UnitId>, Vec<_>> = HashMap::new();
    for u in units {
        let parent = u.1.filter(|p| known.contains(p) && *p != u.0);
        children.entry(parent).or_default().push(u);
    }
    for list in children.values_mut() {
        giaoban_vietnamese_text::collator().sort_by_name(list, |u| &u.2);
    }
    let mut out = Vec::with_capacity(units.len());
    let mut seen = HashSet::new();
    let mut stack: Vec<(usize, &UnitRow)> =
        children.get(&None).map(|r| r.iter().rev().map(|u| (0, *u)).collect()).unwrap_or_default();
    while let Some((depth, u)) = stack.pop() {
        if !seen.insert(u.0) {
            continue;
        }
        out.push((depth, u));
        if let Some(kids) = children.get(&Some(u.0)) {
            stack.extend(kids.iter().rev().map(|k| (depth + 1, *k)));
        }
    }
    // A cycle of parents (a damaged table) has no root: its units still appear.
    for u in units {
        if !seen.contains(&u.0) {
            out.push((0, u));
        }
    }
    out
}

fn people(store: &RelayStore, cmd: People) -> anyhow::Result<()> {
    match cmd {
        People::List { unit } => {
            let (id, name) = store.find_unit(&unit)?;
            let people = store.unit_people(id)?;
            if people.is_empty() {
                println!("{name}: nobody listed yet (add with `giaoban-relay admin people add`)");
            }
            for p in people {
                println!("{}", p.line());
            }
        }
        People::Add { unit, name, title, phone } => {
            let (id, unit_name) = store.find_unit(&unit)?;
            let person = giaoban_protocol::schema::Person { name, title, phone };
            store.add_person(id, person.clone())?;
            println!("{} listed for {unit_name}; devices receive it on their next sync", person.line());
        }
        People::Remove { unit, name } => {
            let (id, unit_name) = store.find_unit(&unit)?;
            if store.remove_person(id, &name)? {
                println!("{name} removed from {unit_name}");
            } else {
                anyhow::bail!(
                    "nobody named {name} is listed for {unit_name}; see `giaoban-relay admin people list --unit …`"
                );
            }
        }
    }
    Ok(())
}

fn admin(store: &RelayStore, config: &Config, cmd: Admin) -> anyhow::Result<()> {
    match cmd {
        Admin::CreateUnits { province } => {
            let dir = store.create_units_from_reference(&province)?;
            println!("{} units created under {}", dir.units.len(), dir.units[0].name);
        }
        Admin::Units => {
            let successors = store.successors()?;
            let units = store.units()?;
            let name_of = |u: &giaoban_protocol::UnitId| {
                units
                    .iter()
                    .find(|(id, _, _)| id == u)
                    .map(|(_, _, n)| n.clone())
                    .unwrap_or_else(|| u.to_string())
            };
            for (depth, (id, _, name)) in unit_tree_order(&units) {
                let merged = match successors.get(id) {
                    Some(s) => format!("  → {}", s.iter().map(name_of).collect::<Vec<_>>().join(", ")),
                    None => String::new(),
                };
                println!("{id}  {}{name}{merged}", "  ".repeat(depth));
            }
        }
        Admin::AddUnit { parent, name, short_name, kind, level } => {
            let (parent, parent_name) = store.find_unit(&parent)?;
            let Some(kind) = giaoban_protocol::schema::UnitKind::from_code(&kind) else {
                let codes: Vec<&str> =
                    giaoban_protocol::schema::UnitKind::ALL.iter().map(|(_, c)| *c).collect();
                anyhow::bail!("'{kind}' is not a kind of unit; use one of {}", codes.join(", "));
            };
            let unit =
                giaoban_relay::store::NewUnit { name: name.clone(), short_name, kind, level_label: level };
            let (id, change) = store.add_unit(parent, unit)?;
            println!(
                "{id}  {name} added under {parent_name}; enrol its devices with `giaoban-relay admin enroll --unit {id}`"
            );
            print_change(store, &change)?;
        }
        Admin::Merge { units, into } => {
            let (successor, successor_name) = store.find_unit(&into)?;
            let mut ids = Vec::new();
            let mut names = Vec::new();
            for u in &units {
                let (id, name) = store.find_unit(u)?;
                ids.push(id);
                names.push(name);
            }
            let change = store.merge_units(ids, successor)?;
            println!("{} merged into {successor_name}", names.join(", "));
            print_change(store, &change)?;
        }
        Admin::Successor { unit, successor } => {
            let (id, name) = store.find_unit(&unit)?;
            let (sid, sname) = store.find_unit(&successor)?;
            let change = store.add_successor(id, sid)?;
            println!("{sname} now succeeds {name}");
            print_change(store, &change)?;
        }
        Admin::Move { unit, parent } => {
            let (id, name) = store.find_unit(&unit)?;
            let (pid, pname) = store.find_unit(&parent)?;
            let change = store.move_unit(id, pid)?;
            println!("{name} is now under {pname}");
            print_change(store, &change)?;
        }
        Admin::Enroll { unit } => {
            let (id, name) = store.find_unit(&unit)?;
            let code = store.create_enrollment(id, config.enrollment_valid_hours)?;
            println!("{name}: {} (valid {} hours, one device)", code.code, config.enrollment_valid_hours);
        }
        Admin::Devices => {
            let mut units: Vec<_> = store.devices()?.into_iter().map(|(_, unit, _, _)| unit).collect();
            units.sort();
            units.dedup();
            for d in store.devices_of(&units)? {
                let said = match &d.status {
                    Some((st, _)) => format!(
                        "  app {:?} core {:?}, unsent {} document(s) {} file(s)",
                        st.app_version, st.core_version, st.unsent_docs, st.unsent_files
                    ),
                    None => String::new(),
                };
                println!(
                    "{}  unit {}  {}{}{said}",
                    d.id,
                    d.unit,
                    d.label,
                    if d.revoked { "  [revoked]" } else { "" }
                );
            }
        }
        Admin::Revoke { device } => {
            store.revoke_device(device)?;
            println!("device {device} revoked");
        }
        Admin::Staff(cmd) => staff(store, cmd)?,
        Admin::People(cmd) => people(store, cmd)?,
        Admin::CopyFiles => copy_files(store, config)?,
        Admin::Migrate { to, batch } => migrate(store, &to, batch)?,
        Admin::Backup { to } => {
            store.backup_to(&to)?;
            println!("backup written to {}", to.display());
        }
        Admin::NewEpoch => {
            let e = store.new_epoch_blocking()?;
            println!("new epoch {}: every device lists what it holds on its next sync", e.0);
        }
    }
    Ok(())
}

fn staff(store: &RelayStore, cmd: Staff) -> anyhow::Result<()> {
    match cmd {
        Staff::Add { unit, login, name } => {
            let (unit, unit_name) = store.find_unit(&unit)?;
            let (account, password) = store.add_staff(unit, &login, &name)?;
            println!("Tài khoản {} ({}, {unit_name}) đã tạo.", account.login, account.name);
            println!("Mật khẩu (chỉ hiện lần này, hãy trao tận tay): {password}");
        }
        Staff::List => {
            let units = store.units()?;
            let name_of = |u: &giaoban_protocol::UnitId| {
                units
                    .iter()
                    .find(|(id, _, _)| id == u)
                    .map(|(_, _, n)| n.clone())
                    .unwrap_or_else(|| u.to_string())
            };
            let now = store.now().0;
            for a in store.staff()? {
                let state = if a.disabled {
                    "  [disabled]"
                } else if a.locked_until > now {
                    "  [locked after wrong passwords]"
                } else {
                    ""
                };
                println!("{:<20} {}  ({}){state}", a.login, a.name, name_of(&a.unit));
            }
        }
        Staff::Disable { login } => {
            store.disable_staff(&login)?;
            println!("{login}: disabled; its sessions have ended");
        }
        Staff::Reset { login } => {
            let password = store.reset_staff(&login)?;
            println!("{login}: new password (shown only now): {password}");
            println!("its sessions have ended; a lock, if any, is lifted");
        }
    }
    Ok(())
}

/// Says who reads what now, in the operator's words.
fn print_change(store: &RelayStore, change: &giaoban_relay::store::TreeChange) -> anyhow::Result<()> {
    let units = store.units()?;
    let name_of = |u: &giaoban_protocol::UnitId| {
        units.iter().find(|(id, _, _)| id == u).map(|(_, _, n)| n.clone()).unwrap_or_else(|| u.to_string())
    };
    if change.gained.is_empty() && change.lost.is_empty() {
        println!("  no unit reads a record more or less than before (these units have no records yet)");
    }
    for (u, n) in &change.gained {
        println!(
            "  {} now reads {n} more record(s); its devices receive them on their next sync",
            name_of(u)
        );
    }
    for (u, n) in &change.lost {
        println!(
            "  {} no longer reads {n} record(s): it gets none of their new changes (copies already on its devices stay there)",
            name_of(u)
        );
    }
    Ok(())
}

/// `admin copy-files`: the folder's files into the object store, with progress.
fn migrate(store: &RelayStore, to: &str, batch: usize) -> anyhow::Result<()> {
    let from =
        rusqlite::Connection::open_with_flags(store.path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("opening {} to read", store.path().display()))?;
    let mut pg = postgres::Client::connect(to, postgres::NoTls).context(
        "connecting to PostgreSQL (check the URL, that the server runs and accepts this user, and that the database exists)",
    )?;
    println!("copying {} into PostgreSQL", store.path().display());
    let mut shown = std::time::Instant::now();
    let copied =
        giaoban_relay::store::backend::postgres::copy::copy_to_postgres(&from, &mut pg, batch, |p| {
            if p.of == 0 {
                println!("  {}: empty", p.table);
            } else if p.rows == p.of || shown.elapsed() >= std::time::Duration::from_secs(2) {
                println!("  {}: {} of {} rows", p.table, p.rows, p.of);
                shown = std::time::Instant::now();
            }
            Ok(())
        })?;
    let rows: u64 = copied.tables.iter().map(|(_, n)| n).sum();
    println!(
        "copied: {rows} rows in {} tables, each checked to hold as many rows as here; relays started on this database serve these devices as they are",
        copied.tables.len()
    );
    Ok(())
}

fn copy_files(store: &RelayStore, config: &Config) -> anyhow::Result<()> {
    if config.file_store.is_empty() {
        anyhow::bail!(
            "file_store is not set: name the object store to copy the files into (file_store = \"s3://bucket/prefix\" in the configuration, or GIAOBAN_RELAY_FILE_STORE)"
        );
    }
    let folder = config.data_dir.join("files");
    if !folder.is_dir() {
        anyhow::bail!("there is no folder of attached files at {}: nothing to copy", folder.display());
    }
    let from = giaoban_relay::files::FileFolder::open(&folder)?;
    let to = giaoban_relay::files::open_for(config, &config.data_dir, &store.relay_id()?)
        .map_err(|e| anyhow::anyhow!(e))?;
    println!("copying the attached files of {} into {}", folder.display(), to.describe());
    let done = giaoban_relay::files::copy_files(&from, &*to, |c| {
        if c.files % 50 == 0 || c.files == c.of {
            println!("  {}/{} files, {} MB copied", c.files, c.of, c.bytes / (1024 * 1024));
        }
    })?;
    println!(
        "{} files copied, {} were there already{}; start the relay with this file_store",
        done.files - done.already - done.damaged,
        done.already,
        if done.damaged > 0 {
            format!(
                ", {} damaged in the folder and left out (devices holding them send them again)",
                done.damaged
            )
        } else {
            String::new()
        }
    );
    Ok(())
}
