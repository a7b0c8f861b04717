//! kinde-sandbox: a Kinde-compatible Management API server.
