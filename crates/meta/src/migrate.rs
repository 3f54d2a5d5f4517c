//! Copying the catalogue between any two backends.

use proxima_core::Result;
use serde::{Deserialize, Serialize};

use crate::{CollectionMetadata, ListFilter, MetadataBackend, MetadataBackendExt, MetadataBackendFactory};

/// How `migrate` runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrateOptions {
    /// Report what would happen; write nothing.
    pub dry_run: bool,
    /// After copying, read every entry back from the target and compare field by field.
    pub verify: bool,
}

/// What happens (or would happen) to one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrateAction {
    /// Absent in the target: created.
    Create,
    /// Present in the target with other fields: overwritten.
    Overwrite,
    /// Identical in the target: left alone.
    Unchanged,
}

/// The outcome of `migrate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MigrateReport {
    /// Each source entry's name and action, in name order.
    pub plan: Vec<(String, MigrateAction)>,
    /// Entries written to the target (0 in a dry run).
    pub written: usize,
    /// With `verify`: whether every entry read back equal.
    pub verified: Option<bool>,
    /// With `verify`: a line per field that differs.
    pub mismatches: Vec<String>,
}

/// Copies every visible entry of `from` into `to`, preserving every field.
/// Entries only in `to` are kept. The copy is one `import`, so it is atomic
/// where the target's import is.
pub async fn migrate(
    from: &dyn MetadataBackend,
    to: &dyn MetadataBackend,
    options: MigrateOptions,
) -> Result<MigrateReport> {
    let entries = from.list_all(&ListFilter::default()).await?;
    let mut report = MigrateReport::default();
    let mut to_write = Vec::new();
    for entry in entries.iter() {
        let action = match to.get(&entry.name).await? {
            None => MigrateAction::Create,
            Some(existing) if existing == *entry => MigrateAction::Unchanged,
            Some(_) => MigrateAction::Overwrite,
        };
        report.plan.push((entry.name.clone(), action));
        if action != MigrateAction::Unchanged {
            to_write.push(entry.clone());
        }
    }
    if options.dry_run {
        return Ok(report);
    }
    report.written = to_write.len();
    if !to_write.is_empty() {
        to.import(to_write).await?;
    }
    if options.verify {
        for entry in &entries {
            match to.get(&entry.name).await? {
                None => report.mismatches.push(format!("{}: missing in the target", entry.name)),
                Some(copy) => report.mismatches.extend(differences(entry, &copy)),
            }
        }
        report.verified = Some(report.mismatches.is_empty());
    }
    Ok(report)
}

/// [`migrate`] between two connection strings, opened by `factory`.
pub async fn migrate_uris(
    factory: &MetadataBackendFactory,
    from: &str,
    to: &str,
    options: MigrateOptions,
) -> Result<MigrateReport> {
    let source = factory.open(from).await?;
    let target = factory.open(to).await?;
    migrate(&*source, &*target, options).await
}

/// One line per field where `a` and `b` differ.
pub fn differences(a: &CollectionMetadata, b: &CollectionMetadata) -> Vec<String> {
    let (ja, jb) = (serde_json::to_value(a).unwrap_or_default(), serde_json::to_value(b).unwrap_or_default());
    let (Some(fa), Some(fb)) = (ja.as_object(), jb.as_object()) else {
        return vec![format!("{}: not comparable", a.name)];
    };
    fa.iter()
        .filter(|(k, v)| fb.get(*k) != Some(v))
        .map(|(k, v)| format!("{}.{k}: source {v}, target {}", a.name, fb.get(k).cloned().unwrap_or_default()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryBackend;

    #[tokio::test]
    async fn dry_run_changes_nothing_and_copy_verifies() {
        let (from, to) = (MemoryBackend::new(), MemoryBackend::new());
        let mut a = CollectionMetadata::new("a-id", "a", 4);
        a.tags = vec!["x".into()];
        from.create(a).await.unwrap();
        from.create(CollectionMetadata::new("b-id", "b", 8)).await.unwrap();
        let same = from.get("b").await.unwrap().unwrap();
        to.import(vec![same]).await.unwrap();

        let dry = migrate(&from, &to, MigrateOptions { dry_run: true, verify: true }).await.unwrap();
        assert_eq!(
            dry.plan,
            vec![("a".to_string(), MigrateAction::Create), ("b".to_string(), MigrateAction::Unchanged)]
        );
        assert_eq!(dry.written, 0);
        assert!(to.get("a").await.unwrap().is_none(), "a dry run wrote to the target");

        let done = migrate(&from, &to, MigrateOptions { dry_run: false, verify: true }).await.unwrap();
        assert_eq!((done.written, done.verified), (1, Some(true)));
        assert_eq!(to.get("a").await.unwrap(), from.get("a").await.unwrap());
    }

    #[test]
    fn differences_name_each_field() {
        let a = CollectionMetadata::new("id", "n", 4);
        let mut b = a.clone();
        b.dimension = 5;
        b.owner = Some("o".into());
        let d = differences(&a, &b);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d.iter().any(|l| l.starts_with("n.dimension")));
    }
}
