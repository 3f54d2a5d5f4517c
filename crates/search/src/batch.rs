//! Many searches over one read view: each is answered as a single search
//! would be, but the segments several of them scan exactly, without a
//! filter, are scanned for all of them at once by matrix products.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use proxima_core::{Result, SearchRequest};
use proxima_engine::ReadView;
use proxima_index::{BatchQueries, flat_search_batch};

use crate::payload::RowFilter;
use crate::plan::Method;
use crate::{SearchContext, SearchResponse, VectorSearchHandler};

impl VectorSearchHandler {
    /// Answers `requests` over `view`, in order. Every request is validated
    /// and planned before anything runs: one that is refused refuses the
    /// batch, naming its position (`search` in the error's context).
    /// A segment two or more requests scan exactly without a filter is
    /// scanned once for all of them ([`flat_search_batch`] on `threads`
    /// threads); scores there may differ from a single search's in the last
    /// bits, the product summing in another order. The rest, and a
    /// request's `timeout_ms`, run as in [`VectorSearchHandler::execute_search`].
    pub fn execute_batch(
        &self,
        view: &Arc<dyn ReadView>,
        requests: Vec<SearchRequest>,
        threads: usize,
    ) -> Result<Vec<SearchResponse>> {
        let started = Instant::now();
        let contexts: Vec<SearchContext> = requests.into_iter().map(|r| SearchContext::new(view.clone(), r)).collect();
        let mut planned = Vec::with_capacity(contexts.len());
        let mut queries = Vec::with_capacity(contexts.len());
        for (i, ctx) in contexts.iter().enumerate() {
            let mut query = ctx.request.vector.clone();
            let plans = self
                .plan_with_filters(ctx)
                .and_then(|plans| view.config().metric.prepare(&mut query).map(|_| plans))
                .map_err(|e| e.with_context("search", i))?;
            planned.push(plans);
            queries.push(query);
        }
        let planning_us = (started.elapsed().as_micros() as u64).checked_div(contexts.len() as u64).unwrap_or(0);

        let mut given = vec![BTreeMap::new(); contexts.len()];
        let now = proxima_core::now_unix_secs();
        for (s, segment) in view.segments().iter().enumerate() {
            // Plans come one per segment, in the view's order.
            let scans: Vec<usize> = (0..contexts.len())
                .filter(|&i| {
                    let (plan, rows) = &planned[i][s];
                    plan.method == Method::Flat && plan.live_rows > 0 && matches!(rows, RowFilter::Unfiltered)
                })
                .collect();
            if scans.len() < 2 {
                continue;
            }
            let batch_queries: Vec<Vec<f32>> = scans.iter().map(|&i| queries[i].clone()).collect();
            let k: Vec<usize> = scans.iter().map(|&i| contexts[i].request.k).collect();
            let live = segment.live();
            let accept = |row: u32| live.get(row as usize) && segment.expires_at(row as usize).is_none_or(|t| t > now);
            let batch = BatchQueries { queries: &batch_queries, k: &k };
            let found =
                flat_search_batch(view.config().metric, segment.vectors(), segment.dimension(), batch, threads, accept);
            for (i, neighbours) in scans.into_iter().zip(found) {
                given[i].insert(s, neighbours);
            }
        }
        contexts
            .iter()
            .zip(planned)
            .zip(given)
            .map(|((ctx, plans), given)| self.execute_planned(ctx, plans, planning_us, given))
            .collect()
    }
}
