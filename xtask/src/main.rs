//! `cargo xtask <task>`: the project's own automation. See `cargo xtask help`.

mod cmd;
mod services;
mod tasks;
mod tidy;

use std::process::ExitCode;

const HELP: &str = "\
cargo xtask <task>

  ci                 services up, fmt check, clippy -D warnings, tidy, features,
                     every test (nextest), cargo deny, services down
  services up|down|status
                     real PostgreSQL, MongoDB-wire (SecantusDB), DynamoDB/S3 (moto)
                     and Redis servers on loopback; URLs in the env file printed by `up`
  lint               cargo fmt --check and clippy with -D warnings on all features
  tidy               manifest rules (workspace dependencies, [lints] workspace = true)
  features           checks the facade with each feature alone
  test               every test in the workspace (starts nothing; run `services up` first)
  deny               cargo deny check (installs cargo-deny on first use)
  bench [wal|meta|ingest|engines|kernels|coordinator]
                     criterion benchmarks: the WAL, the metadata backends, VIPER ingest,
                     VIPER/LSM/mmap side by side, distance kernels vs simsimd,
                     coordinator overhead (default: all but engines)
  soak [--minutes N] [--engine viper|lsm|mmap]
                     the overwrite soak (50,000 ids, 4 writers, 4 searchers, deletes)
                     on the release binary, N minutes per engine (default 5), with
                     the files, log, memory and statistics it sampled
  bench cache --data DIR
                     the answer cache over HTTP on GloVe-50: a Zipf stream with
                     the cache bypassed and used, and a stream without repeats
  bench ann --data DIR [--filtered] --out FILE.json
                     HNSW build and ef sweep on a TEXMEX dataset (../shared/bench/glove50.sh),
                     same settings and output shape as ../shared/bench/peers.sh
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["ci"] => tasks::ci(),
        ["services", "up"] => services::up().map(|_| ()),
        ["services", "down"] => services::down(),
        ["services", "status"] => services::status(),
        ["lint"] => tasks::lint(),
        ["tidy"] => tidy::run(),
        ["features"] => tasks::features(),
        ["test"] => tasks::test(&services::env_from_file().unwrap_or_default()),
        ["deny"] => tasks::deny(),
        ["bench", rest @ ..] => tasks::bench(rest),
        ["soak", rest @ ..] => tasks::soak(rest),
        ["help"] | ["--help"] | [] => {
            eprint!("{HELP}");
            Ok(())
        }
        _ => Err(format!("unknown task `{}`\n\n{HELP}", args.join(" "))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
