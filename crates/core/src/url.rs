//! Connection strings in messages and `Debug` output.

/// `url` with any password in its user info replaced by `<redacted>`, so it
/// can be logged or put in an error: `scheme://user:<redacted>@host/...`.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    // The last `@` ends the user info: a password may hold an unescaped `@`.
    let Some((userinfo, host)) = rest.rsplit_once('@') else { return url.to_string() };
    let user = userinfo.split(':').next().unwrap_or("");
    if userinfo.contains(':') { format!("{scheme}://{user}:<redacted>@{host}") } else { url.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_and_the_rest_kept() {
        assert_eq!(redact_password("redis://app:hunter2@cache:6379/2"), "redis://app:<redacted>@cache:6379/2");
        assert_eq!(redact_password("postgresql://u:p@ss@db/x"), "postgresql://u:<redacted>@db/x");
        assert_eq!(redact_password("mongodb://only-user@h/db"), "mongodb://only-user@h/db");
        assert_eq!(redact_password("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redact_password("not a url"), "not a url");
    }
}
