//! Helpers for ProximaDB's end-to-end tests: where the real test servers are.
//!
//! `cargo xtask services up` starts them and writes their URLs to an env file;
//! a test asks [`service_url`] for one. Without it, a test is skipped with a
//! loud message — unless `PROXIMA_REQUIRE_SERVICES=1` (set by `cargo xtask ci`)
//! or `CI=true`, where a missing server fails the test.

#![deny(missing_docs)]

use std::path::PathBuf;

pub mod crash;
pub mod engine_crash;
pub use proxima_client as http;
mod proxy;
pub mod redis;
pub mod server;
pub mod soak;
pub use proxy::Proxy;

/// The env file written by `cargo xtask services up`.
pub fn env_file() -> PathBuf {
    std::env::var_os("PROXIMA_SERVICES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/proximadb-services"))
        .join("env")
}

/// Whether a missing server must fail the test instead of skipping it.
pub fn services_required() -> bool {
    let set = |k: &str, v: &str| std::env::var(k).is_ok_and(|x| x.eq_ignore_ascii_case(v));
    set("PROXIMA_REQUIRE_SERVICES", "1") || set("CI", "true")
}

/// The value of `PROXIMA_TEST_<NAME>` (or another variable the env file sets),
/// from the environment or the env file. `None` means: skip (never in CI).
pub fn service_var(name: &str) -> Option<String> {
    if let Ok(v) = std::env::var(name) {
        return Some(v);
    }
    let from_file = std::fs::read_to_string(env_file())
        .ok()
        .and_then(|text| text.lines().find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_string)));
    if from_file.is_none() {
        assert!(
            !services_required(),
            "{name} is not set and {} has no value for it: run `cargo xtask services up` (CI requires every service)",
            env_file().display()
        );
        eprintln!("SKIPPED: {name} is not set; run `cargo xtask services up` to test against the real server");
    }
    from_file
}

/// The URL of a test server, e.g. `service_url("POSTGRES")` reads `PROXIMA_TEST_POSTGRES_URL`.
pub fn service_url(backend: &str) -> Option<String> {
    service_var(&format!("PROXIMA_TEST_{backend}_URL"))
}

/// `host:port` of an `scheme://[user@]host:port[/...]` URL.
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest).to_string()
}

/// Drives a backend through an outage: reachable, then the server goes away
/// (every call must fail with `Unavailable` — no hang, no panic), then it comes
/// back (calls succeed again without reopening the backend).
pub async fn outage_and_recovery(
    backend: &dyn proxima_meta::MetadataBackend,
    proxy: &mut Proxy,
) -> proxima_core::Result<()> {
    use proxima_core::ErrorKind;
    use proxima_meta::CollectionMetadata;
    let deadline = std::time::Duration::from_secs(90);
    backend.create(CollectionMetadata::new("outage-id", "outage", 4)).await?;
    proxy.stop();
    let down =
        tokio::time::timeout(deadline, backend.get("outage")).await.expect("a call hung while the server was down");
    assert_eq!(down.unwrap_err().kind(), ErrorKind::Unavailable);
    let write = tokio::time::timeout(deadline, backend.create(CollectionMetadata::new("outage-2-id", "outage-2", 4)))
        .await
        .expect("a write hung while the server was down");
    assert_eq!(write.unwrap_err().kind(), ErrorKind::Unavailable);
    proxy.resume();
    let back =
        tokio::time::timeout(deadline, backend.get("outage")).await.expect("a call hung after the server returned")?;
    assert!(back.is_some(), "the entry written before the outage is gone");
    let mut m = back.unwrap_or_else(|| unreachable!());
    m.description = Some("after the outage".into());
    assert_eq!(backend.update(m).await?.version, 2);
    let stats = backend.stats().await?;
    assert!(stats.errors.get("get").copied().unwrap_or(0) >= 1, "failed calls are not counted: {stats:?}");
    assert!(stats.mean_latency_ms.contains_key("get"), "calls are not timed: {stats:?}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_strips_scheme_user_and_path() {
        assert_eq!(host_port("postgresql://postgres@127.0.0.1:54329/postgres"), "127.0.0.1:54329");
        assert_eq!(host_port("mongodb://127.0.0.1:27019"), "127.0.0.1:27019");
        assert_eq!(host_port("http://127.0.0.1:5055/x?y"), "127.0.0.1:5055");
    }
}
