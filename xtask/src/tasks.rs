//! The tasks that run cargo: ci, lint, features, test, deny, bench, soak.

use std::collections::BTreeMap;

use crate::cmd::{cargo, home, on_path, run};
use crate::{services, tidy};

/// Everything CI checks, in order; services are stopped even when a step fails.
pub(crate) fn ci() -> Result<(), String> {
    let started = std::time::Instant::now();
    let env = services::up()?;
    let result = (|| {
        lint()?;
        tidy::run()?;
        features()?;
        test(&env)?;
        deny()
    })();
    let stopped = services::down();
    eprintln!("xtask: ci finished in {:.0}s", started.elapsed().as_secs_f64());
    result.and(stopped)
}

pub(crate) fn lint() -> Result<(), String> {
    run(cargo(&["fmt", "--all", "--", "--check"]))?;
    run(cargo(&["clippy", "--workspace", "--all-targets", "--all-features", "--profile", "ci", "--", "-D", "warnings"]))
}

/// Each facade feature must build on its own (features are additive).
pub(crate) fn features() -> Result<(), String> {
    let manifest = std::fs::read_to_string(crate::cmd::root().join("crates/proxima/Cargo.toml"))
        .map_err(|e| format!("cannot read the facade manifest: {e}"))?;
    let features = tidy::feature_names(&manifest);
    run(cargo(&["check", "-p", "proxima", "--no-default-features", "--profile", "ci"]))?;
    for feature in features.iter().filter(|f| *f != "default") {
        run(cargo(&["check", "-p", "proxima", "--no-default-features", "--features", feature, "--profile", "ci"]))?;
    }
    Ok(())
}

/// Every test, with the service URLs in the environment; in CI a missing service is a failure.
pub(crate) fn test(env: &BTreeMap<String, String>) -> Result<(), String> {
    let mut c = cargo(&[
        "nextest",
        "run",
        "--workspace",
        "--all-features",
        "--cargo-profile",
        "ci",
        "--no-fail-fast",
        "--failure-output",
        "final",
    ]);
    c.envs(env).env("PROXIMA_REQUIRE_SERVICES", "1");
    run(c)?;
    // nextest does not run doctests.
    run(cargo(&["test", "--workspace", "--all-features", "--doc", "--profile", "ci"]))
}

/// License, ban and source checks. Advisories need the advisory database from
/// the network, which these machines cannot reach, so they are not checked here.
pub(crate) fn deny() -> Result<(), String> {
    if !on_path("cargo-deny") && !home().join(".cargo/bin/cargo-deny").is_file() {
        run(cargo(&["install", "--locked", "cargo-deny"]))?;
    }
    run(cargo(&["deny", "--all-features", "check", "bans", "licenses", "sources"]))
}

/// Criterion benchmarks: `wal`, `meta`, `ingest` (VIPER), `engines` (VIPER, LSM and mmap side by
/// side), `kernels`, `coordinator`, or all of
/// them; `ann --data DIR [--filtered] --out FILE` runs the ANN benchmark.
pub(crate) fn bench(args: &[&str]) -> Result<(), String> {
    if args.first() == Some(&"engines") {
        return run(cargo(&["bench", "-p", "proxima", "--features", "engine-lsm,engine-mmap", "--bench", "engines"]));
    }
    if let Some(("cache", rest)) = args.split_first().map(|(a, r)| (*a, r)) {
        return bench_cache(rest);
    }
    if let Some(("hybrid", rest)) = args.split_first().map(|(a, r)| (*a, r)) {
        return bench_hybrid(rest);
    }
    if let Some(("ann", rest)) = args.split_first().map(|(a, r)| (*a, r)) {
        let mut command = vec!["run", "--release", "-p", "proxima-search", "--example", "ann", "--"];
        command.extend(rest);
        return run(cargo(&command));
    }
    let packages: &[&str] = match args.first().copied() {
        Some("wal") => &["proxima-wal"],
        Some("meta") => &["proxima-meta-wal", "proxima-meta-sqlite"],
        Some("ingest") => &["proxima-engine-viper"],
        Some("kernels") => &["proxima-index"],
        Some("coordinator") => &["proxima"],
        None => &[
            "proxima-wal",
            "proxima-meta-wal",
            "proxima-meta-sqlite",
            "proxima-engine-viper",
            "proxima-index",
            "proxima",
        ],
        Some(other) => {
            return Err(format!(
                "unknown benchmark set `{other}`; use wal, meta, ingest, engines, kernels, coordinator, ann, cache or hybrid"
            ));
        }
    };
    let mut command = vec!["bench"];
    for p in packages {
        command.extend(["-p", p]);
    }
    run(cargo(&command))
}

/// The soak test of the real binary (crates/cli/tests/soak.rs) at full size, in
/// release: `--minutes N` per engine (default 5), `--engine E` for one engine.
pub(crate) fn soak(args: &[&str]) -> Result<(), String> {
    let mut minutes = 5u64;
    let mut filter = "soak_".to_string();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("`{arg}` needs a value"))?;
        match *arg {
            "--minutes" => minutes = value.parse().map_err(|_| format!("`--minutes {value}` is not a number"))?,
            "--engine" if ["viper", "lsm", "mmap"].contains(value) => filter = format!("soak_{value}"),
            _ => {
                return Err(format!("unknown soak argument `{arg} {value}`; use --minutes N, --engine viper|lsm|mmap"));
            }
        }
    }
    let mut c = cargo(&[
        "test",
        "--release",
        "-p",
        "proximadb",
        "--test",
        "soak",
        "--",
        &filter,
        "--nocapture",
        "--test-threads",
        "1",
    ]);
    c.env("PROXIMA_SOAK_FULL", "1").env("PROXIMA_SOAK_SECONDS", (minutes * 60).to_string());
    run(c)
}

/// The answer cache over HTTP: the release server on its defaults (L1 on),
/// GloVe-50 loaded once. The cost of the miss path: three pairs, each on a
/// freshly started server (so its cache is cold) warmed by searches that
/// bypass the cache, of the 10,000 queries sent once with the cache bypassed
/// and once used (every lookup a miss), in alternating order. Then, at
/// concurrency 1 and 4, a Zipf stream over 1,000 distinct queries (20,000
/// requests, ~95% repeats) with the cache bypassed and used.
fn bench_cache(args: &[&str]) -> Result<(), String> {
    let (data, redis) = match args {
        ["--data", dir] => (*dir, None),
        ["--data", dir, "--redis", url] => (*dir, Some(*url)),
        _ => {
            return Err(
                "usage: cargo xtask bench cache --data DIR [--redis URL] (DIR from ../shared/bench/glove50.sh)".into(),
            );
        }
    };
    run(cargo(&["build", "--release", "-p", "proximadb"]))?;
    let bin = std::env::var_os("CARGO_TARGET_DIR").map_or_else(crate::cmd::target_dir, std::path::PathBuf::from);
    let bin = bin.join("release/proximadb");
    let dir = std::env::temp_dir().join(format!("proximadb-bench-cache-{}", std::process::id()));
    let addr = "127.0.0.1:5699";
    let url = format!("http://{addr}");
    let bench = |label: &str, stream: &[&str], cache: &str, concurrency: &str| {
        eprintln!("xtask: bench cache: {label}");
        let mut c = std::process::Command::new(&bin);
        c.args(["bench", "--url", &url, "--data", data, "--concurrency", concurrency, "--cache", cache]).args(stream);
        run(c)
    };
    let once = ["--queries", "10000"];
    let warm = ["--queries", "2000"];
    let zipf = ["--distinct", "1000", "--zipf", "1.0", "--queries", "20000"];
    let mut server = start_server(&bin, &dir, addr, &[])?;
    let mut result = bench("no repeats, cache bypassed (loads the data)", &once, "bypass", "1,4");
    for pair in 1..=3 {
        if result.is_err() {
            break;
        }
        let _ = server.kill();
        let _ = server.wait();
        server = start_server(&bin, &dir, addr, &[])?;
        result = bench(&format!("pair {pair}: warm-up"), &warm, "bypass", "1").and_then(|_| {
            let runs = [("cache bypassed", "bypass"), ("L1, every lookup a miss", "use")];
            let order = if pair % 2 == 0 { [runs[1], runs[0]] } else { runs };
            order.iter().try_for_each(|(label, cache)| bench(&format!("pair {pair}: {label}"), &once, cache, "1"))
        });
    }
    result = result
        .and_then(|_| bench("zipf stream, cache bypassed", &zipf, "bypass", "1,4"))
        .and_then(|_| bench("zipf stream, L1", &zipf, "use", "1,4"));
    if let Some(url) = redis.filter(|_| result.is_ok()) {
        // An L1 too small to keep any answer: every repeat is answered by Redis.
        let _ = server.kill();
        let _ = server.wait();
        let env = [("PROXIMADB_CACHE_REDIS_URL", url), ("PROXIMADB_CACHE_L1_MAX_BYTES", "1")];
        server = start_server(&bin, &dir, addr, &env)?;
        result = bench("zipf stream, L2 (Redis) with no room in L1", &zipf, "use", "1,4");
    }
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Hybrid queries over HTTP: the release server on its defaults, GloVe-50's
/// first 50,000 vectors with a relation graph and 1,000 users
/// (`proximadb bench-hybrid`), p50/p99 per strategy at concurrency 1.
fn bench_hybrid(args: &[&str]) -> Result<(), String> {
    let (data, out) = match args {
        ["--data", dir] => (*dir, None),
        ["--data", dir, "--out", out] => (*dir, Some(*out)),
        _ => return Err("usage: cargo xtask bench hybrid --data DIR [--out FILE]".into()),
    };
    run(cargo(&["build", "--release", "-p", "proximadb"]))?;
    let bin = std::env::var_os("CARGO_TARGET_DIR").map_or_else(crate::cmd::target_dir, std::path::PathBuf::from);
    let bin = bin.join("release/proximadb");
    let dir = std::env::temp_dir().join(format!("proximadb-bench-hybrid-{}", std::process::id()));
    let addr = "127.0.0.1:5698";
    let mut server = start_server(&bin, &dir, addr, &[])?;
    let mut c = std::process::Command::new(&bin);
    c.args(["bench-hybrid", "--url", &format!("http://{addr}"), "--data", data]);
    if let Some(out) = out {
        c.args(["--out", out]);
    }
    let result = run(c);
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// `proximadb serve` on `dir` with `env` besides, once it accepts connections.
fn start_server(
    bin: &std::path::Path,
    dir: &std::path::Path,
    addr: &str,
    env: &[(&str, &str)],
) -> Result<std::process::Child, String> {
    let mut server = std::process::Command::new(bin)
        .args(["serve", "--bind", addr, "--data-dir"])
        .arg(dir)
        .env("PROXIMADB_LOG", "warn")
        .envs(env.iter().copied())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while std::net::TcpStream::connect(addr).is_err() {
        if std::time::Instant::now() > deadline {
            let _ = server.kill();
            return Err("the server did not listen within 120 s".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(server)
}
