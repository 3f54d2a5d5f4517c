//! Where the catalogue table lives. Secrets never reach `Debug`.

use proxima_core::{Error, Result};

/// Configuration of a [`crate::DynamoBackend`].
#[derive(Clone, PartialEq, Eq)]
pub struct DynamoConfig {
    /// AWS region.
    pub region: String,
    /// Table name.
    pub table: String,
    /// Endpoint for DynamoDB-compatible servers (`None` for AWS).
    pub endpoint: Option<String>,
    /// Create the table (with its indexes) if it does not exist.
    pub create_table: bool,
    /// Access key id; from `AWS_ACCESS_KEY_ID` when absent.
    pub access_key_id: Option<String>,
    /// Secret key; from `AWS_SECRET_ACCESS_KEY` when absent. Never printed.
    pub secret_access_key: Option<String>,
}

impl Default for DynamoConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            table: "proximadb-catalogue".into(),
            endpoint: None,
            create_table: true,
            access_key_id: None,
            secret_access_key: None,
        }
    }
}

impl std::fmt::Debug for DynamoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoConfig")
            .field("region", &self.region)
            .field("table", &self.table)
            .field("endpoint", &self.endpoint)
            .field("create_table", &self.create_table)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl DynamoConfig {
    /// Parses `dynamodb://region/table?endpoint=URL&create_table=true|false&access_key_id=..&secret_access_key=..`.
    pub fn from_uri(uri: &str) -> Result<Self> {
        let rest =
            uri.strip_prefix("dynamodb://").ok_or_else(|| Error::invalid("not a dynamodb:// connection string"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (region, table) = path.split_once('/').ok_or_else(|| Error::invalid("dynamodb:// needs region/table"))?;
        let valid_table =
            (3..=255).contains(&table.len()) && table.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if region.is_empty() || !valid_table {
            return Err(Error::invalid(format!(
                "`dynamodb://{region}/{table}` needs a region and a 3-255 character table name"
            )));
        }
        let mut config = Self {
            region: region.to_string(),
            table: table.to_string(),
            endpoint: None,
            create_table: true,
            access_key_id: None,
            secret_access_key: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let bad = || {
                Error::invalid(format!(
                    "bad parameter `{}` in a dynamodb:// connection string",
                    pair.split('=').next().unwrap_or("")
                ))
            };
            let (key, value) = pair.split_once('=').ok_or_else(bad)?;
            match key {
                "endpoint" => config.endpoint = Some(value.to_string()),
                "create_table" => config.create_table = value.parse().map_err(|_| bad())?,
                "access_key_id" => config.access_key_id = Some(value.to_string()),
                "secret_access_key" => config.secret_access_key = Some(value.to_string()),
                _ => return Err(bad()),
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_hides_the_secret() {
        let c = DynamoConfig::from_uri(
            "dynamodb://us-east-1/catalogue?endpoint=http://127.0.0.1:5055&secret_access_key=hunter2",
        )
        .unwrap();
        assert_eq!((c.region.as_str(), c.table.as_str()), ("us-east-1", "catalogue"));
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:5055"));
        assert!(!format!("{c:?}").contains("hunter2"));
        for bad in ["dynamodb://us-east-1", "dynamodb:///t123", "dynamodb://r/t?x=1", "dynamodb://r/a b c"] {
            assert!(DynamoConfig::from_uri(bad).is_err(), "{bad}");
        }
    }
}
