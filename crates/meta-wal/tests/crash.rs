//! SIGKILL a process in the middle of catalogue updates, at random points, 50
//! times over one directory: every acknowledged change is there after restart,
//! nothing beyond the one change in flight, and the directory always reopens.
//!
//! The test re-runs its own binary as the writer; an environment variable picks the role.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use proxima_core::FsyncPolicy;
use proxima_meta::{CollectionMetadata, ListFilter, MetadataBackend, MetadataBackendExt};
use proxima_meta_wal::{WalBackend, WalBackendConfig};
use proxima_tests::crash;

const CHILD_DIR_VAR: &str = "PROXIMA_META_WAL_CRASH_DIR";
const TEST_NAME: &str = "acknowledged_changes_survive_sigkill";

fn config(dir: &Path) -> WalBackendConfig {
    // Frequent checkpoints, so kills also land between checkpoint and log truncation.
    WalBackendConfig { dir: dir.to_path_buf(), fsync: FsyncPolicy::Always, checkpoint_every: 7 }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

async fn open(dir: &Path) -> WalBackend {
    WalBackend::open(config(dir)).await.expect("a crashed catalogue must reopen cleanly")
}

fn child(dir: &Path) -> ! {
    runtime().block_on(async {
        let backend = open(dir).await;
        let mut names: Vec<String> =
            backend.list_all(&ListFilter::default()).await.unwrap().into_iter().map(|m| m.name).collect();
        let mut out = std::io::stdout().lock();
        let mut i = names.len() as u64 * 3;
        loop {
            i += 1;
            let stored = if names.is_empty() || i.is_multiple_of(3) {
                let name = format!("c{i}");
                names.push(name.clone());
                backend.create(CollectionMetadata::new(format!("id{i}"), name, 8)).await.unwrap()
            } else {
                let name = &names[(i as usize * 7) % names.len()];
                let mut m = backend.get(name).await.unwrap().unwrap();
                m.description = Some(format!("write {i}"));
                backend.update(m).await.unwrap()
            };
            let description = stored.description.unwrap_or_default();
            writeln!(out, "ACK {} {} {description}", stored.name, stored.version).unwrap();
            out.flush().unwrap();
        }
    })
}

#[test]
fn acknowledged_changes_survive_sigkill() {
    if let Ok(dir) = std::env::var(CHILD_DIR_VAR) {
        child(Path::new(&dir));
    }
    let seed = crash::seed();
    let mut rng = crash::Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    // The newest acknowledged (version, description) of every name.
    let mut acked: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let rt = runtime();
    for iteration in 0..crash::iterations() {
        let run_for = Duration::from_millis(10 + rng.below(80));
        for line in crash::kill_child_after(TEST_NAME, CHILD_DIR_VAR, dir.path(), run_for) {
            let mut parts = line.splitn(3, ' ');
            let (name, version, description) =
                (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap_or(""));
            acked.insert(name.to_string(), (version.parse().unwrap(), description.to_string()));
        }

        let ctx = format!("seed {seed}, iteration {iteration}");
        rt.block_on(async {
            let backend = open(dir.path()).await;
            let mut ahead = 0;
            for (name, (version, description)) in &acked {
                let stored =
                    backend.get(name).await.unwrap().unwrap_or_else(|| panic!("{ctx}: acknowledged {name} lost"));
                assert!(stored.version >= *version, "{ctx}: {name} went back from v{version} to v{}", stored.version);
                if stored.version == *version {
                    assert_eq!(stored.description.as_deref().unwrap_or(""), description, "{ctx}: {name} v{version}");
                } else {
                    ahead += stored.version - version;
                }
            }
            let stored = backend.list_all(&ListFilter::default()).await.unwrap();
            let unacked_creates = stored.iter().filter(|m| !acked.contains_key(&m.name)).count() as u64;
            assert!(ahead + unacked_creates <= 1, "{ctx}: more than the one in-flight change survived");
            // What survived is the baseline for the next round, acknowledged or not.
            for m in stored {
                acked.insert(m.name.clone(), (m.version, m.description.unwrap_or_default()));
            }
        });
    }
    assert!(!acked.is_empty(), "the child never acknowledged a change; the test proved nothing");
}
