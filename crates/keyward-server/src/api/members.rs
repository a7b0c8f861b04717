//! The team's members: `keyward-server member add|list|revoke`, and the token lookup of every
//! API request. A token is `kwp_` + 32 random bytes in base64url; the database keeps only its
//! SHA-256.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use keyward_core::error::{Error, ErrorCode, Result};
use keyward_core::operations::Role;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::pg::db_err;

/// The prefix of a personal access token (so that a leak scanner can recognise one).
pub const TOKEN_PREFIX: &str = "kwp_";

/// A member as `member list` and `GET /api/v1/me` show it (never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// `member add`'s answer: the token is shown this once.
#[derive(Serialize)]
pub struct Added {
    pub name: String,
    pub role: Role,
    pub token: Token,
}

/// A personal access token in clear: serialized for the one `member add --json` answer, but
/// never shown by `Debug`.
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("kwp_…(redacted)")
    }
}

/// A member name: 1 to 64 of letters, digits, `.`, `_`, `-` and `@`, starting with a letter or
/// a digit (an email address or a login fits).
pub fn validate_name(name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    let problem = if name.is_empty() {
        Some("is empty".to_string())
    } else if name.len() > 64 {
        Some(format!("is {} characters long (at most 64)", name.len()))
    } else if !name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
    {
        Some("must start with a letter or a digit".to_string())
    } else {
        name.chars()
            .find(|c| !ok_char(*c))
            .map(|c| format!("contains {c:?}"))
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(Error::invalid_input(
            "member name",
            p,
            "Use 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter or a \
             digit (e.g. alice or alice@example.com).",
        )),
    }
}

/// The SHA-256 of a token, as stored.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares two hashes in time independent of where they differ.
pub fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn new_token() -> Token {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Token(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Adds a member with a new token (the only time it exists in clear).
pub fn add(c: &mut postgres::Client, name: &str, role: Role) -> Result<Added> {
    validate_name(name)?;
    let token = new_token();
    let hash = token_hash(token.expose());
    let n = c
        .execute(
            "INSERT INTO members (name, role, token_sha256) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
            &[&name, &role.as_str(), &hash.as_slice()],
        )
        .map_err(db_err)?;
    if n == 0 {
        return Err(Error::new(
            ErrorCode::ProfileExists,
            format!("there is a member named {name:?} already"),
            "Choose another name, or revoke theirs first (keyward-server member revoke NAME) \
             to give them a new token.",
        ));
    }
    Ok(Added {
        name: name.to_string(),
        role,
        token,
    })
}

/// Every member, by name.
pub fn list(c: &mut postgres::Client) -> Result<Vec<Member>> {
    c.query(
        "SELECT name, role, created_at, last_used_at FROM members ORDER BY name",
        &[],
    )
    .map_err(db_err)?
    .iter()
    .map(|r| {
        Ok(Member {
            name: r.get(0),
            role: Role::parse(r.get(1))?,
            created_at: r.get(2),
            last_used_at: r.get(3),
        })
    })
    .collect()
}

/// Revokes a member: their token fails from the next request on.
pub fn revoke(c: &mut postgres::Client, name: &str) -> Result<()> {
    validate_name(name)?;
    let n = c
        .execute("DELETE FROM members WHERE name = $1", &[&name])
        .map_err(db_err)?;
    if n == 0 {
        return Err(Error::new(
            ErrorCode::NotFound,
            format!("there is no member named {name:?}"),
            "keyward-server member list shows the members.",
        ));
    }
    Ok(())
}

/// The member a token belongs to (`None`: no such token), looked up by its hash, and notes
/// when it was last used (at most once a minute per member).
pub fn authenticate(c: &mut postgres::Client, token: &str) -> Result<Option<Member>> {
    let hash = token_hash(token);
    let Some(row) = c
        .query_opt(
            "SELECT name, role, created_at, last_used_at, token_sha256 FROM members \
             WHERE token_sha256 = $1",
            &[&hash.as_slice()],
        )
        .map_err(db_err)?
    else {
        return Ok(None);
    };
    let stored: Vec<u8> = row.get(4);
    if !hashes_equal(&stored, &hash) {
        return Ok(None);
    }
    let m = Member {
        name: row.get(0),
        role: Role::parse(row.get(1))?,
        created_at: row.get(2),
        last_used_at: row.get(3),
    };
    c.execute(
        "UPDATE members SET last_used_at = now() WHERE name = $1 \
         AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        &[&m.name],
    )
    .map_err(db_err)?;
    Ok(Some(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_tokens_look_right() {
        for ok in ["alice", "a", "alice@example.com", "ops-bot_2.0"] {
            validate_name(ok).unwrap();
        }
        for bad in ["", "-x", "a b", "ünï", &"x".repeat(65), "a/b"] {
            let e = validate_name(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}");
            assert!(!e.hint.is_empty());
        }
        let t = new_token();
        assert!(t.expose().starts_with(TOKEN_PREFIX));
        assert_eq!(URL_SAFE_NO_PAD.decode(&t.expose()[4..]).unwrap().len(), 32);
        assert_ne!(t.expose(), new_token().expose());
        assert!(!format!("{t:?}").contains(&t.expose()[4..]));
        let h = token_hash(t.expose());
        assert!(hashes_equal(&h, &token_hash(t.expose())));
        assert!(!hashes_equal(&h, &token_hash("kwp_other")));
        assert!(!hashes_equal(&h, &h[..31]));
    }
}
