//! The doctor's ladder: steps in order, the first failure (else warning) deciding the verdict.

use crate::error::Error;
use crate::model::doctor::{DoctorKind, DoctorReport, DoctorStep, StepStatus};

/// Length of a Kinde key secret: `k_live_` and 32 characters.
pub const EXPECTED_KEY_LEN: usize = 39;

pub(crate) struct Ladder {
    pub(crate) kind: DoctorKind,
    pub(crate) steps: Vec<DoctorStep>,
    /// Verdict and next action of the first failure, else of the first warning.
    pub(crate) fail: Option<(String, String)>,
    pub(crate) warn: Option<(String, String)>,
    pub(crate) counted: bool,
    /// The key checked (the key doctor): its id, name and owner by name.
    pub(crate) key_id: Option<String>,
    pub(crate) key_name: Option<String>,
    pub(crate) owner: Option<String>,
}

impl Ladder {
    pub(crate) fn new(kind: DoctorKind) -> Self {
        Ladder {
            kind,
            steps: Vec::new(),
            fail: None,
            warn: None,
            counted: false,
            key_id: None,
            key_name: None,
            owner: None,
        }
    }

    pub(crate) fn step(&mut self, name: &str, status: StepStatus, detail: impl Into<String>) {
        self.steps.push(DoctorStep {
            name: name.to_string(),
            status,
            ok: status != StepStatus::Fail,
            detail: detail.into(),
        });
    }

    pub(crate) fn ok(&mut self, name: &str, detail: impl Into<String>) {
        self.step(name, StepStatus::Ok, detail);
    }

    pub(crate) fn skip(&mut self, name: &str, detail: impl Into<String>) {
        self.step(name, StepStatus::Skipped, detail);
    }

    pub(crate) fn warn(
        &mut self,
        name: &str,
        detail: impl Into<String>,
        verdict: &str,
        next: &str,
    ) {
        self.step(name, StepStatus::Warn, detail);
        self.warn
            .get_or_insert((verdict.to_string(), next.to_string()));
    }

    pub(crate) fn fail(
        &mut self,
        name: &str,
        detail: impl Into<String>,
        verdict: &str,
        next: &str,
    ) {
        self.step(name, StepStatus::Fail, detail);
        self.fail
            .get_or_insert((verdict.to_string(), next.to_string()));
    }

    pub(crate) fn fail_err(&mut self, name: &str, verdict: &str, e: &Error) {
        let detail = format!("{} [{}]", e.message, e.code);
        self.fail(name, detail, verdict, &e.hint);
    }

    pub(crate) fn failed(&self) -> bool {
        self.fail.is_some()
    }

    pub(crate) fn finish(self, healthy_verdict: &str, healthy_next: &str) -> DoctorReport {
        let healthy = self.fail.is_none();
        let outcome = if !healthy {
            StepStatus::Fail
        } else if self.warn.is_some() {
            StepStatus::Warn
        } else {
            StepStatus::Ok
        };
        let (verdict, next_action) = match (self.fail, self.warn) {
            (Some(f), _) => f,
            (None, Some((v, n))) => (format!("{healthy_verdict}, but: {v}"), n),
            (None, None) => (healthy_verdict.to_string(), healthy_next.to_string()),
        };
        DoctorReport {
            kind: self.kind,
            steps: self.steps,
            healthy,
            outcome,
            key_id: self.key_id,
            key_name: self.key_name,
            owner: self.owner,
            verdict,
            next_action,
            counted_verification: self.counted,
        }
    }
}
