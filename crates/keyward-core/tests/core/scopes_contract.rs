//! The client's list of Management API scopes that Keyward needs and the sandbox's list of the
//! scopes its routes enforce are written on the two sides of the wire on purpose (neither crate
//! depends on the other); this test keeps them the same set.

use std::collections::BTreeSet;

#[test]
fn keyward_needs_exactly_the_scopes_the_sandbox_enforces() {
    let needed: BTreeSet<&str> = keyward_core::kinde::NEEDED_SCOPES.into_iter().collect();
    let enforced: BTreeSet<&str> = kinde_sandbox::ALL_SCOPES.iter().copied().collect();
    assert_eq!(needed, enforced);
}
