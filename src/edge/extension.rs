//! The part of the edge that runs inside async-graphql, as an extension:
//! it sees the parsed operation before validation and records how far a
//! request got, so the HTTP layer can answer with the status GraphQL over
//! HTTP gives that stage.
//!
//! Per request the HTTP layer puts a [`RequestOutcome`] in the request data.
//! The hooks, in the order async-graphql calls them:
//! - `parse_query`: after parsing, refuses a mutation sent over GET;
//! - `validation`: gives async-graphql's validation errors (its depth and
//!   complexity limits among them) their codes;
//! - `execute`: marks the request as executed, and gives any error a
//!   resolver raised without a code one.
//!
//! Everything before `execute` is a request error: no `data` entry, status
//! 400 under `application/graphql-response+json`.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::{
    ExecutableDocument, OperationDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Variables};
use axum::http::StatusCode;

use super::error::{codes, execution_code, has_code, refusal, validation_code, with_code};

/// How far one request got through async-graphql, and what the edge
/// decided about it.
#[derive(Debug)]
pub struct RequestOutcome {
    /// Whether the request came over GET (which may only read).
    pub over_get: bool,
    /// The `operationName` parameter.
    pub operation_name: Option<String>,
    /// Whether introspection is allowed (`[graphql] introspection`).
    pub introspection: bool,
    state: Mutex<OutcomeState>,
}

#[derive(Debug, Default)]
struct OutcomeState {
    stage: Stage,
    /// A status other than the media type's default for a request error.
    refusal_status: Option<StatusCode>,
}

/// How far a request got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stage {
    /// Not yet parsed (or refused before parsing).
    #[default]
    Received,
    /// Parsed and accepted by the edge's checks.
    Parsed,
    /// Valid against the schema.
    Validated,
    /// Handed to the resolvers.
    Executed,
}

impl RequestOutcome {
    pub fn new(over_get: bool, operation_name: Option<String>, introspection: bool) -> Self {
        Self {
            over_get,
            operation_name,
            introspection,
            state: Mutex::new(OutcomeState::default()),
        }
    }

    /// How far the request got.
    pub fn stage(&self) -> Stage {
        self.lock().stage
    }

    /// The status the edge chose for a refusal, if not the default.
    pub fn refusal_status(&self) -> Option<StatusCode> {
        self.lock().refusal_status
    }

    fn set_stage(&self, stage: Stage) {
        self.lock().stage = stage;
    }

    fn refuse_with_status(&self, status: StatusCode) {
        self.lock().refusal_status = Some(status);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OutcomeState> {
        // The state is plain data written in one statement; a panic while
        // it is held cannot leave it half-written.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The operation a request runs: the one named, or the only one.
pub fn selected_operation<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    let mut operations = document.operations.iter();
    match operation_name {
        Some(name) => operations
            .find(|(candidate, _)| candidate.is_some_and(|candidate| candidate.as_str() == name))
            .map(|(_, operation)| &operation.node),
        None => {
            let (_, first) = operations.next()?;
            operations.next().is_none().then_some(&first.node)
        }
    }
}

/// Whether any selection of the document, in an operation or a fragment,
/// is `__schema` or `__type`. Each selection set is visited once, where it
/// is written: fragments are not expanded.
fn selects_introspection(document: &ExecutableDocument) -> bool {
    let mut pending: Vec<&SelectionSet> = document
        .operations
        .iter()
        .map(|(_, operation)| &operation.node.selection_set.node)
        .chain(
            document
                .fragments
                .values()
                .map(|fragment| &fragment.node.selection_set.node),
        )
        .collect();
    while let Some(selection_set) = pending.pop() {
        for selection in &selection_set.items {
            match &selection.node {
                Selection::Field(field) => {
                    if matches!(field.node.name.node.as_str(), "__schema" | "__type") {
                        return true;
                    }
                    pending.push(&field.node.selection_set.node);
                }
                Selection::InlineFragment(fragment) => {
                    pending.push(&fragment.node.selection_set.node)
                }
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    false
}

/// The extension factory, registered on the schema.
#[derive(Debug, Default)]
pub struct EdgeExtension;

impl ExtensionFactory for EdgeExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(EdgeExtension)
    }
}

#[async_trait::async_trait]
impl Extension for EdgeExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await.map_err(|mut error| {
            if !has_code(&error) {
                with_code(&mut error, codes::GRAPHQL_PARSE_FAILED);
            }
            error
        })?;
        let Some(outcome) = ctx.data_opt::<Arc<RequestOutcome>>() else {
            // A request that did not come through the HTTP edge (a test
            // calling the schema directly) has nothing to check here.
            return Ok(document);
        };
        let operation = selected_operation(&document, outcome.operation_name.as_deref());
        if outcome.over_get && operation.is_some_and(|o| o.ty == OperationType::Mutation) {
            outcome.refuse_with_status(StatusCode::METHOD_NOT_ALLOWED);
            return Err(refusal(
                "mutations are only accepted over POST",
                codes::METHOD_NOT_ALLOWED,
            ));
        }
        if !outcome.introspection && selects_introspection(&document) {
            return Err(refusal(
                "introspection is disabled on this endpoint",
                codes::INTROSPECTION_DISABLED,
            ));
        }
        outcome.set_stage(Stage::Parsed);
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await.map_err(|mut errors| {
            for error in errors.iter_mut().filter(|error| !has_code(error)) {
                let code = validation_code(error);
                with_code(error, code);
            }
            errors
        })?;
        if let Some(outcome) = ctx.data_opt::<Arc<RequestOutcome>>() {
            outcome.set_stage(Stage::Validated);
        }
        Ok(result)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(outcome) = ctx.data_opt::<Arc<RequestOutcome>>() {
            outcome.set_stage(Stage::Executed);
        }
        let mut response = next.run(ctx, operation_name).await;
        for error in response.errors.iter_mut().filter(|error| !has_code(error)) {
            let code = execution_code(error);
            with_code(error, code);
        }
        response
    }
}
