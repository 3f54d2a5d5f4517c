//! The OpenAPI document, built from the same table that builds the router:
//! every route is registered once, with the Rust types of its body and answer,
//! whose JSON Schemas are derived from the types themselves (schemars). A path
//! cannot exist without its entry, and a schema cannot disagree with its type.

use axum::Router;
use axum::routing::MethodRouter;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

/// A type's schema, produced on demand.
pub(crate) type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T`.
pub(crate) fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// What the document says about one operation.
pub(crate) struct Operation {
    pub(crate) method: &'static str,
    pub(crate) path: &'static str,
    pub(crate) summary: &'static str,
    pub(crate) body: Option<SchemaFn>,
    pub(crate) status: u16,
    pub(crate) answer: Option<SchemaFn>,
}

/// A router and its description, grown together.
pub(crate) struct Api<S> {
    router: Router<S>,
    operations: Vec<Operation>,
}

impl<S: Clone + Send + Sync + 'static> Api<S> {
    pub(crate) fn new() -> Self {
        Self { router: Router::new(), operations: Vec::new() }
    }

    /// Adds a route and its description.
    pub(crate) fn route(mut self, handler: MethodRouter<S>, operation: Operation) -> Self {
        self.router = self.router.route(operation.path, handler);
        self.operations.push(operation);
        self
    }

    /// The router and the OpenAPI 3.1 document.
    pub(crate) fn finish(self) -> (Router<S>, Value) {
        (self.router, document(&self.operations))
    }
}

fn document(operations: &[Operation]) -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| s.definitions_path = "#/components/schemas".into());
    let mut generator = settings.into_generator();
    let error = json!({"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}});
    let mut paths = Map::new();
    for op in operations {
        let mut responses = Map::new();
        let answer = op.answer.map(|f| f(&mut generator).to_value());
        let ok = match answer {
            Some(schema) => json!({"description": "success", "content": {"application/json": {"schema": schema}}}),
            None => json!({"description": "success"}),
        };
        responses.insert(op.status.to_string(), ok);
        responses.insert(
            "default".into(),
            json!({"description": "error", "content": {"application/json": {"schema": error}}}),
        );
        let mut entry = json!({"summary": op.summary, "responses": responses});
        let parameters: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|part| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !parameters.is_empty() {
            entry["parameters"] = Value::Array(parameters);
        }
        if let Some(body) = op.body {
            let schema = body(&mut generator).to_value();
            entry["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": schema}}});
        }
        let item = paths.entry(op.path.to_string()).or_insert_with(|| json!({}));
        item[op.method] = entry;
    }
    let schemas: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    json!({
        "openapi": "3.1.0",
        "info": {"title": "ProximaDB", "version": env!("CARGO_PKG_VERSION")},
        "security": [{}, {"bearer": []}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    })
}
