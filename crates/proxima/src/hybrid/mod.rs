//! Hybrid queries: vector similarity, relations between records and each
//! user's policy, answered by one of five strategies the planner picks.
//!
//! A query is checked, its anchors gathered (start ids, which must exist, and
//! the user's recently liked items), a strategy chosen ([`plan`]), and the
//! strategy's legs run ([`legs`]) and ranked ([`rank`]). Every computed
//! answer is kept in the answer cache under its strategy, the request and the
//! user's profile version, so `cached_only` can answer it later; relation and
//! record changes invalidate the collection's answers, profile changes move
//! the version.

mod legs;
mod plan;
mod rank;
mod relations;
mod request;

use std::time::Instant;

use proxima_core::{Error, Filter, Result, validate};
use proxima_hybrid::UserProfile;
use serde::Serialize;

pub use relations::{EdgeError, MAX_EDGES_PER_CALL, MAX_EVENTS_PER_CALL, RelationsChange, RelationsChanged};
pub use request::{
    Fusion, Leg, MAX_OVERFETCH, QueryHit, QueryPlan, QueryRequest, QueryResponse, ScoreParts, Strategy, StrategyLatency,
};

use crate::Proxima;
use crate::cache::CacheMode;
use crate::database::Cacheable;
use plan::Shape;

/// What a query starts from, gathered once.
struct Context {
    profile: Option<UserProfile>,
    anchors: Vec<String>,
    /// The query's filter and the user's constraints.
    filter: Option<Filter>,
    now_ms: u64,
}

/// The cache key of a computed answer: the strategy that computed it, the
/// request (without what only steers the planner) and the profile version.
#[derive(Serialize)]
struct AnswerKey<'a> {
    strategy: Strategy,
    request: &'a QueryRequest,
    profile_version: u64,
}

impl Cacheable for QueryResponse {
    type Stored = Self;
    const KIND: &'static str = "query";
    const CACHED_OP: &'static str = "query_cached";
    fn stored(&self) -> &Self {
        self
    }
    fn from_stored(stored: Self) -> Self {
        stored
    }
}

fn elapsed_ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

fn leg(name: &str, since: Instant) -> Leg {
    Leg { name: name.to_string(), ms: elapsed_ms(since) }
}

impl Proxima {
    /// Answers a hybrid query.
    pub async fn query(&self, collection: &str, request: QueryRequest) -> Result<QueryResponse> {
        let started = Instant::now();
        let context = self.query_context(collection, &request).await?;
        let plan = self.plan_with(collection, &request, &context)?;
        let mut legs = vec![leg("plan", started)];
        let mut key_request = request.clone();
        key_request.strategy = Strategy::Auto;
        key_request.budget_ms = None;
        let version = context.profile.as_ref().map_or(0, |p| p.version);
        if plan.strategy == Strategy::CachedOnly {
            let looked = Instant::now();
            for strategy in Shape::of(&request, &context).allowed() {
                let key = AnswerKey { strategy, request: &key_request, profile_version: version };
                let cached = self.cached(collection, &key, CacheMode::Only, unreachable_compute()).await?;
                if let Some(mut answer) = cached.value {
                    answer.reason = format!("answered from the cache (computed by {})", answer.strategy.name());
                    answer.strategy = Strategy::CachedOnly;
                    answer.legs = vec![legs.remove(0), leg("cache", looked)];
                    answer.cache = cached.cache;
                    answer.took_ms = elapsed_ms(started);
                    self.analytics.record_recent(collection, Strategy::CachedOnly.op(), started.elapsed(), true);
                    return Ok(answer);
                }
            }
            let miss = QueryResponse {
                hits: Vec::new(),
                strategy: Strategy::CachedOnly,
                reason: "no cached answer".into(),
                legs: vec![legs.remove(0), leg("cache", looked)],
                cache_miss: true,
                cache: Default::default(),
                took_ms: elapsed_ms(started),
            };
            return Ok(miss);
        }
        let key = AnswerKey { strategy: plan.strategy, request: &key_request, profile_version: version };
        let compute = async {
            let (mut answer, valid_until) = self.run_strategy(collection, &request, &context, plan.strategy).await;
            if let Ok(answer) = &mut answer {
                answer.reason = plan.reason.clone();
            }
            answer.map(|a| (a, valid_until))
        };
        let computed_at = Instant::now();
        let cached = self.cached(collection, &key, CacheMode::Use, compute).await;
        let ok = cached.is_ok();
        let cached = cached?;
        let mut answer = cached.value.ok_or_else(|| Error::internal("a computed query answer went missing"))?;
        if cached.cache.answered_by.is_some() {
            answer.reason = format!("answered from the cache (computed by {})", answer.strategy.name());
            answer.strategy = Strategy::CachedOnly;
            answer.legs = vec![leg("cache", computed_at)];
            self.analytics.record_recent(collection, Strategy::CachedOnly.op(), started.elapsed(), ok);
        } else {
            self.analytics.record_recent(collection, plan.strategy.op(), computed_at.elapsed(), ok);
        }
        legs.append(&mut answer.legs);
        answer.legs = legs;
        answer.cache = cached.cache;
        answer.took_ms = elapsed_ms(started);
        Ok(answer)
    }

    /// Hybrid queries answered so far, by analytics operation (`query_<strategy>`),
    /// over every collection: read from the recorder alone, so a metrics scrape
    /// costs no engine call.
    pub fn query_summaries(&self) -> crate::OperationTable {
        self.analytics.tables(None).1.remove("hybrid").unwrap_or_default()
    }

    /// What [`Proxima::query`] would do with `request`, without running it.
    pub async fn plan_query(&self, collection: &str, request: &QueryRequest) -> Result<QueryPlan> {
        let context = self.query_context(collection, request).await?;
        self.plan_with(collection, request, &context)
    }

    fn plan_with(&self, collection: &str, request: &QueryRequest, context: &Context) -> Result<QueryPlan> {
        plan::choose(request, Shape::of(request, context), |s| self.analytics.recent_p95(collection, s.op()))
    }

    /// Checks the request against the collection and gathers the anchors.
    async fn query_context(&self, collection: &str, request: &QueryRequest) -> Result<Context> {
        request.validate()?;
        let config = self.collection(collection).await?;
        if let Some(vector) = &request.vector {
            validate::vector(vector, config.dimension)?;
        }
        if let Some(filter) = &request.filter {
            filter.validate(&config)?;
        }
        let found = self.get(collection, &request.start_ids).await?;
        if let Some((id, _)) = request.start_ids.iter().zip(&found).find(|(_, r)| r.is_none()) {
            return Err(Error::not_found(format!("start id `{id}` does not exist in `{collection}`")));
        }
        let profile = match &request.user {
            Some(user) => Some(self.relations.profile(user).await?.unwrap_or_default()),
            None => None,
        };
        let mut anchors = request.start_ids.clone();
        if let Some(profile) = &profile {
            anchors.extend(profile.liked_in(collection).iter().filter(|id| !request.start_ids.contains(id)).cloned());
        }
        let constraints = profile.as_ref().and_then(|p| p.policy.constraints.clone());
        let filter = match (request.filter.clone(), constraints) {
            (Some(a), Some(b)) => Some(Filter::And(vec![a, b])),
            (a, b) => a.or(b),
        };
        let now_ms =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        Ok(Context { profile, anchors, filter, now_ms })
    }

    /// Runs one computing strategy; the answer and until when it holds.
    async fn run_strategy(
        &self,
        collection: &str,
        request: &QueryRequest,
        context: &Context,
        strategy: Strategy,
    ) -> (Result<QueryResponse>, Option<u64>) {
        let mut legs = Vec::new();
        let mut valid_until = None;
        let answer = async {
            let n = request.candidates();
            let filter = context.filter.clone();
            let anchors = context.anchors.clone();
            let scored = match strategy {
                Strategy::VectorOnly => {
                    let at = Instant::now();
                    let found = self.vector_leg(collection, request, filter, n).await?;
                    legs.push(leg("vector", at));
                    valid_until = found.valid_until;
                    rank::by_vector(found.candidates)
                }
                Strategy::GraphOnly => {
                    let at = Instant::now();
                    let found = self.graph_leg(collection, request, anchors, filter.as_ref(), n).await?;
                    legs.push(leg("graph", at));
                    valid_until = found.valid_until;
                    rank::by_graph(found.candidates)
                }
                Strategy::HybridParallel => {
                    let at = Instant::now();
                    let vector = async {
                        let found = self.vector_leg(collection, request, filter.clone(), n).await;
                        (found, leg("vector", at))
                    };
                    let graph = async {
                        let found = self.graph_leg(collection, request, anchors, filter.as_ref(), n).await;
                        (found, leg("graph", at))
                    };
                    let ((vector, vector_leg), (graph, graph_leg)) = tokio::join!(vector, graph);
                    let (vector, graph) = (vector?, graph?);
                    legs.extend([vector_leg, graph_leg]);
                    valid_until = earliest(vector.valid_until, graph.valid_until);
                    match request.fusion {
                        Fusion::Rrf => rank::rrf(vector.candidates, graph.candidates),
                        Fusion::Weighted => rank::weighted(vector.candidates, graph.candidates, request.graph_weight),
                    }
                }
                Strategy::HybridSequential => {
                    let at = Instant::now();
                    let mut found = self.vector_leg(collection, request, filter, n).await?;
                    legs.push(leg("vector", at));
                    let at = Instant::now();
                    self.enrich(collection, request, &mut found.candidates, &context.anchors).await?;
                    legs.push(leg("enrich", at));
                    valid_until = found.valid_until;
                    rank::sequential(found.candidates, request.graph_weight)
                }
                Strategy::Auto | Strategy::CachedOnly => {
                    return Err(Error::internal(format!("{} does not compute", strategy.name())));
                }
            };
            let at = Instant::now();
            let mut hits =
                rank::top_k(scored, context.profile.as_ref(), context.now_ms, request.k, request.include_metadata);
            if request.include_related && strategy != Strategy::HybridSequential {
                let mut related: Vec<legs::Candidate> =
                    hits.iter().map(|h| legs::Candidate { id: h.id.clone(), ..Default::default() }).collect();
                self.enrich(collection, request, &mut related, &[]).await?;
                for (hit, c) in hits.iter_mut().zip(related) {
                    hit.related = c.related;
                }
            } else if !request.include_related {
                hits.iter_mut().for_each(|h| h.related = None);
            }
            legs.push(leg("rank", at));
            Ok(hits)
        }
        .await;
        let answer = answer.map(|hits| QueryResponse {
            hits,
            strategy,
            reason: String::new(),
            legs,
            cache_miss: false,
            cache: Default::default(),
            took_ms: 0.0,
        });
        (answer, valid_until)
    }
}

impl Shape {
    fn of(request: &QueryRequest, context: &Context) -> Self {
        Shape { vector: request.vector.is_some(), anchors: !context.anchors.is_empty() }
    }
}

fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `cached_only` never computes: its lookups run in [`CacheMode::Only`].
async fn unreachable_compute() -> Result<(QueryResponse, Option<u64>)> {
    Err(Error::internal("cached_only computed an answer"))
}
