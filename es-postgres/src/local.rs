//! The server tests, benchmarks and examples use, and what to tell a person when it is down.

/// The URL used unless `ES_POSTGRES_URL` names another: the local server, trust auth.
pub const LOCAL_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// `ES_POSTGRES_URL` if set, else [`LOCAL_URL`].
pub fn url_from_env() -> String {
    std::env::var("ES_POSTGRES_URL").unwrap_or_else(|_| LOCAL_URL.to_owned())
}

/// How to get a server at `url` running, for the message of a test or tool that could not reach
/// it (the password, if any, is not shown).
///
/// ```
/// let hint = es_postgres::how_to_start("postgres://u:secret@127.0.0.1:5432/test");
/// assert!(hint.contains("docker run") && !hint.contains("secret"));
/// ```
pub fn how_to_start(url: &str) -> String {
    format!(
        "PostgreSQL is not reachable at {}. Start one, then run again:\n\
         - Debian or Ubuntu package: pg_ctlcluster --skip-systemctl-redirect 15 main start\n\
         - another install: pg_ctl -D <data directory> start (or your service manager)\n\
         - Docker: docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:15\n\
         or point ES_POSTGRES_URL at a server you have.",
        crate::redact(url)
    )
}
