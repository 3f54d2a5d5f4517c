//! Many clients updating one entry with versions: exactly one wins each round.

use std::sync::Arc;

use proxima_core::ErrorKind;

use super::{CaseError, CaseResult, MetaHarness, ensure, sample};

/// Eight tasks update the same version concurrently, five rounds: one success
/// each round, the rest `Conflict`, and the winner's write is the one stored.
pub async fn concurrent_updates_have_one_winner(h: &dyn MetaHarness) -> CaseResult {
    let b = h.open().await?;
    b.create(sample("conc", 1)).await?;
    for round in 0..5 {
        let current = b.get("conc").await?.ok_or_else(|| CaseError("entry vanished".into()))?;
        let mut tasks = Vec::new();
        for writer in 0..8 {
            let b = Arc::clone(&b);
            let mut change = current.clone();
            change.description = Some(format!("round {round} writer {writer}"));
            tasks.push(tokio::spawn(async move { (writer, b.update(change).await) }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            let (writer, result) = task.await.map_err(|e| CaseError(format!("task panicked: {e}")))?;
            match result {
                Ok(m) => winners.push((writer, m)),
                Err(e) if e.kind() == ErrorKind::Conflict => {}
                Err(e) => return Err(CaseError(format!("round {round}: unexpected error {e}"))),
            }
        }
        ensure!(winners.len() == 1, "round {round}: {} writers succeeded", winners.len());
        let (writer, stored) = &winners[0];
        ensure!(stored.version == current.version + 1, "round {round}: winner at version {}", stored.version);
        let now = b.get("conc").await?.ok_or_else(|| CaseError("entry vanished".into()))?;
        ensure!(
            now.description == Some(format!("round {round} writer {writer}")),
            "round {round}: stored {:?}, winner was {writer}",
            now.description
        );
    }
    Ok(())
}
