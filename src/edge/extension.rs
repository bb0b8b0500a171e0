//! The part of the edge that runs inside async-graphql, as an extension:
//! it sees the parsed operation before validation and records how far a
//! request got, so the HTTP layer can answer with the status GraphQL over
//! HTTP gives that stage.
//!
//! Per request the HTTP layer puts a [`RequestOutcome`] in the request data.
//! The hooks, in the order async-graphql calls them:
//! - `prepare_request`: gives the errors of the automatic persisted query
//!   extension (registered after this one, so run inside this hook) codes;
//! - `parse_query`: after parsing, walks the document against the cost
//!   limits (`cost.rs`) and refuses a mutation sent over GET;
//!   It also estimates the operation's upstream requests (`estimate.rs`);
//!   With the caller's [`Principal`] in the request data, it refuses a
//!   mutation from a read-only principal and an operation that would reach
//!   a source the principal may not use (`FORBIDDEN`, 403);
//! - `validation`: gives async-graphql's validation errors (its depth and
//!   complexity limits among them) their codes, and refuses a valid
//!   operation whose estimate passes the ceiling (`UPSTREAM_BUDGET_EXCEEDED`)
//!   or the principal's upstream requests left this minute (`RATE_LIMITED`,
//!   429 with `Retry-After`);
//! - `execute`: answers a dry run with the estimate instead of running;
//!   otherwise marks the request as executed, and gives any error a
//!   resolver raised without a code one.
//!
//! Everything before `execute` is a request error: no `data` entry, status
//! 400 under `application/graphql-response+json`.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextValidation,
};
use async_graphql::parser::types::{
    ExecutableDocument, OperationDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};
use axum::http::StatusCode;

use super::cost::{check_document, CostLimits};
use super::documents::PreparedDocument;
use super::error::{
    codes, execution_code, has_code, parse_code, persisted_query_code, refusal, validation_code,
    with_code,
};
use super::estimate::{estimate, EstimateSettings, UpstreamEstimate};
use crate::auth::limits::{retry_after_seconds, BudgetRefusal};
use crate::auth::Principal;

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
    /// Whether the client asked for the estimate only.
    pub dry_run: bool,
    /// The document the HTTP edge parsed and walked for this request's
    /// text and variables (none for a document named only by a persisted
    /// query's hash, or a text that does not parse).
    pub prepared: Option<Arc<PreparedDocument>>,
    /// Whether the request has no variables, so that its validation result
    /// is a function of the document and operation name alone.
    pub without_variables: bool,
    state: Mutex<OutcomeState>,
}

#[derive(Debug, Default)]
struct OutcomeState {
    stage: Stage,
    /// A status other than the media type's default for a request error.
    refusal_status: Option<StatusCode>,
    /// The upstream estimate of the selected operation.
    estimate: Option<UpstreamEstimate>,
    /// `Retry-After` of a refusal for the caller's rate.
    retry_after_seconds: Option<u64>,
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
    /// Valid, estimated and not run, as the client asked.
    DryRun,
}

impl RequestOutcome {
    pub fn new(
        over_get: bool,
        operation_name: Option<String>,
        introspection: bool,
        dry_run: bool,
        prepared: Option<Arc<PreparedDocument>>,
        without_variables: bool,
    ) -> Self {
        Self {
            over_get,
            operation_name,
            introspection,
            dry_run,
            prepared,
            without_variables,
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

    /// The upstream estimate of the selected operation, once parsed.
    pub fn estimate(&self) -> Option<UpstreamEstimate> {
        self.lock().estimate.clone()
    }

    fn set_estimate(&self, estimate: UpstreamEstimate) {
        self.lock().estimate = Some(estimate);
    }

    fn set_stage(&self, stage: Stage) {
        self.lock().stage = stage;
    }

    fn refuse_with_status(&self, status: StatusCode) {
        self.lock().refusal_status = Some(status);
    }

    /// The `Retry-After` of a refusal for the caller's rate, in seconds.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        self.lock().retry_after_seconds
    }

    fn refuse_until(&self, seconds: u64) {
        let mut state = self.lock();
        state.refusal_status = Some(StatusCode::TOO_MANY_REQUESTS);
        state.retry_after_seconds = Some(seconds);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OutcomeState> {
        // The state is plain data written in one statement; a panic while
        // it is held cannot leave it half-written.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Finishes the answer of a request run on the schema without extensions
/// (`graphql::build_known_document_schema`) as the extensions would have:
/// the request is marked executed with the operation's estimate, nulls
/// propagate (`graphql::null_propagation`), and every error a resolver
/// raised without a code gets one.
pub fn finish_known_execution(
    outcome: &RequestOutcome,
    estimate: UpstreamEstimate,
    registry: &async_graphql::registry::Registry,
    response: &mut Response,
) {
    outcome.set_estimate(estimate);
    // On the schema that validates (a known shape with new variables), a
    // request the rules refused never ran: it has no data and its errors
    // no path, where every error of a run has the path of its field.
    let refused_by_validation = !outcome.without_variables
        && !response.errors.is_empty()
        && response.data == async_graphql::Value::Null
        && response.errors.iter().all(|error| error.path.is_empty());
    if refused_by_validation {
        for error in response.errors.iter_mut().filter(|error| !has_code(error)) {
            let code = validation_code(error);
            with_code(error, code);
        }
        return;
    }
    outcome.set_stage(Stage::Executed);
    if response.errors.is_empty() {
        return;
    }
    if let Some(prepared) = &outcome.prepared {
        crate::graphql::null_propagation::propagate_nulls(
            registry,
            prepared.document(),
            outcome.operation_name.as_deref(),
            response,
        );
    }
    for error in response.errors.iter_mut().filter(|error| !has_code(error)) {
        let code = execution_code(error);
        with_code(error, code);
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
#[derive(Debug)]
pub struct EdgeExtension {
    settings: Arc<EdgeExtensionSettings>,
}

/// What the extension checks against.
#[derive(Debug)]
pub struct EdgeExtensionSettings {
    pub limits: CostLimits,
    pub estimate: EstimateSettings,
    /// `[limits] max_upstream_requests`.
    pub max_upstream_requests: u64,
}

impl EdgeExtension {
    pub fn new(settings: EdgeExtensionSettings) -> Self {
        Self {
            settings: Arc::new(settings),
        }
    }
}

impl ExtensionFactory for EdgeExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(EdgeChecks {
            settings: Arc::clone(&self.settings),
        })
    }
}

/// The extension's per-request instance.
struct EdgeChecks {
    settings: Arc<EdgeExtensionSettings>,
}

#[async_trait::async_trait]
impl Extension for EdgeChecks {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        next.run(ctx, request).await.map_err(|mut error| {
            if !has_code(&error) {
                let code = persisted_query_code(&error);
                with_code(&mut error, code);
            }
            error
        })
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await.map_err(|mut error| {
            if !has_code(&error) {
                let code = parse_code(&error);
                with_code(&mut error, code);
            }
            error
        })?;
        let outcome = ctx.data_opt::<Arc<RequestOutcome>>();
        // The HTTP edge walked the document of the text it was sent, with
        // these variables; a persisted query's document, named by its hash
        // alone, is walked here, before validation.
        if outcome.is_none_or(|outcome| outcome.prepared.is_none()) {
            check_document(&document, variables, &self.settings.limits)
                .map_err(|error| refusal(error.to_string(), error.code()))?;
        }
        let Some(outcome) = outcome else {
            // A request that did not come through the HTTP edge (a test
            // calling the schema directly) has nothing more to check here.
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
        let principal = ctx.data_opt::<Arc<Principal>>();
        if let Some(principal) = principal {
            if principal.read_only && operation.is_some_and(|o| o.ty == OperationType::Mutation) {
                outcome.refuse_with_status(StatusCode::FORBIDDEN);
                return Err(refusal(
                    "this API key may only read; mutations are refused",
                    codes::FORBIDDEN,
                ));
            }
        }
        if let Some(operation) = operation {
            let restricted = principal.filter(|principal| !principal.denied.is_empty());
            let estimate = match restricted {
                // A principal's `contacts` without `sources:` lists only the
                // sources it may use, so the estimate defaults to those.
                Some(principal) => {
                    let settings = EstimateSettings {
                        default_sources: Some(principal.allowed.clone()),
                        ..self.settings.estimate.clone()
                    };
                    estimate(&document, operation, variables, &settings)
                }
                None => estimate(&document, operation, variables, &self.settings.estimate),
            };
            if let Some(principal) = restricted {
                let denied: Vec<&str> = principal
                    .denied
                    .iter()
                    .filter(|source| estimate.of(**source) > 0)
                    .map(|source| source.as_str())
                    .collect();
                if !denied.is_empty() {
                    outcome.refuse_with_status(StatusCode::FORBIDDEN);
                    return Err(refusal(
                        format!("this API key may not use {}", denied.join(", ")),
                        codes::FORBIDDEN,
                    ));
                }
            }
            outcome.set_estimate(estimate);
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
        let outcome = ctx.data_opt::<Arc<RequestOutcome>>();
        if let Some(outcome) = outcome {
            if let Some(estimate) = outcome.estimate() {
                let ceiling = self.settings.max_upstream_requests;
                let over = estimate.over(ceiling);
                if !over.is_empty() && !outcome.dry_run {
                    let names: Vec<&str> = over.iter().map(|source| source.as_str()).collect();
                    let mut error = refusal(
                        format!(
                            "this operation is estimated to send more than {ceiling} upstream requests to {}; ask for fewer records or fewer nested lists",
                            names.join(", ")
                        ),
                        codes::UPSTREAM_BUDGET_EXCEEDED,
                    );
                    if let Some(extensions) = error.extensions.as_mut() {
                        extensions.set(
                            "upstreamCallEstimate",
                            estimate.to_value(&self.settings.estimate.sources),
                        );
                    }
                    return Err(vec![error]);
                }
                if let (Some(principal), false) =
                    (ctx.data_opt::<Arc<Principal>>(), outcome.dry_run)
                {
                    let total = estimate.total();
                    match principal.limits.admit_upstream_requests(total) {
                        Ok(()) => {}
                        Err(BudgetRefusal::Later(wait)) => {
                            let seconds = retry_after_seconds(wait);
                            outcome.refuse_until(seconds);
                            return Err(vec![refusal(
                                format!(
                                    "this API key has used its upstream requests for now; this operation is estimated at {total}; retry after {seconds} s"
                                ),
                                codes::RATE_LIMITED,
                            )]);
                        }
                        Err(BudgetRefusal::Never { per_minute }) => {
                            return Err(vec![refusal(
                                format!(
                                    "this operation is estimated at {total} upstream requests, more than this API key's {per_minute} per minute; ask for fewer records or fewer nested lists"
                                ),
                                codes::UPSTREAM_BUDGET_EXCEEDED,
                            )]);
                        }
                    }
                }
            }
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
            if outcome.dry_run {
                outcome.set_stage(Stage::DryRun);
                let estimate = outcome.estimate().unwrap_or_default();
                return Response::new(async_graphql::Value::Null)
                    .extension(
                        "upstreamCallEstimate",
                        estimate.to_value(&self.settings.estimate.sources),
                    )
                    .extension("dryRun", async_graphql::Value::Boolean(true));
            }
            outcome.set_stage(Stage::Executed);
            // Valid, under the ceiling, and about to run: sent again
            // without variables, the same text and operation name need
            // none of the checks again.
            if let Some(prepared) = &outcome.prepared {
                let operation_name = outcome.operation_name.as_deref();
                if outcome.without_variables {
                    prepared.keep_known(operation_name, outcome.estimate().unwrap_or_default());
                } else {
                    prepared.keep_known_shape(operation_name);
                }
            }
        }
        let mut response = next.run(ctx, operation_name).await;
        for error in response.errors.iter_mut().filter(|error| !has_code(error)) {
            let code = execution_code(error);
            with_code(error, code);
        }
        response
    }
}
