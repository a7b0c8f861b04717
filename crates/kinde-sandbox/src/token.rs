//! Sandbox access tokens: the RS256 signing key, the JWKS that publishes it, the claims of an
//! M2M token, and signing and checking a token's signature and expiry.

use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::keys::hash_secret;

/// The sandbox's RS256 signing key. It signs sandbox tokens only and protects nothing real:
/// a fixed key keeps start-up instant (RSA key generation is slow in debug builds).
const SIGNING_KEY_PEM: &str = include_str!("sandbox-signing-key.pem");

pub struct Signer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    jwks: JwkSet,
}

impl Signer {
    pub fn new() -> Self {
        // The key is a constant of the build; its parse cannot depend on input.
        #[allow(clippy::expect_used)]
        let encoding = EncodingKey::from_rsa_pem(SIGNING_KEY_PEM.as_bytes())
            .expect("embedded signing key is valid PEM");
        #[allow(clippy::expect_used)]
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256)
            .expect("embedded signing key is RSA");
        let decoding =
            DecodingKey::from_jwk(&jwk).unwrap_or_else(|_| DecodingKey::from_secret(b""));
        let kid = match &jwk.algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::RSA(p) => {
                let digest = hash_secret(&p.n);
                format!("sandbox_{}", &digest[..16])
            }
            _ => "sandbox".to_string(),
        };
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::RS256);
        Signer {
            encoding,
            decoding,
            kid,
            jwks: JwkSet { keys: vec![jwk] },
        }
    }

    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// A signed RS256 token carrying `claims`, with the signing key's `kid` in its header.
    pub fn sign(&self, claims: &Claims) -> Result<String, Error> {
        let mut hdr = Header::new(Algorithm::RS256);
        hdr.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&hdr, claims, &self.encoding)
    }

    /// The claims of `token` when its signature is ours and it has not expired (no leeway).
    /// The audience is left to the caller.
    pub fn verify(&self, token: &str) -> Result<Claims, ErrorKind> {
        let mut v = Validation::new(Algorithm::RS256);
        v.leeway = 0;
        v.validate_aud = false;
        v.set_required_spec_claims(&["exp", "aud"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .map(|data| data.claims)
            .map_err(|e| e.into_kind())
    }
}

impl Default for Signer {
    fn default() -> Self {
        Self::new()
    }
}

/// The claims of a sandbox access token (Kinde's M2M token claims).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub aud: Vec<String>,
    pub azp: String,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub jti: String,
    pub gty: Vec<String>,
    pub scope: String,
    pub scp: Vec<String>,
    pub v: String,
}
