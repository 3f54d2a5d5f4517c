//! Real test servers on loopback, from Debian and PyPI packages only:
//! PostgreSQL (a private cluster), SecantusDB (MongoDB wire protocol), moto
//! (DynamoDB and S3) and Redis. `up` installs what is missing, starts each,
//! waits until it answers and writes their URLs to an env file that tests read.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cmd::{home, on_path, output, run};

/// Versions tested together (see docs/operations.md).
const MOTO: &str = "moto[server]==5.2.5";
const SECANTUS: &str = "secantusdb==0.7.0b3";
const PYARROW: &str = "pyarrow==26.0.1";
/// The Qdrant client the Qdrant-compatible API is tested with (`proxima_qdrant::COMPATIBLE_VERSION`).
const QDRANT_CLIENT: &str = "qdrant-client==1.18.0";

const PG_PORT: u16 = 54329;
const MOTO_PORT: u16 = 5055;
const MONGO_PORT: u16 = 27019;
const REDIS_PORT: u16 = 63799;
const S3_BUCKET: &str = "proximadb-test";

/// Runtime state; under /tmp so the `postgres` user can reach its data directory.
fn state_dir() -> PathBuf {
    std::env::var_os("PROXIMA_SERVICES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/proximadb-services"))
}

/// Python environments survive between runs, outside the clone.
fn venv_dir(name: &str) -> PathBuf {
    home().join(".cache/proximadb/venv").join(name)
}

/// The env file `up` writes; tests read it when the variables are not set.
pub(crate) fn env_file() -> PathBuf {
    state_dir().join("env")
}

fn is_root() -> bool {
    let mut id = Command::new("id");
    id.arg("-u");
    output(id).is_ok_and(|s| s.trim() == "0")
}

fn pg_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("postgres").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

/// Runs a command as the `postgres` user when we are root (initdb refuses root).
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn install() -> Result<(), String> {
    let mut missing = Vec::new();
    if pg_bin().is_none() {
        missing.push("postgresql");
    }
    if !on_path("redis-server") || !on_path("redis-cli") {
        missing.push("redis-server");
    }
    if !missing.is_empty() {
        if !is_root() {
            return Err(format!(
                "missing Debian packages {missing:?}; install them (as root: apt-get install {})",
                missing.join(" ")
            ));
        }
        eprintln!("xtask: installing {missing:?} with apt-get");
        run(apt(&["update", "-q"]))?;
        let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
        args.extend(&missing);
        run(apt(&args))?;
    }
    venv("moto", MOTO)?;
    venv("secantus", SECANTUS)?;
    venv("tools", PYARROW)?;
    venv("qdrant", QDRANT_CLIENT)
}

fn apt(args: &[&str]) -> Command {
    let mut c = Command::new("apt-get");
    c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    c
}

/// A virtualenv with `spec` installed; skipped when a marker says it already is.
fn venv(name: &str, spec: &str) -> Result<(), String> {
    let dir = venv_dir(name);
    let marker = dir.join(format!(".installed-{}", spec.replace(['[', ']', '='], "_")));
    if marker.is_file() {
        return Ok(());
    }
    if !dir.join("bin/python").is_file() {
        run({
            let mut c = Command::new("python3");
            c.args(["-m", "venv"]).arg(&dir);
            c
        })?;
    }
    run({
        let mut c = Command::new(dir.join("bin/pip"));
        c.args(["install", "-q", "--disable-pip-version-check", spec]);
        c
    })?;
    File::create(&marker).map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    Ok(())
}

/// Polls `ready` every 100 ms until it succeeds or `timeout` passes.
fn wait_until(name: &str, timeout: Duration, log: &Path, mut ready: impl FnMut() -> bool) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if ready() {
            eprintln!("xtask: {name} ready in {:.1}s", start.elapsed().as_secs_f64());
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let tail = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = tail.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
    Err(format!("{name} did not answer within {timeout:?}; log {}:\n{}", log.display(), tail.join("\n")))
}

fn succeeds(mut c: Command) -> bool {
    c.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn python(venv: &str, code: &str) -> Command {
    let mut c = Command::new(venv_dir(venv).join("bin/python"));
    c.args(["-c", code]);
    c
}

/// Starts a long-running server detached from us, its output in `log`.
fn spawn_detached(mut c: Command, log: &Path, pidfile: &Path) -> Result<(), String> {
    let out = File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let child =
        c.stdin(Stdio::null()).stdout(out).stderr(err).spawn().map_err(|e| format!("cannot start {c:?}: {e}"))?;
    std::fs::write(pidfile, child.id().to_string()).map_err(|e| format!("cannot write {}: {e}", pidfile.display()))
}

fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// moto's server with its requests serialised: moto checks DynamoDB conditions
/// and applies the write in separate steps without a lock, so two concurrent
/// conditional writes could both pass (DynamoDB itself never lets them); one
/// request at a time restores the guarantee our tests check.
const MOTO_LAUNCHER: &str = r#"
import os, sys, threading
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler

port = int(sys.argv[1])
os.environ.setdefault("MOTO_PORT", str(port))
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()

def serialised(environ, start_response):
    with lock:
        return list(app(environ, start_response))

run_simple("127.0.0.1", port, serialised, threaded=True, request_handler=MotoRequestHandler)
"#;

const SECANTUS_LAUNCHER: &str = r#"
import signal, sys
from secantus.server import SecantusDBServer
# Started from Python: the CLI ignores ttl_sweep_seconds (TTL sweeps would be fixed at 60 s).
srv = SecantusDBServer(host="127.0.0.1", port=int(sys.argv[1]), storage_path=sys.argv[2],
                       replica_set_name="secantus", enable_test_commands=False,
                       cache_size="256M", ttl_sweep_seconds=1.0)
def _stop(*_):
    srv.stop(); sys.exit(0)
signal.signal(signal.SIGTERM, _stop); signal.signal(signal.SIGINT, _stop)
srv.start(); print("listening", flush=True); srv.wait()
"#;

/// Installs, starts and waits for every server; returns the variables tests read.
pub(crate) fn up() -> Result<BTreeMap<String, String>, String> {
    install()?;
    down()?;
    let state = state_dir();
    let (run_dir, log_dir, data_dir) = (state.join("run"), state.join("log"), state.join("data"));
    let _ = std::fs::remove_dir_all(&data_dir);
    let _ = std::fs::remove_dir_all(state.join("pg"));
    for d in [&run_dir, &log_dir, &data_dir] {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    for (name, port) in [("postgres", PG_PORT), ("moto", MOTO_PORT), ("secantus", MONGO_PORT), ("redis", REDIS_PORT)] {
        if !port_free(port) {
            return Err(format!("port {port} for {name} is taken by another process; stop it first"));
        }
    }
    let started = Instant::now();
    start_postgres(&state, &run_dir, &log_dir)?;

    let moto_log = log_dir.join("moto.log");
    let moto_launcher = state.join("moto_launch.py");
    std::fs::write(&moto_launcher, MOTO_LAUNCHER)
        .map_err(|e| format!("cannot write {}: {e}", moto_launcher.display()))?;
    let mut moto = Command::new(venv_dir("moto").join("bin/python"));
    moto.arg(&moto_launcher).arg(MOTO_PORT.to_string());
    spawn_detached(moto, &moto_log, &run_dir.join("moto.pid"))?;

    let launcher = state.join("secantus_launch.py");
    std::fs::write(&launcher, SECANTUS_LAUNCHER).map_err(|e| format!("cannot write {}: {e}", launcher.display()))?;
    let secantus_log = log_dir.join("secantus.log");
    let mut secantus = Command::new(venv_dir("secantus").join("bin/python"));
    secantus.arg(&launcher).arg(MONGO_PORT.to_string()).arg(data_dir.join("secantus"));
    spawn_detached(secantus, &secantus_log, &run_dir.join("secantus.pid"))?;

    let redis_log = log_dir.join("redis.log");
    run({
        let mut c = Command::new("redis-server");
        c.args(["--port", &REDIS_PORT.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "yes", "--pidfile"])
            .arg(run_dir.join("redis.pid"))
            .arg("--logfile")
            .arg(&redis_log);
        c
    })?;

    let moto_url = format!("http://127.0.0.1:{MOTO_PORT}");
    wait_until("moto", Duration::from_secs(60), &moto_log, || {
        succeeds(python(
            "moto",
            &format!("import urllib.request as u; u.urlopen('{moto_url}/moto-api/data.json', timeout=1)"),
        ))
    })?;
    run(python(
        "moto",
        &format!("import urllib.request as u; u.urlopen(u.Request('{moto_url}/{S3_BUCKET}', method='PUT'), timeout=5)"),
    ))?;
    let mongo_url = format!("mongodb://127.0.0.1:{MONGO_PORT}/?directConnection=true");
    wait_until("secantus", Duration::from_secs(60), &secantus_log, || {
        succeeds(python(
            "secantus",
            &format!(
                "import pymongo; pymongo.MongoClient('{mongo_url}', serverSelectionTimeoutMS=500).admin.command('ping')"
            ),
        ))
    })?;
    wait_until("redis", Duration::from_secs(30), &redis_log, || {
        output({
            let mut c = Command::new("redis-cli");
            c.args(["-h", "127.0.0.1", "-p", &REDIS_PORT.to_string(), "ping"]);
            c
        })
        .is_ok_and(|o| o.trim() == "PONG")
    })?;

    let env: BTreeMap<String, String> = [
        ("PROXIMA_TEST_POSTGRES_URL", format!("postgresql://postgres@127.0.0.1:{PG_PORT}/postgres")),
        ("PROXIMA_TEST_POSTGRES_CA", state.join("pg/ca.crt").display().to_string()),
        ("PROXIMA_TEST_MONGODB_URL", format!("mongodb://127.0.0.1:{MONGO_PORT}")),
        ("PROXIMA_TEST_DYNAMODB_URL", moto_url.clone()),
        ("PROXIMA_TEST_S3_URL", moto_url.clone()),
        ("PROXIMA_TEST_S3_BUCKET", S3_BUCKET.to_string()),
        ("PROXIMA_TEST_MOTO_RESET_URL", format!("{moto_url}/moto-api/reset")),
        ("PROXIMA_TEST_REDIS_URL", format!("redis://127.0.0.1:{REDIS_PORT}")),
        // Tests that stop and restart Redis run a private one from this binary.
        ("PROXIMA_TEST_REDIS_SERVER", "redis-server".to_string()),
        ("PROXIMA_TEST_PYTHON", venv_dir("tools").join("bin/python").display().to_string()),
        ("PROXIMA_TEST_QDRANT_PYTHON", venv_dir("qdrant").join("bin/python").display().to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(env_file(), text).map_err(|e| format!("cannot write {}: {e}", env_file().display()))?;
    eprintln!("xtask: all services ready in {:.1}s; env in {}", started.elapsed().as_secs_f64(), env_file().display());
    Ok(env)
}

fn start_postgres(state: &Path, run_dir: &Path, log_dir: &Path) -> Result<(), String> {
    let bin = pg_bin().ok_or("PostgreSQL binaries not found under /usr/lib/postgresql")?;
    let root = state.join("pg");
    std::fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    if is_root() {
        run({
            let mut c = Command::new("chown");
            c.arg("postgres:postgres").arg(&root);
            c
        })?;
    }
    let data = root.join("data");
    let initdb_log = File::create(log_dir.join("initdb.log")).map_err(|e| e.to_string())?;
    let mut initdb = as_postgres(&bin.join("initdb"));
    initdb.arg("-D").arg(&data).args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]).stdout(initdb_log);
    run(initdb)?;
    let (cert, key) = make_tls_certificates(&root)?;
    let options = format!(
        "-h 127.0.0.1 -p {PG_PORT} -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
         -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
        root.display(),
        cert.display(),
        key.display()
    );
    let mut start = as_postgres(&bin.join("pg_ctl"));
    start
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(root.join("postgres.log"))
        .args(["-w", "-t", "60", "-o", &options, "start"]);
    start.stdout(Stdio::null());
    run(start)?;
    let pid =
        std::fs::read_to_string(data.join("postmaster.pid")).map_err(|e| format!("postgres wrote no pid: {e}"))?;
    std::fs::write(run_dir.join("postgres.pid"), pid.lines().next().unwrap_or("")).map_err(|e| e.to_string())?;
    wait_until("postgres", Duration::from_secs(30), &root.join("postgres.log"), || {
        let mut c = Command::new(bin.join("pg_isready"));
        c.args(["-q", "-h", "127.0.0.1", "-p", &PG_PORT.to_string()]);
        succeeds(c)
    })
}

/// A test CA and a server certificate for 127.0.0.1 signed by it (PostgreSQL's
/// TLS). Returns the server certificate and key; the CA is `<dir>/ca.crt`.
fn make_tls_certificates(dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let openssl = |args: &[&str]| {
        let mut c = Command::new("openssl");
        c.args(args).current_dir(dir).stdout(Stdio::null()).stderr(Stdio::null());
        run(c)
    };
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .map_err(|e| format!("cannot write the certificate extensions: {e}"))?;
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "3650",
        "-subj",
        "/CN=proximadb test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ])?;
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ])?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "3650",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ])?;
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    if is_root() {
        for file in [&cert, &key] {
            run({
                let mut c = Command::new("chown");
                c.arg("postgres:postgres").arg(file);
                c
            })?;
        }
    }
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|e| format!("cannot protect {}: {e}", key.display()))?;
    Ok((cert, key))
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).stderr(Stdio::null()).status();
}

/// Stops every server started by `up`, by pid; waits for each to exit.
pub(crate) fn down() -> Result<(), String> {
    // Without servers, tests must not find their URLs.
    let _ = std::fs::remove_file(env_file());
    let run_dir = state_dir().join("run");
    let mut waiting = Vec::new();
    for name in ["secantus", "moto", "redis"] {
        let pidfile = run_dir.join(format!("{name}.pid"));
        if let Some(pid) = read_pid(&pidfile)
            && alive(pid)
        {
            eprintln!("xtask: stopping {name} ({pid})");
            signal(pid, "-TERM");
            waiting.push((name, pid));
        }
        let _ = std::fs::remove_file(pidfile);
    }
    let pg_pidfile = run_dir.join("postgres.pid");
    if read_pid(&pg_pidfile).is_some_and(alive)
        && let Some(bin) = pg_bin()
    {
        eprintln!("xtask: stopping postgres");
        let mut stop = as_postgres(&bin.join("pg_ctl"));
        stop.arg("-D").arg(state_dir().join("pg/data")).args(["-m", "fast", "-w", "stop"]).stdout(Stdio::null());
        run(stop)?;
    }
    let _ = std::fs::remove_file(pg_pidfile);
    for (name, pid) in waiting {
        let start = Instant::now();
        while alive(pid) && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(100));
        }
        if alive(pid) {
            eprintln!("xtask: {name} ({pid}) ignored TERM for 10 s; killing");
            signal(pid, "-KILL");
        }
    }
    Ok(())
}

pub(crate) fn status() -> Result<(), String> {
    let run_dir = state_dir().join("run");
    for name in ["postgres", "moto", "secantus", "redis"] {
        let state = match read_pid(&run_dir.join(format!("{name}.pid"))) {
            Some(pid) if alive(pid) => format!("up (pid {pid})"),
            Some(pid) => format!("DOWN (stale pid {pid})"),
            None => "not started".to_string(),
        };
        eprintln!("{name:<10} {state}");
    }
    eprintln!("env file: {}", env_file().display());
    Ok(())
}

/// The variables of the env file, if `up` wrote one.
pub(crate) fn env_from_file() -> Option<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(env_file()).ok()?;
    Some(text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
}
