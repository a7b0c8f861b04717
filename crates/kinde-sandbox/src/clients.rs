//! The M2M applications that may ask for tokens, and the Management API scopes they hold.

/// Every scope of the Management API routes that the sandbox serves (the spec's `x-scope`).
pub const ALL_SCOPES: &[&str] = &[
    "read:api_keys",
    "create:api_keys",
    "update:api_keys",
    "delete:api_keys",
    "read:apis",
    "read:api_scopes",
    "read:organizations",
    "read:users",
];

/// The `read:` scopes (the read-only M2M app).
pub fn read_scopes() -> Vec<&'static str> {
    ALL_SCOPES
        .iter()
        .copied()
        .filter(|s| s.starts_with("read:"))
        .collect()
}

/// The M2M app with every scope, always present besides the configured one.
pub const ADMIN_CLIENT: (&str, &str) = ("sandbox_admin", "sandbox_admin_secret");
/// The M2M app with only the `read:` scopes.
pub const READONLY_CLIENT: (&str, &str) = ("sandbox_readonly", "sandbox_readonly_secret");

/// A machine-to-machine application that may ask for tokens.
#[derive(Debug, Clone)]
pub struct ClientApp {
    pub secret: String,
    pub scopes: Vec<String>,
}
