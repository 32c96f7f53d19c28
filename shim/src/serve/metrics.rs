//! Prometheus metrics. Labels only take bounded values (route templates, configured database
//! names, methods we route), never anything a client can make up.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DatabaseLabels {
    database: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    database_errors: Family<DatabaseLabels, Counter>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("nile_reset");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        // 1 ms to about 16 s: bcrypt at cost 10 to 12 dominates a password change.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.001, 2.0, 15))) as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            latency.clone(),
        );
        let database_errors = Family::<DatabaseLabels, Counter>::default();
        registry.register(
            "database_errors",
            "Database failures (unreachable, misconfigured, unexpected SQL errors)",
            database_errors.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            database_errors,
        }
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let route_labels = RouteLabels {
            method: method.to_owned(),
            route: route.to_owned(),
        };
        self.latency
            .get_or_create(&route_labels)
            .observe(elapsed.as_secs_f64());
        let labels = RequestLabels {
            method: route_labels.method,
            route: route_labels.route,
            status,
        };
        self.requests.get_or_create(&labels).inc();
    }

    /// The error counter of one database, created now so it is exported (as 0) from the start.
    pub fn database_errors(&self, database: &str) -> Counter {
        self.database_errors
            .get_or_create(&DatabaseLabels {
                database: database.to_owned(),
            })
            .clone()
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_requests_latency_and_database_errors() {
        let metrics = Metrics::new();
        metrics.database_errors("app").inc();
        metrics.observe_request(
            "POST",
            "/v2/databases/{database}/auth/reset-password",
            201,
            Duration::from_millis(3),
        );
        let text = crate::openmetrics::encode(metrics.registry());
        assert!(text.contains(
            r#"nile_reset_http_requests_total{method="POST",route="/v2/databases/{database}/auth/reset-password",status="201"} 1"#
        ), "{text}");
        assert!(
            text.contains("nile_reset_http_request_duration_seconds_bucket{"),
            "{text}"
        );
        assert!(
            text.contains(r#"nile_reset_database_errors_total{database="app"} 1"#),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
