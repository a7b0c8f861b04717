//! Checks answers against Kinde's OpenAPI description of the Management API.
//!
//! The spec (OpenAPI 3.0.0) is read at test time from
//! `../shared/reference/kinde-openapi/kinde-management-api-openapi.full.yml` (beside the repo; the
//! env var `KINDE_OPENAPI_SPEC` may name another path). For an answer to `METHOD /path`:
//! the operation is the spec's path template that matches the path (literal segments beat
//! `{params}`) with that method; its `responses[status]` (else `default`) gives the
//! `application/json` schema. That schema is turned into JSON Schema draft 4: `$ref`s into
//! `#/components/...` are inlined, `nullable: true` allows `null`, and, to catch a field the spec
//! does not know, objects with `properties` get `additionalProperties: false` (outside
//! `allOf`/`anyOf`/`oneOf`). Formats (`date-time`) are validated.
//!
//! Routes that are not in the spec are handled explicitly: `/_sandbox/*` (test routes) is only
//! checked for a JSON Content-Type; `/oauth2/token` and the JWKS are checked against the shapes
//! that the reference README documents (the spec has neither); any other unknown route must be
//! the spec's `not_found_response` with `ROUTE_NOT_FOUND`. Statuses the spec does not list for a
//! route are failures, except the short [`NOT_IN_SPEC`] list.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Map, Value, json};

/// Statuses the sandbox answers on spec routes although the spec does not list them there, each
/// with the spec schema its body must match and the reason. Keep this list short.
pub const NOT_IN_SPEC: &[(u16, &str, &str)] = &[
    (
        401,
        "error_response",
        "missing, expired or invalid bearer token: the reference README documents 401 for it, \
         the spec lists 401 only on verify",
    ),
    (
        500,
        "error_response",
        "an injected fault (--fault-rate); the spec lists no 5xx",
    ),
    (
        503,
        "error_response",
        "an injected fault (--fault-rate); the spec lists no 5xx",
    ),
];

/// How an answer was judged: the route it was matched to, for coverage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seen {
    pub method: String,
    /// The spec's path template, or `"<unknown route>"`, `/oauth2/token`, ...
    pub route: String,
    pub status: u16,
}

fn seen() -> &'static Mutex<BTreeSet<Seen>> {
    static SEEN: OnceLock<Mutex<BTreeSet<Seen>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

/// Every (method, route, status) recorded so far in this test binary.
pub fn coverage() -> BTreeSet<Seen> {
    seen().lock().unwrap().clone()
}

/// Counts an answer that passed [`check`] towards [`coverage`].
pub fn record(s: Seen) {
    seen().lock().unwrap().insert(s);
}

pub fn spec_path() -> String {
    std::env::var("KINDE_OPENAPI_SPEC").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/reference/kinde-openapi/kinde-management-api-openapi.full.yml"
        )
        .to_string()
    })
}

/// The whole spec as JSON, parsed once per test binary.
pub fn doc() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let path = spec_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read Kinde's OpenAPI spec at {path}: {e} (CI puts shared/ beside the clone)"
            )
        });
        let doc: Value = serde_norway::from_str(&text)
            .unwrap_or_else(|e| panic!("Kinde's OpenAPI spec at {path} is not YAML: {e}"));
        let version = doc["openapi"].as_str().unwrap_or("");
        assert!(
            version.starts_with("3.0"),
            "the converter handles OpenAPI 3.0 (nullable); the spec is {version:?}"
        );
        doc
    })
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("only local $refs are supported, got {reference}"));
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("the spec's $ref {reference} points nowhere"))
}

/// OpenAPI 3.0 schema object -> JSON Schema draft 4 (see the module comment).
pub fn to_json_schema(doc: &Value, schema: &Value, depth: usize, in_composition: bool) -> Value {
    assert!(
        depth < 64,
        "the spec's schemas nest too deep (a $ref cycle?)"
    );
    let Some(obj) = schema.as_object() else {
        return schema.clone();
    };
    if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
        return to_json_schema(doc, resolve(doc, r), depth + 1, in_composition);
    }
    let mut out = Map::new();
    for (k, v) in obj {
        let v = match k.as_str() {
            "nullable" | "example" | "examples" | "xml" | "externalDocs" | "deprecated"
            | "readOnly" | "writeOnly" | "discriminator" => continue,
            k if k.starts_with("x-") => continue,
            "properties" => Value::Object(
                v.as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, s)| (name.clone(), to_json_schema(doc, s, depth + 1, false)))
                    .collect(),
            ),
            "items" | "not" => to_json_schema(doc, v, depth + 1, false),
            "additionalProperties" if v.is_object() => to_json_schema(doc, v, depth + 1, false),
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                v.as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| to_json_schema(doc, s, depth + 1, true))
                    .collect(),
            ),
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    let composed = ["allOf", "anyOf", "oneOf"]
        .iter()
        .any(|k| out.contains_key(*k));
    if out.contains_key("properties")
        && !out.contains_key("additionalProperties")
        && !in_composition
        && !composed
    {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    if obj.get("nullable") == Some(&Value::Bool(true)) {
        if let Some(Value::Array(e)) = out.get_mut("enum") {
            e.push(Value::Null);
        }
        match out.get("type").cloned() {
            Some(Value::String(t)) => {
                out.insert("type".into(), json!([t, "null"]));
            }
            Some(_) => {}
            None => return json!({ "anyOf": [Value::Object(out), { "type": "null" }] }),
        }
    }
    Value::Object(out)
}

/// The spec's path template matching `path`, preferring literal segments over `{params}`.
pub fn match_template<'a>(
    templates: impl Iterator<Item = &'a String>,
    path: &str,
) -> Option<&'a str> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    templates
        .filter_map(|t| {
            let tsegs: Vec<&str> = t.trim_end_matches('/').split('/').collect();
            if tsegs.len() != segs.len() {
                return None;
            }
            let mut literal = 0;
            for (ts, s) in tsegs.iter().zip(&segs) {
                if ts.starts_with('{') && ts.ends_with('}') {
                    if s.is_empty() {
                        return None;
                    }
                } else if ts == s {
                    literal += 1;
                } else {
                    return None;
                }
            }
            Some((literal, t.as_str()))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, t)| t)
}

/// The schema (as JSON Schema) an answer must match, and the route to count it under.
/// `Ok(None)`: no body check (the `/_sandbox/*` test routes). `Err`: a conformance failure.
fn expected_schema(
    method: &str,
    path: &str,
    status: u16,
) -> Result<(String, Option<Value>), String> {
    let doc = doc();
    let components = |name: &str| {
        let s = doc["components"]["schemas"]
            .get(name)
            .unwrap_or_else(|| panic!("the spec has no components.schemas.{name}"));
        to_json_schema(doc, s, 0, false)
    };
    if path.starts_with("/_sandbox/") {
        return Ok((path.to_string(), None));
    }
    if path == "/oauth2/token" {
        // Not in the spec; the reference README documents both shapes.
        let schema = match status {
            200 => json!({
                "type": "object",
                "required": ["access_token", "token_type", "expires_in"],
                "properties": {
                    "access_token": { "type": "string", "minLength": 1 },
                    "token_type": { "enum": ["Bearer"] },
                    "expires_in": { "type": "integer", "minimum": 0 },
                    "scope": { "type": "string" },
                },
                "additionalProperties": false,
            }),
            400 | 401 => json!({
                "type": "object",
                "required": ["error", "error_description"],
                "properties": {
                    "error": { "type": "string", "minLength": 1 },
                    "error_description": { "type": "string" },
                },
                "additionalProperties": false,
            }),
            // The fault layer's 500/503 use the Management API's error shape.
            500 | 503 => components("error_response"),
            _ => return Err(format!("{method} /oauth2/token answered {status}")),
        };
        return Ok((path.to_string(), Some(schema)));
    }
    if path == "/.well-known/jwks" || path == "/.well-known/jwks.json" {
        // Not in the Management API spec: a JWK set (RFC 7517).
        let schema = match status {
            200 => json!({
                "type": "object",
                "required": ["keys"],
                "properties": { "keys": { "type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["kty", "kid"],
                    "properties": { "kty": { "type": "string" }, "kid": { "type": "string" } },
                } } },
            }),
            500 | 503 => components("error_response"),
            _ => return Err(format!("{method} {path} answered {status}")),
        };
        return Ok((path.to_string(), Some(schema)));
    }
    let paths = doc["paths"].as_object().expect("the spec has paths");
    let m = method.to_ascii_lowercase();
    let operation =
        match_template(paths.keys(), path).and_then(|t| paths[t].get(m.as_str()).map(|op| (t, op)));
    let Some((template, op)) = operation else {
        // No such operation in the spec: the answer must be Kinde's unknown-route 404.
        if status != 404 {
            return Err(format!(
                "{method} {path} is no operation of the spec, yet answered {status} (expected 404 \
                 ROUTE_NOT_FOUND)"
            ));
        }
        let mut s = components("not_found_response");
        s["required"] = json!(["errors"]);
        s["properties"]["errors"]["required"] = json!(["code", "message"]);
        s["properties"]["errors"]["properties"]["code"] = json!({ "enum": ["ROUTE_NOT_FOUND"] });
        return Ok(("<unknown route>".to_string(), Some(s)));
    };
    let responses = &op["responses"];
    let response = responses
        .get(status.to_string())
        .or_else(|| responses.get("default"));
    let schema = match response {
        Some(r) => {
            let r = match r.get("$ref").and_then(Value::as_str) {
                Some(reference) => resolve(doc, reference),
                None => r,
            };
            match r.pointer("/content/application~1json/schema") {
                Some(s) => to_json_schema(doc, s, 0, false),
                None => {
                    return Err(format!(
                        "the spec gives no application/json body for {method} {template} {status}"
                    ));
                }
            }
        }
        None => match NOT_IN_SPEC.iter().find(|(s, _, _)| *s == status) {
            Some((_, name, _)) => components(name),
            None => {
                let listed: Vec<&String> = responses
                    .as_object()
                    .map(|o| o.keys().collect())
                    .unwrap_or_default();
                return Err(format!(
                    "{method} {template} answered {status}, a status the spec does not list \
                     (it lists {listed:?})"
                ));
            }
        },
    };
    Ok((template.to_string(), Some(schema)))
}

fn validators() -> &'static Mutex<HashMap<String, Arc<jsonschema::Validator>>> {
    static V: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    V.get_or_init(Default::default)
}

/// Checks one answer; `Ok` names the route it was judged as, `Err` describes every way it
/// breaks the spec.
pub fn check(
    method: &str,
    path: &str,
    status: u16,
    content_type: Option<&str>,
    body: &str,
) -> Result<Seen, String> {
    if content_type != Some("application/json") {
        return Err(format!(
            "{method} {path} {status}: Content-Type is {content_type:?}, not application/json \
             (Kinde's SDK parses JSON only then); body {body}"
        ));
    }
    let value: Value = serde_json::from_str(body)
        .map_err(|e| format!("{method} {path} {status}: body is not JSON ({e}): {body}"))?;
    let (route, schema) = expected_schema(method, path, status)?;
    let judged = Seen {
        method: method.to_string(),
        route: route.clone(),
        status,
    };
    let Some(schema) = schema else {
        return Ok(judged);
    };
    let key = format!("{method} {route} {status}");
    let validator = {
        let mut cache = validators().lock().unwrap();
        match cache.get(&key) {
            Some(v) => v.clone(),
            None => {
                let v = jsonschema::draft4::options()
                    .should_validate_formats(true)
                    .build(&schema)
                    .unwrap_or_else(|e| panic!("the schema for {key} does not compile: {e}"));
                let v = Arc::new(v);
                cache.insert(key.clone(), v.clone());
                v
            }
        }
    };
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("  at {:?}: {e}", e.instance_path().to_string()))
        .collect();
    if errors.is_empty() {
        Ok(judged)
    } else {
        Err(format!(
            "{method} {path} -> {status} does not match the spec's schema for {key}:\n{}\nbody: {body}",
            errors.join("\n")
        ))
    }
}
