//! Connection URLs without their secrets, for error messages and logs.

/// What a hidden secret is shown as.
const HIDDEN: &str = "***";

/// `url` with every password replaced by `***`: the one in the user info
/// (`postgres://u:secret@h/db`) and any `password=` or `sslpassword=` parameter
/// (`?password=secret&sslmode=require`).
///
/// ```
/// assert_eq!(
///     es_postgres::redact("postgres://u@h/db?password=secret&sslmode=require"),
///     "postgres://u@h/db?password=***&sslmode=require"
/// );
/// ```
pub fn redact(url: &str) -> String {
    hide_parameters(&hide_user_password(url))
}

/// Hides the password of `scheme://user:password@host`.
fn hide_user_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    // The user info ends at the last `@` before the path: a password may hold `@`, a path
    // or query may hold one too.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:{HIDDEN}{}", &url[..scheme_end], &rest[..colon], &rest[at..]),
        None => url.to_owned(),
    }
}

/// Hides the value of every parameter whose name ends in `password` (any case), up to the next
/// `&`, `#` or space.
fn hide_parameters(url: &str) -> String {
    const KEY: &str = "password=";
    let lower = url.to_ascii_lowercase();
    let mut out = String::with_capacity(url.len());
    let mut done = 0;
    let mut from = 0;
    while let Some(found) = lower[from..].find(KEY) {
        let value_start = from + found + KEY.len();
        let value_end = url[value_start..].find(['&', '#', ' ']).map_or(url.len(), |end| value_start + end);
        out.push_str(&url[done..value_start]);
        out.push_str(HIDDEN);
        done = value_end;
        from = value_end;
    }
    out.push_str(&url[done..]);
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_user_passwords_only() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://u:s@cret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact("postgres://h/db?application_name=a@b"), "postgres://h/db?application_name=a@b");
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn redacts_password_parameters() {
        assert_eq!(
            redact("postgres://u@h/db?password=secret&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require"
        );
        assert_eq!(
            redact("postgres://u@h/db?sslmode=require&password=secret"),
            "postgres://u@h/db?sslmode=require&password=***"
        );
        assert_eq!(
            redact("postgres://u:one@h/db?PASSWORD=two&sslpassword=three#x"),
            "postgres://u:***@h/db?PASSWORD=***&sslpassword=***#x"
        );
        assert_eq!(redact("host=h password=secret dbname=d"), "host=h password=*** dbname=d");
        for url in ["postgres://u@h/db?password=secret", "postgres://u:secret@h/db?password=secret"] {
            assert!(!redact(url).contains("secret"), "{url}");
        }
    }
}
