//! Which CQL server the store is talking to — Apache Cassandra or ScyllaDB, and its
//! version — read from the server itself at connect, and the few things the store does
//! differently for each. Everything else (statements, LWT result handling, paging,
//! consistency) is the same on both and is exercised against a real Cassandra by the
//! test command.
//!
//! The one difference that changes DDL: ScyllaDB creates new keyspaces on *tablets* by
//! default in the versions that have them, and lightweight transactions (which the
//! store uses for identity creation and the migration lock) are not supported on tablet
//! keyspaces before ScyllaDB 2025.4. So on a ScyllaDB that has tablets but not LWT on
//! them, the keyspace is created with `tablets = {'enabled': false}`; Cassandra knows no
//! such option and gets none.

use scylla::client::session::Session;
use store::StoreError;

/// The server software behind the contact points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Server {
    /// Apache Cassandra, with its `release_version`.
    Cassandra { version: String },
    /// ScyllaDB (open source or enterprise), with the version of `system.versions`.
    Scylla { version: String },
}

impl Server {
    /// Asks the server: `system.versions` exists only on ScyllaDB; Cassandra's version is
    /// `system.local.release_version`.
    pub async fn detect(session: &Session) -> Result<Server, StoreError> {
        if let Ok(res) = session
            .query_unpaged(
                "SELECT version FROM system.versions WHERE key = 'local'",
                (),
            )
            .await
        {
            if let Ok(rows) = res.into_rows_result() {
                if let Ok((version,)) = rows.first_row::<(Option<String>,)>() {
                    return Ok(Server::Scylla {
                        version: version.unwrap_or_default(),
                    });
                }
            }
        }
        let res = session
            .query_unpaged(
                "SELECT release_version FROM system.local WHERE key = 'local'",
                (),
            )
            .await
            .map_err(|e| crate::execution_error("read system.local", e))?;
        let (version,) = res
            .into_rows_result()
            .map_err(|e| StoreError::Backend(format!("system.local: {e}")))?
            .first_row::<(Option<String>,)>()
            .map_err(|e| StoreError::Backend(format!("system.local: {e}")))?;
        Ok(Server::Cassandra {
            version: version.unwrap_or_default(),
        })
    }

    /// Extra `CREATE KEYSPACE` options for this server (empty, or starting with ` AND`).
    pub fn keyspace_options(&self) -> &'static str {
        match self {
            Server::Cassandra { .. } => "",
            Server::Scylla { version } => {
                if scylla_tablets_without_lwt(version) {
                    " AND tablets = {'enabled': false}"
                } else {
                    ""
                }
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Server::Cassandra { .. } => "cassandra",
            Server::Scylla { .. } => "scylladb",
        }
    }

    pub fn version(&self) -> &str {
        match self {
            Server::Cassandra { version } | Server::Scylla { version } => version,
        }
    }
}

/// `(major, minor)` of a version such as `6.2.3`, `2025.1.0-0.20250101` or `2024.1.5`.
fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split(['.', '-', '~']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// Does this ScyllaDB have tablets (open source 6.0+, enterprise 2024.2+) but no LWT on
/// tablet keyspaces (before 2025.4)? An unparsable version is treated as a current
/// release (no option): an unknown keyspace option would fail the migration outright.
fn scylla_tablets_without_lwt(version: &str) -> bool {
    match major_minor(version) {
        Some((major, _)) if (6..2000).contains(&major) => true,
        Some((major, minor)) if major >= 2000 => {
            (major, minor) >= (2024, 2) && (major, minor) < (2025, 4)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scylla(v: &str) -> Server {
        Server::Scylla { version: v.into() }
    }

    #[test]
    fn cassandra_gets_no_keyspace_option() {
        let c = Server::Cassandra {
            version: "5.0.6".into(),
        };
        assert_eq!(c.keyspace_options(), "");
    }

    #[test]
    fn scylla_tablets_are_disabled_only_where_lwt_does_not_work_on_them() {
        let off = " AND tablets = {'enabled': false}";
        // No tablets yet: the option would be unknown.
        assert_eq!(scylla("5.4.9").keyspace_options(), "");
        assert_eq!(scylla("2024.1.5").keyspace_options(), "");
        // Tablets, no LWT on them.
        assert_eq!(scylla("6.0.0").keyspace_options(), off);
        assert_eq!(scylla("6.2.3").keyspace_options(), off);
        assert_eq!(scylla("2024.2.0").keyspace_options(), off);
        assert_eq!(scylla("2025.1.0-0.20250101.abcdef").keyspace_options(), off);
        assert_eq!(scylla("2025.3.2").keyspace_options(), off);
        // LWT on tablets.
        assert_eq!(scylla("2025.4.0").keyspace_options(), "");
        assert_eq!(scylla("2026.1.0").keyspace_options(), "");
        assert_eq!(scylla("garbage").keyspace_options(), "");
    }
}
