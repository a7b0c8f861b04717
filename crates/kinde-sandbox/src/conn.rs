//! What the accept loop and the router tell each other about a connection: the peer address
//! (a request extension) and the marker of an answer that must not be sent (a response
//! extension: the connection is dropped instead, an injected fault).

use std::net::SocketAddr;

/// The peer address of a connection, put into each request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// Marks a response whose connection must be dropped instead of answered (a fault).
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;
