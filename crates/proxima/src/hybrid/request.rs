//! What a hybrid query asks for and what it answers.

use proxima_core::{Error, Filter, Metadata, Result, validate};
use proxima_hybrid::{Direction, Traversal, traverse::DEFAULT_FAN_OUT, validate_user};
use serde::{Deserialize, Serialize};

use crate::cache::CacheOutcome;

/// Most over-fetching a query may ask for.
pub const MAX_OVERFETCH: usize = 10;

/// How a query is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The planner chooses (from the query's shape, the cache and measured latency).
    #[default]
    Auto,
    /// Nearest neighbours of `vector`.
    VectorOnly,
    /// A walk from `start_ids` (or the user's recently liked items), ranked by path score.
    GraphOnly,
    /// The vector search and the walk at once, fused.
    HybridParallel,
    /// The vector search over-fetching, its hits enriched through their edges.
    HybridSequential,
    /// The cache alone: an answer some strategy stored, or a miss.
    CachedOnly,
}

impl Strategy {
    /// The strategies that compute (everything but `auto` and `cached_only`).
    pub const COMPUTING: [Strategy; 4] =
        [Strategy::HybridParallel, Strategy::HybridSequential, Strategy::GraphOnly, Strategy::VectorOnly];

    /// Its name in requests, answers and analytics.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Auto => "auto",
            Strategy::VectorOnly => "vector_only",
            Strategy::GraphOnly => "graph_only",
            Strategy::HybridParallel => "hybrid_parallel",
            Strategy::HybridSequential => "hybrid_sequential",
            Strategy::CachedOnly => "cached_only",
        }
    }

    /// The analytics operation that times it.
    pub(crate) fn op(self) -> &'static str {
        match self {
            Strategy::Auto => "query_auto",
            Strategy::VectorOnly => "query_vector_only",
            Strategy::GraphOnly => "query_graph_only",
            Strategy::HybridParallel => "query_hybrid_parallel",
            Strategy::HybridSequential => "query_hybrid_sequential",
            Strategy::CachedOnly => "query_cached_only",
        }
    }
}

/// How the vector and graph rankings of `hybrid_parallel` become one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Fusion {
    /// Reciprocal rank fusion: Σ 1 / (60 + rank) over the rankings a hit is in.
    #[default]
    Rrf,
    /// `(1 − graph_weight) × vector + graph_weight × graph`, the vector score
    /// scaled to 0..=1 within the candidates.
    Weighted,
}

/// A hybrid query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// `auto` (default), `vector_only`, `graph_only`, `hybrid_parallel`, `hybrid_sequential` or `cached_only`.
    #[serde(default)]
    pub strategy: Strategy,
    /// The query vector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector: Option<Vec<f32>>,
    /// Records to walk from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub start_ids: Vec<String>,
    /// The user whose policy ranks the answer (and whose liked items anchor the walk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// How many hits, 1..=10,000 (default 10).
    #[serde(default = "default_k")]
    pub k: usize,
    /// Only records matching this filter are returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    /// Edge types walked; empty walks every type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relation_types: Vec<String>,
    /// `out` (default), `in` or `both`.
    #[serde(default)]
    pub direction: Direction,
    /// Hops, 1..=3 (default 1).
    #[serde(default = "default_depth")]
    pub depth: u8,
    /// Edges followed per node per hop, 1..=64 (default 16).
    #[serde(default = "default_fan_out")]
    pub fan_out: usize,
    /// `rrf` (default) or `weighted`.
    #[serde(default)]
    pub fusion: Fusion,
    /// The graph's weight in weighted fusion and in `hybrid_sequential`'s boost, 0..=1 (default 0.3).
    #[serde(default = "default_graph_weight")]
    pub graph_weight: f32,
    /// Candidates fetched per hit returned before re-ranking, 1..=10 (default 3).
    #[serde(default = "default_overfetch")]
    pub overfetch: usize,
    /// The vector search's target recall (as in searches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f32>,
    /// With `auto`: pick the best strategy whose recent p95 fits this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_ms: Option<f64>,
    /// Attach each hit's related ids (its first `fan_out` edges).
    #[serde(default)]
    pub include_related: bool,
    /// Attach each hit's metadata.
    #[serde(default)]
    pub include_metadata: bool,
}

fn default_k() -> usize {
    10
}
fn default_depth() -> u8 {
    1
}
fn default_fan_out() -> usize {
    DEFAULT_FAN_OUT
}
fn default_graph_weight() -> f32 {
    0.3
}
fn default_overfetch() -> usize {
    3
}

impl QueryRequest {
    /// A query for `k` hits with every option at its default.
    pub fn new(k: usize) -> Self {
        serde_json::from_value(serde_json::json!({ "k": k })).expect("defaults deserialize")
    }

    /// Checks everything that needs no collection.
    pub fn validate(&self) -> Result<()> {
        validate::k(self.k)?;
        if self.vector.is_none() && self.start_ids.is_empty() && self.user.is_none() {
            return Err(Error::invalid("an empty query: give a `vector`, `start_ids` or a `user`"));
        }
        if let Some(user) = &self.user {
            validate_user(user)?;
        }
        self.walk(self.start_ids.clone()).validate()?;
        if !(1..=MAX_OVERFETCH).contains(&self.overfetch) {
            return Err(Error::invalid(format!("overfetch {} is outside 1..={MAX_OVERFETCH}", self.overfetch)));
        }
        if !(0.0..=1.0).contains(&self.graph_weight) {
            return Err(Error::invalid(format!("graph_weight {} is outside 0..=1", self.graph_weight)));
        }
        if let Some(budget) = self.budget_ms
            && !(budget.is_finite() && budget > 0.0)
        {
            return Err(Error::invalid(format!("budget_ms {budget} must be a positive number")));
        }
        Ok(())
    }

    /// The walk this query makes from `anchors`.
    pub(crate) fn walk(&self, anchors: Vec<String>) -> Traversal {
        Traversal {
            start_ids: anchors,
            types: self.relation_types.clone(),
            direction: self.direction,
            depth: self.depth,
            fan_out: self.fan_out,
        }
    }

    /// Candidates each leg fetches.
    pub(crate) fn candidates(&self) -> usize {
        (self.k * self.overfetch).min(validate::MAX_K)
    }
}

/// Why a hit ranked where it did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScoreParts {
    /// Similarity to the query vector (higher is closer), when the vector search found it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector: Option<f32>,
    /// The graph's part: the path score from the anchors, or (`hybrid_sequential`)
    /// the heaviest edge to an anchor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<f64>,
    /// The user's preference score, −1..=1, when a user was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<f64>,
}

/// One hit of a hybrid query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct QueryHit {
    /// The record.
    pub id: String,
    /// The final score (higher ranks first).
    pub score: f64,
    /// Its parts.
    pub components: ScoreParts,
    /// Ids the record's edges lead to, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related: Option<Vec<String>>,
    /// The metadata, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// One timed part of answering a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Leg {
    /// `plan`, `vector`, `graph`, `enrich`, `rank` or `cache`.
    pub name: String,
    /// Milliseconds.
    pub ms: f64,
}

/// A hybrid query's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct QueryResponse {
    /// Best first.
    pub hits: Vec<QueryHit>,
    /// The strategy that answered (never `auto`).
    pub strategy: Strategy,
    /// Why the planner chose it (or that the request named it).
    pub reason: String,
    /// Each leg's time (the vector and graph legs of `hybrid_parallel` overlap).
    pub legs: Vec<Leg>,
    /// The whole query's time on the server, milliseconds.
    #[serde(default)]
    pub took_ms: f64,
    /// True when `cached_only` found no answer (nothing was computed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cache_miss: bool,
    /// Which cache layer answered, and which missed.
    #[serde(default)]
    pub cache: CacheOutcome,
}

/// A strategy's recent latency, as the planner sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StrategyLatency {
    /// The strategy.
    pub strategy: Strategy,
    /// p95 of its recent runs on this collection, milliseconds; `None` before its first run.
    pub p95_ms: Option<f64>,
    /// Runs in the window.
    pub samples: usize,
}

/// What the planner would do with a query, without running it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct QueryPlan {
    /// The strategy it would run.
    pub strategy: Strategy,
    /// Why.
    pub reason: String,
    /// The strategies the query's shape allows, best first, with their latency.
    pub candidates: Vec<StrategyLatency>,
}
