//! `proximadb`: the server and the command line.

mod bench;
mod bench_hybrid;
mod config;
mod import;
mod relations;
mod remote;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use proxima::Proxima;
use proxima::core::FieldSpec;
use remote::Remote;
use serde_json::{Value, json};

// mimalloc, tuned in `main` (docs/benchmarks.md has the measurements).
#[global_allocator]
static ALLOCATOR: proxima_alloc::Allocator = proxima_alloc::Allocator;

/// ProximaDB, a vector database.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the REST server.
    Serve {
        /// Address to listen on [default: 127.0.0.1:5678].
        #[arg(long, env = "PROXIMADB_BIND")]
        bind: Option<String>,
        /// Where data lives [default: ./proximadb-data].
        #[arg(long, env = "PROXIMADB_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// A TOML configuration file (see docs/operations.md).
        #[arg(long, env = "PROXIMADB_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Loads vectors from a .fvecs, .npy, .parquet or .jsonl file into a collection
    /// (created with the file's dimension when absent).
    Import {
        #[command(flatten)]
        server: ServerArgs,
        /// The collection.
        #[arg(long)]
        collection: String,
        /// The file.
        #[arg(long)]
        file: PathBuf,
        /// Metric for a new collection: cosine, dot or euclidean.
        #[arg(long, default_value = "cosine")]
        metric: String,
        /// Vectors per request.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// Searches a collection.
    Search {
        #[command(flatten)]
        server: ServerArgs,
        /// The collection.
        #[arg(long)]
        collection: String,
        /// The query vector as JSON, e.g. `[0.1, 0.2]`.
        #[arg(long, required_unless_present = "vectors", conflicts_with = "vectors")]
        vector: Option<String>,
        /// Many queries in one batch (POST .../search/batch): a file with one
        /// JSON vector per line; prints one list of hits per line, in order.
        #[arg(long, conflicts_with = "merge")]
        vectors: Option<PathBuf>,
        /// How many results.
        #[arg(long, default_value_t = 10)]
        k: usize,
        /// A filter as JSON, e.g. `{"eq": {"field": "lang", "value": "en"}}`.
        #[arg(long)]
        filter: Option<String>,
        /// Search every partition of a partitioned collection and merge: max, rrf or score.
        #[arg(long)]
        merge: Option<String>,
        /// With `--merge`: give up on a partition's engine after this long.
        #[arg(long)]
        engine_timeout_ms: Option<u64>,
    },
    /// A hybrid query: vector, relations and a user's policy (POST .../query).
    Query {
        #[command(flatten)]
        server: ServerArgs,
        /// The collection.
        #[arg(long)]
        collection: String,
        /// The query vector as JSON, e.g. `[0.1, 0.2]`.
        #[arg(long)]
        vector: Option<String>,
        /// Records to walk from.
        #[arg(long, value_delimiter = ',')]
        start_ids: Vec<String>,
        /// The user whose policy ranks the answer.
        #[arg(long)]
        user: Option<String>,
        /// auto, vector_only, graph_only, hybrid_parallel, hybrid_sequential or cached_only.
        #[arg(long, default_value = "auto")]
        strategy: String,
        /// How many results.
        #[arg(long, default_value_t = 10)]
        k: usize,
        /// Edge types walked (all when absent).
        #[arg(long, value_delimiter = ',')]
        types: Vec<String>,
        /// Hops, 1..=3.
        #[arg(long, default_value_t = 1)]
        depth: u8,
        /// With `auto`: the time budget the chosen strategy should fit, ms.
        #[arg(long)]
        budget_ms: Option<f64>,
        /// A filter as JSON.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Imports or shows relations between records.
    Relations {
        #[command(flatten)]
        server: ServerArgs,
        #[command(subcommand)]
        action: RelationsAction,
    },
    /// Lists, creates or deletes collections.
    Collections {
        #[command(flatten)]
        server: ServerArgs,
        #[command(subcommand)]
        action: CollectionsAction,
    },
    /// Copies the catalogue between two metadata backends.
    MigrateMetadata {
        /// Source connection string, e.g. file://./proximadb-data/meta.
        #[arg(long)]
        from: String,
        /// Target connection string, e.g. sqlite://./catalogue.db.
        #[arg(long)]
        to: String,
        /// Report what would happen; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Read every entry back and compare field by field.
        #[arg(long)]
        verify: bool,
    },
    /// Snapshots a collection (a consistent copy at one sequence number).
    Backup {
        #[command(flatten)]
        server: ServerArgs,
        /// The collection.
        #[arg(long)]
        collection: String,
        /// The snapshot's name.
        #[arg(long)]
        name: String,
    },
    /// Restores a snapshot in place, or into a new collection.
    Restore {
        #[command(flatten)]
        server: ServerArgs,
        /// The collection the snapshot was taken from.
        #[arg(long)]
        collection: String,
        /// The snapshot's name.
        #[arg(long)]
        name: String,
        /// Restore into this collection instead.
        #[arg(long)]
        target: Option<String>,
    },
    /// Measures a running server with a TEXMEX dataset (QPS, p50/p95/p99, recall@10).
    Bench {
        #[command(flatten)]
        server: ServerArgs,
        /// Directory with base.fvecs, query.fvecs, gt.ivecs.
        #[arg(long)]
        data: PathBuf,
        /// Concurrency levels.
        #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
        concurrency: Vec<usize>,
        /// Queries per level.
        #[arg(long, default_value_t = 2000)]
        queries: usize,
        /// Recall target sent with each search.
        #[arg(long, default_value_t = 0.95)]
        accuracy: f32,
        /// The collection to load the base vectors into (reused when present).
        #[arg(long, default_value = "bench-glove50")]
        collection: String,
        /// Draw each request from the first N queries by a Zipf law (exponent
        /// `--zipf`), so that queries repeat; by default each query is sent once.
        #[arg(long)]
        distinct: Option<usize>,
        /// The Zipf exponent for `--distinct`.
        #[arg(long, default_value_t = 1.0)]
        zipf: f64,
        /// How searches use the server's answer cache: use, bypass or only.
        /// Bypassed by default: each level sends the same queries again, and
        /// a search benchmark measures searching.
        #[arg(long, default_value = "bypass")]
        cache: String,
        /// Also write the figures here as JSON.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Measures hybrid queries per strategy on a TEXMEX dataset with a relation
    /// graph and users built from it (see docs/benchmarks.md).
    BenchHybrid {
        #[command(flatten)]
        server: ServerArgs,
        /// Directory with base.fvecs and query.fvecs.
        #[arg(long)]
        data: PathBuf,
        /// Base vectors loaded and linked to their exact neighbours.
        #[arg(long, default_value_t = 50_000)]
        items: usize,
        /// Users with a policy and ten likes each.
        #[arg(long, default_value_t = 1_000)]
        users: usize,
        /// Queries per strategy.
        #[arg(long, default_value_t = 1_000)]
        queries: usize,
        /// The collection (reused when present).
        #[arg(long, default_value = "bench-hybrid")]
        collection: String,
        /// Also write the figures here as JSON.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Cluster mode: the node's config, the writer leases it holds and every
    /// collection's lease (GET /v1/cluster).
    Cluster {
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Where the server is.
#[derive(Debug, Args)]
struct ServerArgs {
    /// The server's URL.
    #[arg(long, global = true, env = "PROXIMADB_URL", default_value = "http://127.0.0.1:5678")]
    url: String,
    /// An API key, when the server requires one.
    #[arg(long, global = true, env = "PROXIMADB_API_KEY")]
    api_key: Option<String>,
}

impl ServerArgs {
    fn remote(&self) -> Result<Remote, String> {
        Remote::new(&self.url, self.api_key.clone())
    }
}

#[derive(Debug, Subcommand)]
enum RelationsAction {
    /// Loads edges from JSON lines (`{"from", "to", "type", "weight"?}` each).
    Import {
        /// The collection.
        #[arg(long)]
        collection: String,
        /// The file.
        #[arg(long)]
        file: PathBuf,
        /// Edges per request.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// The records a walk from one record reaches.
    Show {
        /// The collection.
        #[arg(long)]
        collection: String,
        /// The record.
        #[arg(long)]
        id: String,
        /// Hops, 1..=3.
        #[arg(long, default_value_t = 1)]
        depth: u8,
        /// out, in or both.
        #[arg(long, default_value = "out")]
        direction: String,
        /// Edge types walked (all when absent).
        #[arg(long)]
        types: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum CollectionsAction {
    /// Lists collections (one page; filters combine).
    List {
        /// Only collections with every one of these tags (comma-separated).
        #[arg(long)]
        tag: Option<String>,
        /// Only this owner's collections.
        #[arg(long)]
        owner: Option<String>,
        /// Only names starting with this.
        #[arg(long)]
        prefix: Option<String>,
        /// Words that must all appear in the name, description, owner or tags.
        #[arg(long)]
        q: Option<String>,
        /// Continue after the page that returned this `next_cursor`.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Changes a collection's description, tags, owner or access pattern.
    Describe {
        /// Name.
        name: String,
        /// Free text (empty clears it).
        #[arg(long)]
        description: Option<String>,
        /// Replaces the tags (comma-separated).
        #[arg(long)]
        tags: Option<String>,
        /// The owner (empty clears it).
        #[arg(long)]
        owner: Option<String>,
        /// hot, normal, cold or archive.
        #[arg(long)]
        access_pattern: Option<String>,
    },
    /// The open engines: capabilities, collections, load.
    Engines,
    /// Moves a collection to another engine online (checked before the switch).
    Move {
        /// Name.
        name: String,
        /// The engine to move to.
        #[arg(long)]
        to: String,
        /// For a partitioned collection: the engine holding the partition to move.
        #[arg(long)]
        from: Option<String>,
        /// Only check and report what would happen.
        #[arg(long)]
        dry_run: bool,
    },
    /// Moves every collection the routing policy places elsewhere.
    Rebalance,
    /// Creates a collection.
    Create {
        /// Name.
        name: String,
        /// Vector length.
        #[arg(long)]
        dimension: u32,
        /// cosine, dot or euclidean.
        #[arg(long, default_value = "cosine")]
        metric: String,
        /// A filterable metadata field, `name:type` (type string, int, float or bool); repeatable.
        #[arg(long = "field", value_parser = parse_field)]
        fields: Vec<FieldSpec>,
    },
    /// Declares a metadata field on an existing collection (refused while a record holds another type).
    Declare {
        /// Name.
        name: String,
        /// The field, `name:type` (type string, int, float or bool).
        #[arg(value_parser = parse_field)]
        field: FieldSpec,
    },
    /// Deletes a collection and its data.
    Delete {
        /// Name.
        name: String,
    },
}

/// `name:type`, split at the last colon (a dotted path has none).
fn parse_field(text: &str) -> Result<FieldSpec, String> {
    let (name, ty) = text.rsplit_once(':').ok_or_else(|| format!("`{text}` is not `name:type`"))?;
    let ty = serde_json::from_value(json!(ty)).map_err(|_| format!("`{ty}` is not string, int, float or bool"))?;
    Ok(FieldSpec { name: name.to_string(), ty })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PROXIMADB_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = proxima_alloc::tune() {
        tracing::warn!(error = %e, "cannot turn transparent huge pages off; flushes will be slower");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { bind, data_dir, config } => serve(bind, data_dir, config).await,
            Command::MigrateMetadata { from, to, dry_run, verify } => migrate(&from, &to, dry_run, verify).await,
            // The remote commands block on sockets; keep them off the async workers.
            other => tokio::task::spawn_blocking(move || remote_command(other))
                .await
                .unwrap_or_else(|e| Err(format!("command failed: {e}"))),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(bind: Option<String>, data_dir: Option<PathBuf>, config: Option<PathBuf>) -> Result<(), String> {
    let settings = config::Settings::load(config.as_deref(), bind, data_dir)?;
    let db = Proxima::open(settings.database.clone()).await.map_err(|e| format!("cannot open the database: {e}"))?;
    if let Some(routing) = settings.routing.clone() {
        db.set_routing(routing);
    }
    let listener = tokio::net::TcpListener::bind(&settings.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // Tests and scripts read the bound address (the port may be 0 = any) from this line.
    eprintln!("proximadb listening on http://{addr}");
    let db = Arc::new(db);
    let every = std::time::Duration::from_secs(settings.maintenance.interval_seconds.max(1));
    let maintenance = db.spawn_maintenance(every, settings.maintenance.compaction);
    let served = proxima_server::serve(listener, db, settings.server, proxima_server::shutdown_signal()).await;
    maintenance.abort();
    served.map_err(|e| format!("server failed: {e}"))
}

/// Command output goes to stdout (logs and progress go to stderr), so it can be piped.
#[allow(clippy::print_stdout, reason = "printing results is what the CLI is for")]
fn print(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// One value per line (JSON lines), for output a script reads line by line.
#[allow(clippy::print_stdout, reason = "printing results is what the CLI is for")]
fn print_line(value: &Value) {
    println!("{value}");
}

fn remote_command(command: Command) -> Result<(), String> {
    match command {
        Command::Import { server, collection, file, metric, batch } => {
            let rows = import::read_rows(&file)?;
            eprintln!("import: {} vectors from {}", rows.len(), file.display());
            import::import(&server.remote()?, &collection, &rows, &metric, batch)
        }
        Command::Search { server, collection, vector, vectors, k, filter, merge, engine_timeout_ms } => {
            let filter: Option<Value> = filter
                .map(|f| serde_json::from_str(&f).map_err(|e| format!("--filter is not JSON: {e}")))
                .transpose()?;
            let search = |vector: Value| {
                let mut body = json!({"vector": vector, "k": k, "include_metadata": true});
                if let Some(filter) = &filter {
                    body["filter"] = filter.clone();
                }
                body
            };
            if let Some(path) = vectors {
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                let searches = text
                    .lines()
                    .enumerate()
                    .filter(|(_, line)| !line.trim().is_empty())
                    .map(|(n, line)| {
                        serde_json::from_str(line).map(search).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))
                    })
                    .collect::<Result<Vec<Value>, String>>()?;
                let path = format!("/v1/collections/{collection}/search/batch");
                let answer = server.remote()?.call("POST", &path, Some(&json!({"searches": searches})))?;
                answer["results"].as_array().into_iter().flatten().for_each(|result| print_line(&result["hits"]));
                return Ok(());
            }
            let vector = vector.ok_or("--vector or --vectors is required")?;
            let vector: Value = serde_json::from_str(&vector).map_err(|e| format!("--vector is not JSON: {e}"))?;
            let mut body = search(vector);
            let Some(merge) = merge else {
                let path = format!("/v1/collections/{collection}/search");
                print(&server.remote()?.call("POST", &path, Some(&body))?["hits"]);
                return Ok(());
            };
            body["merge"] = match merge.as_str() {
                "max" => json!("max"),
                "rrf" => json!({"reciprocal_rank_fusion": {"k": 60}}),
                "score" => json!({"score_weighted": {"weights": {}}}),
                other => return Err(format!("--merge {other}: use max, rrf or score")),
            };
            if let Some(ms) = engine_timeout_ms {
                body["engine_timeout_ms"] = json!(ms);
            }
            print(&server.remote()?.call(
                "POST",
                &format!("/v1/collections/{collection}/unified-search"),
                Some(&body),
            )?);
            Ok(())
        }
        Command::Query {
            server,
            collection,
            vector,
            start_ids,
            user,
            strategy,
            k,
            types,
            depth,
            budget_ms,
            filter,
        } => {
            let mut body = json!({"strategy": strategy, "k": k, "depth": depth, "include_metadata": true});
            if let Some(vector) = vector {
                body["vector"] = serde_json::from_str(&vector).map_err(|e| format!("--vector is not JSON: {e}"))?;
            }
            if let Some(filter) = filter {
                body["filter"] = serde_json::from_str(&filter).map_err(|e| format!("--filter is not JSON: {e}"))?;
            }
            for (key, value) in [("start_ids", json!(start_ids)), ("relation_types", json!(types))] {
                if value.as_array().is_some_and(|a| !a.is_empty()) {
                    body[key] = value;
                }
            }
            if let Some(user) = user {
                body["user"] = json!(user);
            }
            if let Some(budget) = budget_ms {
                body["budget_ms"] = json!(budget);
            }
            print(&server.remote()?.call("POST", &format!("/v1/collections/{collection}/query"), Some(&body))?);
            Ok(())
        }
        Command::Relations { server, action } => match action {
            RelationsAction::Import { collection, file, batch } => {
                let edges = relations::read_edges(&file)?;
                eprintln!("relations import: {} edges from {}", edges.len(), file.display());
                let imported = relations::import(&server.remote()?, &collection, &edges, batch)?;
                eprintln!("stored {} edges, refused {}", imported.stored, imported.refused.len());
                for refused in imported.refused.iter().take(20) {
                    eprintln!("  {refused}");
                }
                if imported.refused.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{} edges refused", imported.refused.len()))
                }
            }
            RelationsAction::Show { collection, id, depth, direction, types } => {
                let types = types.map(|t| format!("&types={t}")).unwrap_or_default();
                let path = format!(
                    "/v1/collections/{collection}/vectors/{id}/relations?depth={depth}&direction={direction}{types}"
                );
                print(&server.remote()?.call("GET", &path, None)?["relations"]);
                Ok(())
            }
        },
        Command::Collections { server, action } => {
            let remote = server.remote()?;
            match action {
                CollectionsAction::List { tag, owner, prefix, q, cursor } => {
                    let params: Vec<String> =
                        [("tag", tag), ("owner", owner), ("prefix", prefix), ("q", q), ("cursor", cursor)]
                            .into_iter()
                            .filter_map(|(key, value)| value.map(|v| format!("{key}={}", encode(&v))))
                            .collect();
                    print(&remote.call("GET", &format!("/v1/collections?{}", params.join("&")), None)?);
                }
                CollectionsAction::Describe { name, description, tags, owner, access_pattern } => {
                    // The change is made against the version read now; a concurrent change is a 409.
                    let version =
                        remote.call("GET", &format!("/v1/collections?prefix={}", encode(&name)), None)?["collections"]
                            .as_array()
                            .and_then(|all| all.iter().find(|c| c["name"] == name.as_str()))
                            .and_then(|c| c["version"].as_u64())
                            .ok_or_else(|| format!("no collection named `{name}`"))?;
                    let mut body = json!({"version": version});
                    for (key, value) in
                        [("description", description), ("owner", owner), ("access_pattern", access_pattern)]
                    {
                        if let Some(value) = value {
                            body[key] = json!(value);
                        }
                    }
                    if let Some(tags) = tags {
                        body["tags"] = json!(tags.split(',').filter(|t| !t.is_empty()).collect::<Vec<_>>());
                    }
                    print(&remote.call("PATCH", &format!("/v1/collections/{name}"), Some(&body))?);
                }
                CollectionsAction::Engines => print(&remote.call("GET", "/v1/engines", None)?),
                CollectionsAction::Move { name, to, from, dry_run } => {
                    let body = json!({"to": to, "from": from, "dry_run": dry_run});
                    print(&remote.call("POST", &format!("/v1/collections/{name}/move"), Some(&body))?);
                }
                CollectionsAction::Rebalance => print(&remote.call("POST", "/v1/rebalance", None)?),
                CollectionsAction::Create { name, dimension, metric, fields } => {
                    let body = json!({"name": name, "dimension": dimension, "metric": metric, "fields": fields});
                    print(&remote.call("POST", "/v1/collections", Some(&body))?);
                }
                CollectionsAction::Declare { name, field } => {
                    let body = json!({"name": field.name, "type": field.ty});
                    print(&remote.call("POST", &format!("/v1/collections/{name}/fields"), Some(&body))?);
                }
                CollectionsAction::Delete { name } => {
                    remote.call("DELETE", &format!("/v1/collections/{name}"), None)?;
                    eprintln!("deleted `{name}`");
                }
            }
            Ok(())
        }
        Command::Cluster { server } => {
            print(&server.remote()?.call("GET", "/v1/cluster", None)?);
            Ok(())
        }
        Command::Backup { server, collection, name } => {
            let body = json!({"name": name});
            print(&server.remote()?.call("POST", &format!("/v1/collections/{collection}/snapshots"), Some(&body))?);
            Ok(())
        }
        Command::Restore { server, collection, name, target } => {
            let body = target.map(|t| json!({"target": t}));
            let path = format!("/v1/collections/{collection}/snapshots/{name}/restore");
            print(&server.remote()?.call("POST", &path, body.as_ref())?);
            Ok(())
        }
        Command::Bench { server, data, concurrency, queries, accuracy, collection, distinct, zipf, cache, out } => {
            let stream = bench::Stream { queries, distinct, zipf, accuracy, cache };
            let levels = bench::run(&server.remote()?, &data, &collection, &concurrency, &stream)?;
            if let Some(out) = out {
                let text = serde_json::to_string_pretty(&levels).map_err(|e| e.to_string())?;
                std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
            }
            Ok(())
        }
        Command::BenchHybrid { server, data, items, users, queries, collection, out } => {
            let setup = bench_hybrid::Setup { items, users, queries };
            let figures = bench_hybrid::run(&server.remote()?, &data, &collection, &setup)?;
            if let Some(out) = out {
                let text = serde_json::to_string_pretty(&figures).map_err(|e| e.to_string())?;
                std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
            }
            Ok(())
        }
        Command::Serve { .. } | Command::MigrateMetadata { .. } => unreachable!("handled on the runtime"),
    }
}

/// Percent-encodes a query-string value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

async fn migrate(from: &str, to: &str, dry_run: bool, verify: bool) -> Result<(), String> {
    proxima::install_defaults();
    let factory = proxima::meta::MetadataBackendFactory::global();
    let options = proxima::meta::MigrateOptions { dry_run, verify };
    let report = proxima::meta::migrate_uris(factory, from, to, options).await.map_err(|e| e.to_string())?;
    print(&serde_json::to_value(&report).map_err(|e| e.to_string())?);
    match report.verified {
        Some(false) => Err(format!("verification failed:\n{}", report.mismatches.join("\n"))),
        _ => Ok(()),
    }
}
