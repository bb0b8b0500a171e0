//! Null propagation as the GraphQL specification gives it ("Handling
//! Execution Errors"): when a field raises an error, its value is null; if
//! its type is non-null, the null propagates to the parent field, and so on
//! up to the nearest nullable field; at the root, `data` is null.
//!
//! async-graphql 7 does not do this: an error in a non-null field leaves the
//! field out of its parent object, an answer no client generated from the
//! schema can read (a TypeScript type says the field is always there). So
//! after execution [`propagate_nulls`] (run by the [`NullPropagation`]
//! extension, which keeps the parsed operation for it) walks each error's
//! path through the operation (aliases, fragments and inline fragments
//! resolved) and the schema's field types, and writes the null where the
//! specification puts it. An error whose path cannot be followed (none was given, or the schema
//! does not know a step) is left as it is: nothing is nulled on a guess.
//! Nor is an error whose field has a value: a resolver may report a
//! failure beside the data it could still give (a contact list that leaves
//! out a source that failed), and that field did not fail.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
};
use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::registry::{MetaTypeName, Registry};
use async_graphql::{Name, PathSegment, Response, ServerResult, Value, Variables};

use crate::edge::RequestOutcome;

/// The extension that applies [`propagate_nulls`] to every answer.
#[derive(Debug, Default)]
pub struct NullPropagation;

impl ExtensionFactory for NullPropagation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(NullPropagationForRequest::default())
    }
}

/// The per-request instance: the parsed operation, kept from parsing to
/// the end of execution.
#[derive(Default)]
struct NullPropagationForRequest {
    document: Mutex<Option<ExecutableDocument>>,
}

#[async_trait::async_trait]
impl Extension for NullPropagationForRequest {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        // The edge keeps the document it parsed for this text; only a
        // document it did not parse (a persisted query named by its hash) is
        // copied here. The document is small (the edge's limits bound it); a
        // copy costs less than parsing it again should an error need it.
        let prepared_by_edge = ctx
            .data_opt::<Arc<RequestOutcome>>()
            .is_some_and(|outcome| outcome.prepared.is_some());
        if !prepared_by_edge {
            *self.lock() = Some(document.clone());
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        if response.errors.is_empty() {
            return response;
        }
        let prepared = ctx
            .data_opt::<Arc<RequestOutcome>>()
            .and_then(|outcome| outcome.prepared.clone());
        let copied = self.lock().take();
        let document = match (&prepared, &copied) {
            (Some(prepared), _) => Some(prepared.document()),
            (None, Some(copied)) => Some(copied),
            (None, None) => None,
        };
        if let Some(document) = document {
            propagate_nulls(
                &ctx.schema_env.registry,
                document,
                operation_name,
                &mut response,
            );
        }
        response
    }
}

impl NullPropagationForRequest {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<ExecutableDocument>> {
        // The slot is written in one statement; a panic while it is held
        // cannot leave it half-written.
        self.document
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Nulls, in `response.data`, the nearest nullable parent of every error.
pub fn propagate_nulls(
    registry: &Registry,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    response: &mut Response,
) {
    if response.errors.is_empty() {
        return;
    }
    let Some(operation) = crate::edge::extension::selected_operation(document, operation_name)
    else {
        return;
    };
    let root_type = match operation.ty {
        async_graphql::parser::types::OperationType::Query => registry.query_type.as_str(),
        async_graphql::parser::types::OperationType::Mutation => {
            match registry.mutation_type.as_deref() {
                Some(mutation) => mutation,
                None => return,
            }
        }
        async_graphql::parser::types::OperationType::Subscription => return,
    };
    let walk = PathWalk {
        registry,
        document,
        root: (&operation.selection_set.node, root_type),
    };
    for error in &response.errors {
        // An error beside a value (a list that left out a failing source)
        // reports partial data: the field did not fail, nothing propagates.
        if error.path.is_empty()
            || value_at(&response.data, &error.path).is_some_and(|value| *value != Value::Null)
        {
            continue;
        }
        let Some(nullable) = walk.nullability(&error.path) else {
            continue;
        };
        match nullable.iter().rposition(|nullable| *nullable) {
            Some(position) => set_null(&mut response.data, &error.path[..=position]),
            None => {
                response.data = Value::Null;
                return;
            }
        }
    }
}

/// Follows an error's path through the operation and the schema.
struct PathWalk<'a> {
    registry: &'a Registry,
    document: &'a ExecutableDocument,
    root: (&'a SelectionSet, &'a str),
}

impl<'a> PathWalk<'a> {
    /// Whether each prefix of `path` (one entry per segment) may be null;
    /// `None` when a step of the path is not in the operation or schema.
    fn nullability(&self, path: &[PathSegment]) -> Option<Vec<bool>> {
        let mut nullable = Vec::with_capacity(path.len());
        // The selection sets the next field is chosen from, each with the
        // type it is selected on.
        let mut selection_sets: Vec<(&SelectionSet, &str)> = vec![self.root];
        // The type of the value at the current position, wrappers included.
        let mut current_type: &str = "";
        for segment in path {
            match segment {
                PathSegment::Field(key) => {
                    let mut fields = Vec::new();
                    for (selection_set, type_name) in &selection_sets {
                        self.collect_fields(selection_set, type_name, key, &mut fields);
                    }
                    let (field, parent_type) = fields.first()?;
                    let meta_field = self
                        .registry
                        .concrete_type_by_name(parent_type)?
                        .field_by_name(field.name.node.as_str())?;
                    current_type = meta_field.ty.as_str();
                    nullable.push(!matches!(
                        MetaTypeName::create(current_type),
                        MetaTypeName::NonNull(_)
                    ));
                    let named = MetaTypeName::concrete_typename(current_type);
                    selection_sets = fields
                        .iter()
                        .map(|(field, _)| (&field.selection_set.node, named))
                        .collect();
                }
                PathSegment::Index(_) => {
                    let list = match MetaTypeName::create(current_type) {
                        MetaTypeName::NonNull(inner) => inner,
                        _ => current_type,
                    };
                    let MetaTypeName::List(item) = MetaTypeName::create(list) else {
                        return None;
                    };
                    current_type = item;
                    nullable.push(!matches!(
                        MetaTypeName::create(current_type),
                        MetaTypeName::NonNull(_)
                    ));
                }
            }
        }
        Some(nullable)
    }

    /// The fields of `selection_set` (fragments expanded) whose response key
    /// is `key`, each with the type it is selected on.
    fn collect_fields(
        &self,
        selection_set: &'a SelectionSet,
        type_name: &'a str,
        key: &str,
        fields: &mut Vec<(&'a Field, &'a str)>,
    ) {
        for selection in &selection_set.items {
            match &selection.node {
                Selection::Field(field) => {
                    if field.node.response_key().node.as_str() == key {
                        fields.push((&field.node, type_name));
                    }
                }
                // Validation has refused fragment cycles before execution,
                // so this recursion ends.
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) =
                        self.document.fragments.get(&spread.node.fragment_name.node)
                    {
                        let on = fragment.node.type_condition.node.on.node.as_str();
                        self.collect_fields(&fragment.node.selection_set.node, on, key, fields);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let on = fragment
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(type_name, |condition| condition.node.on.node.as_str());
                    self.collect_fields(&fragment.node.selection_set.node, on, key, fields);
                }
            }
        }
    }
}

/// The value at `path` in `data`, if every step of it exists.
fn value_at<'v>(data: &'v Value, path: &[PathSegment]) -> Option<&'v Value> {
    path.iter()
        .try_fold(data, |current, segment| match (segment, current) {
            (PathSegment::Field(key), Value::Object(object)) => object.get(key.as_str()),
            (PathSegment::Index(index), Value::List(list)) => list.get(*index),
            _ => None,
        })
}

/// Sets the value at `path` in `data` to null, when every step before it
/// exists (an ancestor already nulled by another error needs nothing more).
fn set_null(data: &mut Value, path: &[PathSegment]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = data;
    for segment in parents {
        current = match (segment, current) {
            (PathSegment::Field(key), Value::Object(object)) => {
                match object.get_mut(key.as_str()) {
                    Some(value) => value,
                    None => return,
                }
            }
            (PathSegment::Index(index), Value::List(list)) => match list.get_mut(*index) {
                Some(value) => value,
                None => return,
            },
            _ => return,
        };
    }
    match (last, current) {
        (PathSegment::Field(key), Value::Object(object)) => {
            object.insert(Name::new(key), Value::Null);
        }
        (PathSegment::Index(index), Value::List(list)) => {
            if let Some(value) = list.get_mut(*index) {
                *value = Value::Null;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Result, Schema, SimpleObject};

    use super::*;

    #[derive(SimpleObject)]
    struct Link {
        role: String,
    }

    struct Item {
        fails: bool,
    }

    #[Object]
    impl Item {
        async fn name(&self) -> &str {
            "item"
        }
        /// A non-null list that fails for some items.
        async fn links(&self) -> Result<Vec<Link>> {
            if self.fails {
                return Err("the source is down".into());
            }
            Ok(vec![Link {
                role: "buyer".into(),
            }])
        }
        /// A nullable field that fails.
        async fn optional(&self) -> Result<Option<String>> {
            Err("the source is down".into())
        }
    }

    struct Query;

    #[Object]
    impl Query {
        async fn item(&self, fails: bool) -> Option<Item> {
            Some(Item { fails })
        }
        async fn items(&self) -> Vec<Item> {
            vec![Item { fails: false }, Item { fails: true }]
        }
        async fn maybe_items(&self) -> Vec<Option<Item>> {
            vec![Some(Item { fails: false }), Some(Item { fails: true })]
        }
        async fn required(&self) -> Item {
            Item { fails: true }
        }
        async fn ok(&self) -> i32 {
            1
        }
        /// A non-null field that reports an error beside its value.
        async fn partial(&self, ctx: &async_graphql::Context<'_>) -> Vec<i32> {
            ctx.add_error(
                ctx.set_error_path(async_graphql::ServerError::new("one source is down", None)),
            );
            vec![1]
        }
    }

    async fn run(query: &str) -> serde_json::Value {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(NullPropagation)
            .finish();
        let response = schema.execute(query).await;
        assert!(!response.errors.is_empty(), "{query}");
        response.data.into_json().unwrap()
    }

    #[tokio::test]
    async fn an_error_in_a_non_null_field_nulls_its_nearest_nullable_parent() {
        assert_eq!(
            run("{ item(fails: true) { name links { role } } ok }").await,
            serde_json::json!({ "item": null, "ok": 1 })
        );
        // Through an alias and a fragment.
        assert_eq!(
            run("{ ok first: item(fails: true) { ...F } } fragment F on Item { name l: links { role } }").await,
            serde_json::json!({ "ok": 1, "first": null })
        );
        assert_eq!(
            run("{ maybeItems { name links { role } } }").await,
            serde_json::json!({ "maybeItems": [{ "name": "item", "links": [{ "role": "buyer" }] }, null] })
        );
        // A nullable field that fails is null, and its parent stays.
        assert_eq!(
            run("{ item(fails: false) { name optional } }").await,
            serde_json::json!({ "item": { "name": "item", "optional": null } })
        );
    }

    #[tokio::test]
    async fn an_error_beside_a_value_nulls_nothing() {
        assert_eq!(
            run("{ ok partial }").await,
            serde_json::json!({ "ok": 1, "partial": [1] })
        );
    }

    #[tokio::test]
    async fn an_error_with_no_nullable_parent_nulls_data() {
        assert_eq!(
            run("{ ok items { links { role } } }").await,
            serde_json::Value::Null
        );
        assert_eq!(
            run("{ ok ... on Query { required { name links { role } } } }").await,
            serde_json::Value::Null
        );
    }
}
