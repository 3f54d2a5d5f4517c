//! The planner: which strategy answers a query, from its shape and from how
//! long each strategy has recently taken on the collection.
//!
//! A query's shape allows some strategies, in an order of preference (the
//! richer answer first): a vector and anchors allow `hybrid_parallel`,
//! `hybrid_sequential`, `vector_only`; a vector alone `vector_only`; anchors
//! alone `graph_only`. With `budget_ms` the planner takes the first allowed
//! strategy whose recent p95 fits (an unmeasured one fits: running it measures
//! it), else the fastest. Without a budget it takes the first, or between the
//! two hybrids the one with the lower p95 once both are measured.

use proxima_core::{Error, Result};

use super::request::{QueryPlan, QueryRequest, Strategy, StrategyLatency};

/// What a query has to start from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) vector: bool,
    /// Start ids, or liked items of the user.
    pub(crate) anchors: bool,
}

impl Shape {
    /// The computing strategies this shape allows, preferred first.
    pub(crate) fn allowed(self) -> Vec<Strategy> {
        match (self.vector, self.anchors) {
            (true, true) => vec![Strategy::HybridParallel, Strategy::HybridSequential, Strategy::VectorOnly],
            (true, false) => vec![Strategy::VectorOnly, Strategy::HybridSequential],
            (false, true) => vec![Strategy::GraphOnly],
            (false, false) => Vec::new(),
        }
    }

    /// Why `strategy` cannot answer this shape, if it cannot.
    fn refuses(self, strategy: Strategy) -> Option<&'static str> {
        match strategy {
            Strategy::VectorOnly | Strategy::HybridSequential if !self.vector => Some("needs a `vector`"),
            Strategy::GraphOnly if !self.anchors => Some("needs `start_ids` or a user with liked items"),
            Strategy::HybridParallel if !(self.vector && self.anchors) => {
                Some("needs a `vector` and `start_ids` (or a user with liked items)")
            }
            _ => None,
        }
    }
}

/// Chooses the strategy; `latency(s)` is the recent p95 (ms) and sample count of `s`.
pub(crate) fn choose(
    request: &QueryRequest,
    shape: Shape,
    latency: impl Fn(Strategy) -> Option<(f64, usize)>,
) -> Result<QueryPlan> {
    let allowed = shape.allowed();
    let candidates: Vec<StrategyLatency> = allowed
        .iter()
        .map(|&strategy| {
            let measured = latency(strategy);
            StrategyLatency { strategy, p95_ms: measured.map(|m| m.0), samples: measured.map_or(0, |m| m.1) }
        })
        .collect();
    let plan = |strategy: Strategy, reason: String| Ok(QueryPlan { strategy, reason, candidates: candidates.clone() });
    match request.strategy {
        Strategy::Auto => {}
        Strategy::CachedOnly => {
            if allowed.is_empty() {
                return Err(nothing_to_start_from());
            }
            return plan(Strategy::CachedOnly, "named by the request".into());
        }
        named => {
            if let Some(why) = shape.refuses(named) {
                return Err(Error::invalid(format!("strategy {} {why}", named.name())));
            }
            return plan(named, "named by the request".into());
        }
    }
    let Some(first) = candidates.first() else { return Err(nothing_to_start_from()) };
    let p95 = |c: &StrategyLatency| c.p95_ms.map_or("not yet measured".to_string(), |ms| format!("p95 {ms:.2} ms"));
    if let Some(budget) = request.budget_ms {
        if let Some(fits) = candidates.iter().find(|c| c.p95_ms.is_none_or(|ms| ms <= budget)) {
            return plan(
                fits.strategy,
                format!("{} ({}) fits the {budget} ms budget", fits.strategy.name(), p95(fits)),
            );
        }
        let fastest = candidates
            .iter()
            .min_by(|a, b| a.p95_ms.unwrap_or(f64::MAX).total_cmp(&b.p95_ms.unwrap_or(f64::MAX)))
            .unwrap_or(first);
        return plan(
            fastest.strategy,
            format!(
                "nothing fits the {budget} ms budget; {} is the fastest ({})",
                fastest.strategy.name(),
                p95(fastest)
            ),
        );
    }
    if let [a, b, ..] = candidates.as_slice()
        && a.strategy == Strategy::HybridParallel
        && let (Some(pa), Some(pb)) = (a.p95_ms, b.p95_ms)
    {
        let (won, lost) = if pb < pa { (b, a) } else { (a, b) };
        return plan(
            won.strategy,
            format!("{} ({}) is faster than {} ({})", won.strategy.name(), p95(won), lost.strategy.name(), p95(lost)),
        );
    }
    let shape_says = match (shape.vector, shape.anchors) {
        (true, true) => "a vector and anchors",
        (true, false) => "a vector and no anchors",
        _ => "anchors and no vector",
    };
    plan(first.strategy, format!("{shape_says}: {} ({})", first.strategy.name(), p95(first)))
}

fn nothing_to_start_from() -> Error {
    Error::invalid(
        "nothing to start from: give a `vector` or `start_ids` (the user has liked nothing in this collection)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> QueryRequest {
        serde_json::from_value(json).unwrap()
    }

    const BOTH: Shape = Shape { vector: true, anchors: true };

    #[test]
    fn picks_by_budget_from_recorded_latencies() {
        let recorded = |s: Strategy| match s {
            Strategy::HybridParallel => Some((12.0, 50)),
            Strategy::HybridSequential => Some((6.0, 50)),
            Strategy::VectorOnly => Some((1.5, 50)),
            _ => None,
        };
        let pick = |budget: f64| choose(&request(serde_json::json!({"k": 5, "budget_ms": budget})), BOTH, recorded);
        assert_eq!(pick(20.0).unwrap().strategy, Strategy::HybridParallel);
        assert_eq!(pick(8.0).unwrap().strategy, Strategy::HybridSequential);
        assert_eq!(pick(2.0).unwrap().strategy, Strategy::VectorOnly);
        let none_fits = pick(0.5).unwrap();
        assert_eq!(none_fits.strategy, Strategy::VectorOnly);
        assert!(none_fits.reason.contains("nothing fits"), "{}", none_fits.reason);
        let unbudgeted = choose(&request(serde_json::json!({"k": 5})), BOTH, recorded).unwrap();
        assert_eq!(unbudgeted.strategy, Strategy::HybridSequential, "{}", unbudgeted.reason);
        assert_eq!(unbudgeted.candidates.len(), 3);
    }

    #[test]
    fn shape_decides_before_latency() {
        let none = |_| None;
        let auto = request(serde_json::json!({"k": 5}));
        assert_eq!(choose(&auto, Shape { vector: false, anchors: true }, none).unwrap().strategy, Strategy::GraphOnly);
        assert_eq!(choose(&auto, Shape { vector: true, anchors: false }, none).unwrap().strategy, Strategy::VectorOnly);
        assert_eq!(choose(&auto, BOTH, none).unwrap().strategy, Strategy::HybridParallel);
        assert!(choose(&auto, Shape { vector: false, anchors: false }, none).is_err());
        let named = request(serde_json::json!({"k": 5, "strategy": "graph_only"}));
        let err = choose(&named, Shape { vector: true, anchors: false }, none).unwrap_err();
        assert!(err.message().contains("graph_only needs"), "{err}");
    }
}
