//! The legs a strategy is made of: the vector search, the walk, and the
//! enrichment of hits through their edges. Each returns candidates that are
//! live and match the query's filter (and the user's constraints).

use std::collections::HashSet;

use proxima_core::{Filter, Metadata, Result, SearchRequest, now_unix_secs};

use super::request::QueryRequest;
use crate::Proxima;

/// A record some leg found, with what each leg says of it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Candidate {
    pub(crate) id: String,
    pub(crate) vector: Option<f32>,
    pub(crate) graph: Option<f64>,
    pub(crate) metadata: Option<Metadata>,
    pub(crate) related: Option<Vec<String>>,
}

/// Candidates and until when (unix seconds) they all hold.
pub(crate) struct Found {
    pub(crate) candidates: Vec<Candidate>,
    pub(crate) valid_until: Option<u64>,
}

impl Proxima {
    /// The `n` nearest live records matching `filter`, with their metadata.
    pub(crate) async fn vector_leg(
        &self,
        collection: &str,
        request: &QueryRequest,
        filter: Option<Filter>,
        n: usize,
    ) -> Result<Found> {
        let mut search = SearchRequest::new(request.vector.clone().unwrap_or_default(), n);
        search.filter = filter;
        search.accuracy = request.accuracy;
        search.include_metadata = true;
        let response = self.search(collection, search).await?;
        let candidates = response
            .hits
            .into_iter()
            .map(|hit| Candidate {
                id: hit.id,
                vector: Some(hit.score),
                metadata: hit.metadata,
                ..Candidate::default()
            })
            .collect();
        Ok(Found { candidates, valid_until: response.valid_until })
    }

    /// The best `n` live records matching `filter` that a walk from `anchors` reaches.
    pub(crate) async fn graph_leg(
        &self,
        collection: &str,
        request: &QueryRequest,
        anchors: Vec<String>,
        filter: Option<&Filter>,
        n: usize,
    ) -> Result<Found> {
        let reached = self.relations.traverse(collection, &request.walk(anchors)).await?;
        let now = now_unix_secs();
        let mut found = Found { candidates: Vec::with_capacity(n), valid_until: None };
        // Records are read a batch at a time: most walks are answered by the first.
        for batch in reached.chunks(n.max(16)) {
            let ids: Vec<String> = batch.iter().map(|r| r.id.clone()).collect();
            let records = self.get(collection, &ids).await?;
            for (reached, record) in batch.iter().zip(records) {
                let Some(stored) = record else { continue };
                let record = stored.record;
                if record.is_expired(now) || filter.is_some_and(|f| !f.matches(&record.metadata)) {
                    continue;
                }
                if let Some(at) = record.expires_at {
                    found.valid_until = Some(found.valid_until.map_or(at, |v| v.min(at)));
                }
                found.candidates.push(Candidate {
                    id: record.id,
                    graph: Some(reached.score),
                    metadata: Some(record.metadata),
                    ..Candidate::default()
                });
                if found.candidates.len() == n {
                    return Ok(found);
                }
            }
        }
        Ok(found)
    }

    /// Attaches each candidate's related ids (its first `fan_out` edges) and,
    /// where one of them leads to an anchor, sets its graph part to the
    /// heaviest such edge.
    pub(crate) async fn enrich(
        &self,
        collection: &str,
        request: &QueryRequest,
        candidates: &mut [Candidate],
        anchors: &[String],
    ) -> Result<()> {
        let ids: Vec<String> = candidates.iter().map(|c| c.id.clone()).collect();
        let steps = self
            .relations
            .steps_of(collection, &ids, &request.relation_types, request.direction, request.fan_out)
            .await?;
        let anchors: HashSet<&str> = anchors.iter().map(String::as_str).collect();
        for (candidate, steps) in candidates.iter_mut().zip(steps) {
            let link =
                steps.iter().filter(|s| anchors.contains(s.id.as_str())).map(|s| f64::from(s.weight)).reduce(f64::max);
            if let Some(link) = link {
                candidate.graph = Some(candidate.graph.map_or(link, |g| g.max(link)));
            }
            candidate.related = Some(steps.into_iter().map(|s| s.id).collect());
        }
        Ok(())
    }
}
