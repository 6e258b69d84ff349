//! The HTTP API: the router, its OpenAPI document and Swagger UI. Handlers are thin: they parse the request,
//! call the rules in [`crate::experiments`], [`crate::schedules`] and [`crate::trials`], and shape the response.

mod audit;
pub mod auth;
mod blackouts;
mod callbacks;
pub mod cors;
pub mod errors;
mod experiments;
mod extract;
mod health;
mod misarch_executor;
mod pages;
mod pagination;
mod request_guards;
mod research;
mod safety;
mod schedules;
pub mod scopes;
mod sweeps;
mod tokens;
mod trials;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::IntoResponse;
use tower::Layer as _;
use tower_http::normalize_path::NormalizePathLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::db::Db;
use crate::wakeups::Wakeups;
use errors::ApiError;
use tokio_util::sync::CancellationToken;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    /// Wakes the scheduler and the worker of this process when the API changes what they work on.
    pub wakeups: Wakeups,
    /// Cancelled when eris shuts down: ends long-lived responses (event streams). In an `Arc` because the state is
    /// cloned for every request and a token's clone takes a lock.
    pub shutdown: std::sync::Arc<CancellationToken>,
    /// Where trial events go (a stop through the API is one).
    pub webhooks: std::sync::Arc<crate::webhooks::delivery::WebhookConfig>,
    /// Which credentials `/api/v1` accepts, and where MiSArch callbacks may come from.
    pub auth: std::sync::Arc<crate::auth::settings::AuthSettings>,
    /// The MiSArch Experiment Executor's API: the generator's templates, the links its event stream sends.
    pub misarch_executor: std::sync::Arc<crate::misarch_executor::Settings>,
    /// The browser origins allowed to call eris (`ERIS_CORS_ORIGINS`).
    pub cors: std::sync::Arc<cors::CorsOrigins>,
}

impl AppState {
    /// The state of a process whose settings are all their defaults, over `db` (tests and benchmarks start here and
    /// change what they need).
    pub fn with_defaults(db: Db) -> Self {
        Self {
            db,
            wakeups: Default::default(),
            shutdown: Default::default(),
            webhooks: Default::default(),
            auth: Default::default(),
            misarch_executor: Default::default(),
            cors: Default::default(),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "eris",
        // Pinned so that the committed document changes only when the API does.
        version = "1",
        description = "eris keeps a catalogue of chaos experiments, runs them on cron schedules one trial at a time, \
and keeps the record of every trial for audit.\n\nErrors are JSON `{\"code\", \"message\", \"field\"}` with a stable \
`code`. Lists are JSON arrays in creation order with keyset pagination: `limit` (1–1000, default 100) and the next \
page's URL in the `Link` header. Paths accept an optional trailing slash.\n\n`/api/v1` needs a bearer credential \
(an eris API token, or a JWT with ERIS_AUTH=jwt) with the scope each operation names: `read` for GET, `write` for \
changes, `admin` for purging, tokens and the audit log. Every change is recorded in the audit log.",
        license(name = "Apache-2.0"),
    ),
    tags(
        (name = "experiments", description = "The catalogue of chaos experiments."),
        (name = "schedules", description = "Cron schedules that run an experiment by themselves."),
        (name = "trials", description = "Runs of an experiment, kept for audit."),
        (name = "research", description = "Experiments as research: sweeps over parameter sets, trials compared \
side by side, trends with regressions flagged, resilience scores and report pages (docs/research.md)."),
        (name = "safety", description = "Safety levers of the whole deployment: the emergency stop, which stops \
every trial and lets none start until it is released, and blackouts, in which no trial starts or runs \
(docs/safety.md)."),
        (name = "tokens", description = "API tokens (admin)."),
        (name = "audit", description = "The append-only log of every change asked of the API (admin)."),
        (name = "health", description = "Liveness and readiness."),
        (name = "misarch callbacks", description = "Called by the MiSArch components (Gatling executor, Chaos \
Toolkit executor) during a MiSArch trial, at the paths and in the formats of the MiSArch Experiment Executor. They \
answer only for the trial that is running."),
        (name = "misarch executor", description = "The MiSArch Experiment Executor's own API, at its paths and in its \
formats, so that the MiSArch frontend and scripts written for the executor work against eris with only their backend \
URL changed. Every version is an eris experiment; a start queues a trial through the same sequential worker. \
docs/misarch.md, \"Coming from the MiSArch Experiment Executor\"."),
    )
)]
struct ApiDoc;

fn openapi_router(limits: &Limits) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(experiments::router())
        .merge(schedules::router())
        .merge(trials::router())
        .merge(sweeps::router())
        .merge(research::router())
        .merge(pages::router())
        .merge(safety::router())
        .merge(blackouts::router())
        .merge(tokens::router())
        .merge(audit::router())
        .merge(health::router())
        .merge(callbacks::router(limits.callback_max_body_bytes))
        .merge(misarch_executor::router())
}

/// The routes, the OpenAPI document that describes them (guard included), and the access each route declares.
fn routes_and_document(limits: &Limits) -> (Router<AppState>, utoipa::openapi::OpenApi, scopes::RouteScopes) {
    let (routes, mut document) = openapi_router(limits).split_for_parts();
    // A route that declares no access, or a wrong one, is a defect of the build: every test that builds the app
    // stops here and names it.
    let scopes = scopes::RouteScopes::from_document(&document).unwrap_or_else(|error| panic!("{error}"));
    auth::document(&mut document, &scopes);
    (routes, document, scopes)
}

/// The OpenAPI document of the whole API (`eris openapi`, `/api-docs/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes_and_document(&Limits::default()).1
}

/// The access each route needs, as the routes declare it: what the guard enforces.
pub fn route_scopes() -> scopes::RouteScopes {
    routes_and_document(&Limits::default()).2
}

/// Limits on what one request may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body (`ERIS_MAX_BODY_BYTES`); a larger one gets 413.
    pub max_body_bytes: usize,
    /// Longest time a request may take until its response starts (`ERIS_REQUEST_TIMEOUT_SECS`); then 503.
    pub request_timeout: std::time::Duration,
    /// Largest metrics upload of the MiSArch callbacks (`ERIS_CALLBACK_MAX_BODY_BYTES`).
    pub callback_max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout: std::time::Duration::from_secs(30),
            callback_max_body_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The whole HTTP application. `main` serves it and the tests call it directly.
pub fn app(state: AppState, limits: Limits) -> Router {
    crate::telemetry::install();
    let (api, document, scopes) = routes_and_document(&limits);
    let guarded = auth::Guarded { app: state.clone(), scopes: std::sync::Arc::new(scopes) };
    let routes = api
        .merge(SwaggerUi::new("/swagger-ui").url("/api-docs/openapi.json", document))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Inside the body limit, which the guard's reading of a change's body obeys too.
        .layer(axum::middleware::from_fn_with_state(guarded, auth::guard))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(limits.request_timeout, time_limit))
        // Outside the guard: a preflight carries no credential, and a foreign page's request never reaches it.
        .layer(state.cors.layer())
        .layer(axum::middleware::from_fn_with_state(state.cors.clone(), cors::refuse_foreign_origin))
        .layer(axum::middleware::from_fn(request_guards::refuse_nul_in_uri))
        .layer(axum::middleware::from_fn(crate::telemetry::track_http))
        .layer(axum::middleware::from_fn(request_guards::close_after_refused_body))
        // Responses are data, never pages to frame or sniff.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        // Every request has an id: the client's `X-Request-Id`, or a new UUID. It is in every log line of the
        // request and in the response.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state);
    // Trailing slashes are trimmed before routing, so `/api/v1/trial/` is `/api/v1/trial`. Swagger UI's page is
    // routed around the trimming: Swagger UI redirects `/swagger-ui` to `/swagger-ui/`, which trimming would loop.
    let trimmed = NormalizePathLayer::trim_trailing_slash().layer(routes.clone());
    Router::new().route_service("/swagger-ui/", routes.into_service()).fallback_service(trimmed)
}

/// A text answer as the MiSArch executor sends its `String` results (the callbacks' and its own API's): not
/// JSON-quoted, no final newline.
fn plain_text(body: impl Into<axum::body::Body>) -> axum::response::Response {
    ([(header::CONTENT_TYPE, "text/plain;charset=UTF-8")], body.into()).into_response()
}

/// Ends a request that takes too long with a JSON 503. Only the time until the response starts counts, so event
/// streams run on.
async fn time_limit(
    axum::extract::State(limit): axum::extract::State<std::time::Duration>,
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "request_timeout",
            format!("the request took longer than {} s (ERIS_REQUEST_TIMEOUT_SECS); retry later", limit.as_secs_f64()),
            None,
        )
        .into_response(),
    }
}

fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let request_id = request.headers().get("x-request-id").and_then(|id| id.to_str().ok()).unwrap_or("-");
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
}

async fn route_not_found(uri: Uri) -> impl IntoResponse {
    ApiError::new(StatusCode::NOT_FOUND, "route_not_found", format!("there is no resource at {}", uri.path()), None)
}

async fn method_not_allowed(request: Request) -> impl IntoResponse {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", request.method(), request.uri().path()),
        None,
    )
}
