//! Namespace backups: a consistent copy of one collection (its engine
//! checkpoint, taken at one sequence number, and its catalogue config) under
//! `DATA_DIR/backups/<collection>/<name>/`, with the collection's edges as
//! they were when the backup finished (`relations.json`).
//!
//! A partitioned collection keeps one checkpoint per partition under
//! `partitions/<i>/`, taken while its writes wait, so the parts form one cut.

use std::path::PathBuf;

use proxima_core::{CollectionConfig, Error, Result, validate};
use serde::{Deserialize, Serialize};

use crate::Proxima;

const CONFIG_FILE: &str = "collection.json";
const RELATIONS_FILE: &str = "relations.json";
const PARTITIONS_DIR: &str = "partitions";

/// A backup on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NamespaceBackup {
    /// The backup's name.
    pub name: String,
    /// The collection it was taken from.
    pub collection: String,
    /// The highest sequence number it holds.
    pub seq: u64,
    /// Live records it holds.
    pub records: u64,
    /// When it was taken, unix seconds.
    pub created_at: u64,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    backup: NamespaceBackup,
    config: CollectionConfig,
}

impl Proxima {
    fn backup_dir(&self, collection: &str, name: &str) -> Result<PathBuf> {
        validate::collection_name(collection)?;
        validate::collection_name(name).map_err(|_| {
            Error::invalid(format!("backup name `{name}` must be 1-128 letters, digits, `_`, `-` or `.`"))
        })?;
        Ok(self.data_dir.join("backups").join(collection).join(name))
    }

    /// Copies `collection` as it is now into a backup called `name`.
    pub async fn backup_namespace(&self, collection: &str, name: &str) -> Result<NamespaceBackup> {
        let (holders, config) = self.holders(collection).await?;
        let dir = self.backup_dir(collection, name)?;
        if dir.exists() {
            return Err(Error::already_exists(format!("backup `{name}` of `{collection}` exists")));
        }
        // One engine's checkpoint is a consistent cut; several are one only if no write lands between them.
        let gate = self.gates.of(collection);
        let _writes_wait = if config.partitions.is_empty() { None } else { Some(gate.write().await) };
        // Written beside the final place, then renamed: a crash never leaves half a backup.
        let partial = dir.with_extension("partial");
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial).map_err(|e| Error::io("cannot create the backup directory", e))?;
        let mut stats = proxima_engine::CollectionStats::default();
        for (i, (_, engine)) in holders.iter().enumerate() {
            engine.checkpoint_to(collection, &part_dir(&partial, &config, i)).await?;
            let part = engine.stats(collection).await?;
            stats.last_seq = stats.last_seq.max(part.last_seq);
            stats.live_records += part.live_records;
        }
        let edges = serde_json::to_vec(&self.relations.export_collection(collection).await?)
            .map_err(|e| Error::internal(format!("backup relations: {e}")))?;
        std::fs::write(partial.join(RELATIONS_FILE), edges).map_err(|e| Error::io("cannot write the backup", e))?;
        let backup = NamespaceBackup {
            name: name.to_string(),
            collection: collection.to_string(),
            seq: stats.last_seq,
            records: stats.live_records,
            created_at: proxima_core::now_unix_secs(),
        };
        let saved = serde_json::to_vec_pretty(&Saved { backup: backup.clone(), config })
            .map_err(|e| Error::internal(format!("backup description: {e}")))?;
        std::fs::write(partial.join(CONFIG_FILE), saved).map_err(|e| Error::io("cannot write the backup", e))?;
        std::fs::rename(&partial, &dir).map_err(|e| Error::io("cannot publish the backup", e))?;
        Ok(backup)
    }

    /// The backups of `collection`, oldest first.
    pub async fn list_namespace_backups(&self, collection: &str) -> Result<Vec<NamespaceBackup>> {
        validate::collection_name(collection)?;
        let root = self.data_dir.join("backups").join(collection);
        let Ok(entries) = std::fs::read_dir(&root) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            if entry.path().extension().is_some_and(|e| e == "partial") {
                continue;
            }
            out.push(read_saved(&entry.path())?.backup);
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.name.cmp(&b.name)));
        Ok(out)
    }

    /// Deletes a backup.
    pub async fn delete_namespace_backup(&self, collection: &str, name: &str) -> Result<()> {
        let dir = self.backup_dir(collection, name)?;
        if !dir.exists() {
            return Err(Error::not_found(format!("no backup `{name}` of `{collection}`")));
        }
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io("cannot delete the backup", e))
    }

    /// Restores backup `name` of `collection` into `target` (the collection
    /// itself when `None`, replacing its contents; a new collection otherwise).
    /// Afterwards the target holds exactly what the backup holds.
    pub async fn restore_namespace(
        &self,
        collection: &str,
        name: &str,
        target: Option<&str>,
    ) -> Result<CollectionConfig> {
        let dir = self.backup_dir(collection, name)?;
        if !dir.exists() {
            return Err(Error::not_found(format!("no backup `{name}` of `{collection}`")));
        }
        let saved = read_saved(&dir)?;
        let edges = read_relations(&dir)?;
        let target = target.unwrap_or(collection);
        // Like a move, a restore replaces the contents: writes wait until it is done.
        let gate = self.gates.of(target);
        let _writes_wait = gate.write().await;
        let config = match self.catalogue().get(target).await? {
            Some(_) => {
                let config = self.collection(target).await?;
                if config.dimension != saved.config.dimension {
                    return Err(Error::invalid(format!(
                        "`{target}` has dimension {}, the backup {}",
                        config.dimension, saved.config.dimension
                    )));
                }
                if config.partitions.len() != saved.config.partitions.len() {
                    return Err(Error::invalid(format!(
                        "`{target}` has {} partitions, the backup {}; restore into a new collection instead",
                        config.partitions.len(),
                        saved.config.partitions.len()
                    )));
                }
                config
            }
            None => {
                let mut config = saved.config.clone();
                config.name = target.to_string();
                self.create_collection(config).await?
            }
        };
        let (holders, _) = self.holders(target).await?;
        for (i, (_, engine)) in holders.iter().enumerate() {
            engine.restore_from(target, &part_dir(&dir, &saved.config, i)).await?;
        }
        self.relations.replace_collection(target, edges).await?;
        self.record_stats(target).await?;
        Ok(config)
    }
}

/// Where partition `i` of a collection with `config` is kept in a backup: the
/// backup itself for a collection held by one engine.
fn part_dir(backup: &std::path::Path, config: &CollectionConfig, i: usize) -> PathBuf {
    if config.partitions.is_empty() { backup.to_path_buf() } else { backup.join(PARTITIONS_DIR).join(i.to_string()) }
}

fn read_saved(dir: &std::path::Path) -> Result<Saved> {
    let path = dir.join(CONFIG_FILE);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::corrupted(format!("{}: {e}", path.display())))
}

/// The backup's edges; none for a backup taken before backups held them.
fn read_relations(dir: &std::path::Path) -> Result<Vec<proxima_hybrid::Edge>> {
    let path = dir.join(RELATIONS_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::corrupted(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(format!("cannot read {}", path.display()), e)),
    }
}
