//! The lock: one rollout per listener or rule at a time.
//!
//! ALB has no conditional write, so two writers (a second rollout, a person, a pipeline) would
//! silently overwrite each other's weights. Each rollout holds a lease item in DynamoDB, keyed by
//! the listener or rule ARN, taken and renewed with conditional writes:
//!
//! - `acquire` succeeds when there is no item, the item has expired, or we already hold it;
//!   every acquisition increments `version`, the fencing token.
//! - `renew` and `release` succeed only while `holder` and `version` are still ours, so a holder
//!   that was taken over learns it at its next step and stops without writing.
//! - `take_over` (a manual rollback) takes the item whatever its state, incrementing `version`.
//! - `request` records a person's `promote` or `abort` on a live lease, for its holder to act
//!   on at its next watch or step; `renew` hands it back. Taking the lease clears it, so a
//!   request never outlives the rollout it was meant for.
//!
//! Expiry is compared in every condition (`expires_at_ms`); the table's TTL attribute
//! (`purge_at`) only cleans up long-released items, since TTL deletes lazily.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use rollout_kit::LazyClient;
use rollout_kit::retry::{Backoff, RetryError, retry_until, sdk_is_transient};
use serde::Serialize;
use tokio::time::Instant;

use crate::error::Error;

/// Released items stay this long (for the version sequence and for people looking), then TTL
/// may delete them.
const PURGE_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// What this rollout holds: the fencing token it must still own before any write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    pub holder: String,
    pub version: u64,
}

/// The rollout an invocation acts for, and its lease once taken.
#[derive(Debug, Clone)]
pub struct Rollout {
    pub id: String,
    pub lease: Option<Lease>,
}

/// What a person asked the rollout holding the lease to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// Skip the waits left and go to 100 % through the gates.
    Promote,
    /// Roll back now.
    Abort,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Promote => "promote",
            RequestKind::Abort => "abort",
        }
    }

    fn parse(text: &str) -> Option<RequestKind> {
        match text {
            "promote" => Some(RequestKind::Promote),
            "abort" => Some(RequestKind::Abort),
            _ => None,
        }
    }
}

/// A pending request, as the holder reads it back when it renews.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub kind: RequestKind,
    /// Why, in the requester's words (empty when none was given).
    pub reason: String,
}

/// The lease item as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub holder: String,
    pub version: u64,
    pub expires_at_ms: u64,
}

impl Held {
    pub fn is_live(&self, now_ms: u64) -> bool {
        self.expires_at_ms > now_ms
    }
}

pub struct Leases {
    /// Built by the first call.
    client: LazyClient<Client>,
    table: String,
    grace: Duration,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl Leases {
    pub fn new(client: LazyClient<Client>, table: String, grace: Duration) -> Leases {
        Leases {
            client,
            table,
            grace,
        }
    }

    /// How long a lease lasts past a wait of `wait` seconds: a crashed execution blocks the
    /// listener for at most its current wait plus the grace.
    pub fn hold_for(&self, wait_seconds: u64) -> Duration {
        Duration::from_secs(wait_seconds).saturating_add(self.grace)
    }

    /// Takes the lease unless another live rollout holds it.
    pub async fn acquire(
        &self,
        target: &str,
        holder: &str,
        hold_for: Duration,
        until: Instant,
    ) -> Result<Lease, Error> {
        let now = now_ms();
        let result = retry_until("UpdateItem", until, Backoff::AWS, sdk_is_transient, || {
            self.take(target, holder, now, hold_for)
                .condition_expression(
                    "attribute_not_exists(target_arn) OR expires_at_ms < :now OR #holder = :holder",
                )
                .expression_attribute_values(":now", n(now))
                .send()
        })
        .await;
        match result {
            Ok(out) => lease_of(out.attributes(), target),
            Err(RetryError::Permanent(err))
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let held = self.current(target, until).await?;
                Err(match held {
                    Some(held) => Error::LeaseHeld {
                        target: target.to_string(),
                        holder: held.holder,
                        version: held.version,
                        expires_in_seconds: held.expires_at_ms.saturating_sub(now_ms()) / 1000,
                    },
                    // Released between our write and our read: say so; a retry will take it.
                    None => Error::Aws {
                        operation: "UpdateItem",
                        summary: "the lease changed hands while it was taken; retry".into(),
                    },
                })
            }
            Err(err) => Err(dynamo_error("UpdateItem", err)),
        }
    }

    /// Takes the lease whoever holds it (a manual rollback): the version increases, so the
    /// holder's next step finds it lost.
    pub async fn take_over(
        &self,
        target: &str,
        holder: &str,
        hold_for: Duration,
        until: Instant,
    ) -> Result<Lease, Error> {
        let now = now_ms();
        let out = retry_until("UpdateItem", until, Backoff::AWS, sdk_is_transient, || {
            self.take(target, holder, now, hold_for).send()
        })
        .await
        .map_err(|e| dynamo_error("UpdateItem", e))?;
        lease_of(out.attributes(), target)
    }

    fn take(
        &self,
        target: &str,
        holder: &str,
        now: u64,
        hold_for: Duration,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let expires = now.saturating_add(hold_for.as_millis() as u64);
        self.client
            .update_item()
            .table_name(&self.table)
            .key("target_arn", s(target))
            .update_expression(
                "SET #holder = :holder, #version = if_not_exists(#version, :zero) + :one, \
                 expires_at_ms = :expires, acquired_at_ms = :acquired, purge_at = :purge \
                 REMOVE #request, request_reason, requested_at_ms",
            )
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#request", "request")
            .expression_attribute_values(":holder", s(holder))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":expires", n(expires))
            .expression_attribute_values(":acquired", n(now))
            .expression_attribute_values(":purge", n(purge_at(expires)))
            .return_values(ReturnValue::AllNew)
    }

    /// Extends the lease while it is still ours (`LeaseLost` otherwise), and hands back what a
    /// person asked of the rollout meanwhile.
    pub async fn renew(
        &self,
        target: &str,
        lease: &Lease,
        hold_for: Duration,
        until: Instant,
    ) -> Result<Option<Request>, Error> {
        let expires = now_ms().saturating_add(hold_for.as_millis() as u64);
        let item = self
            .fenced(
                target,
                lease,
                "SET expires_at_ms = :expires, purge_at = :purge",
                expires,
                until,
            )
            .await?;
        Ok(item.as_ref().and_then(request_of))
    }

    /// Ends the lease while it is still ours; a lease already lost is left to its holder.
    pub async fn release(&self, target: &str, lease: &Lease, until: Instant) -> Result<(), Error> {
        let now = now_ms();
        self.fenced(
            target,
            lease,
            "SET expires_at_ms = :expires, purge_at = :purge",
            now,
            until,
        )
        .await
        .map(|_| ())
    }

    /// Records `kind` for the rollout holding a live lease on `target` (the one named `rollout`,
    /// when given). An abort is not overridden by a later promote. Returns the lease the request
    /// went to; `RequestRefused` when nothing runs there, another rollout holds it, or an abort
    /// is pending.
    pub async fn request(
        &self,
        target: &str,
        rollout: Option<&str>,
        kind: RequestKind,
        reason: &str,
        until: Instant,
    ) -> Result<Lease, Error> {
        let now = now_ms();
        let mut condition = String::from("attribute_exists(target_arn) AND expires_at_ms > :now");
        if rollout.is_some() {
            condition.push_str(" AND #holder = :holder");
        }
        if kind == RequestKind::Promote {
            condition.push_str(" AND (attribute_not_exists(#request) OR #request <> :abort)");
        }
        let result = retry_until("UpdateItem", until, Backoff::AWS, sdk_is_transient, || {
            let mut update = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("target_arn", s(target))
                .update_expression(
                    "SET #request = :request, request_reason = :reason, requested_at_ms = :now",
                )
                .condition_expression(condition.as_str())
                .expression_attribute_names("#request", "request")
                .expression_attribute_values(":request", s(kind.as_str()))
                .expression_attribute_values(":reason", s(reason))
                .expression_attribute_values(":now", n(now))
                .return_values(ReturnValue::AllNew);
            if let Some(holder) = rollout {
                update = update
                    .expression_attribute_names("#holder", "holder")
                    .expression_attribute_values(":holder", s(holder));
            }
            if kind == RequestKind::Promote {
                update =
                    update.expression_attribute_values(":abort", s(RequestKind::Abort.as_str()));
            }
            update.send()
        })
        .await;
        match result {
            Ok(out) => lease_of(out.attributes(), target),
            Err(RetryError::Permanent(err))
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let item = self.item(target, until).await?;
                Err(Error::RequestRefused {
                    target: target.to_string(),
                    request: kind.as_str(),
                    detail: refusal(item.as_ref(), rollout, kind, now_ms()),
                })
            }
            Err(err) => Err(dynamo_error("UpdateItem", err)),
        }
    }

    async fn fenced(
        &self,
        target: &str,
        lease: &Lease,
        update: &str,
        expires: u64,
        until: Instant,
    ) -> Result<Option<Item>, Error> {
        let result = retry_until("UpdateItem", until, Backoff::AWS, sdk_is_transient, || {
            self.client
                .update_item()
                .table_name(&self.table)
                .key("target_arn", s(target))
                .update_expression(update)
                .condition_expression("#holder = :holder AND #version = :version")
                .expression_attribute_names("#holder", "holder")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":holder", s(&lease.holder))
                .expression_attribute_values(":version", n(lease.version))
                .expression_attribute_values(":expires", n(expires))
                .expression_attribute_values(":purge", n(purge_at(expires)))
                .return_values(ReturnValue::AllNew)
                .send()
        })
        .await;
        match result {
            Ok(out) => Ok(out.attributes),
            Err(RetryError::Permanent(err))
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let now_held = self.current(target, until).await?;
                Err(Error::LeaseLost {
                    target: target.to_string(),
                    version: lease.version,
                    now_held_by: match now_held {
                        Some(held) => format!("{} (version {})", held.holder, held.version),
                        None => "nobody".into(),
                    },
                })
            }
            Err(err) => Err(dynamo_error("UpdateItem", err)),
        }
    }

    /// The lease item, read consistently.
    pub async fn current(&self, target: &str, until: Instant) -> Result<Option<Held>, Error> {
        Ok(self.item(target, until).await?.as_ref().and_then(held_of))
    }

    async fn item(&self, target: &str, until: Instant) -> Result<Option<Item>, Error> {
        let out = retry_until("GetItem", until, Backoff::AWS, sdk_is_transient, || {
            self.client
                .get_item()
                .table_name(&self.table)
                .key("target_arn", s(target))
                .consistent_read(true)
                .send()
        })
        .await
        .map_err(|e| dynamo_error("GetItem", e))?;
        Ok(out.item)
    }
}

type Item = std::collections::HashMap<String, AttributeValue>;

/// Why a request was refused, from the item as it is now.
fn refusal(item: Option<&Item>, rollout: Option<&str>, kind: RequestKind, now_ms: u64) -> String {
    let Some(held) = item.and_then(held_of).filter(|h| h.is_live(now_ms)) else {
        return "no rollout holds its lease, so none is running there".into();
    };
    match rollout {
        Some(named) if named != held.holder => format!(
            "it is held by rollout {} (lease version {}), not by {named}",
            held.holder, held.version
        ),
        _ if kind == RequestKind::Promote
            && item.and_then(request_of).map(|r| r.kind) == Some(RequestKind::Abort) =>
        {
            format!(
                "an abort is already pending for rollout {}, and a promote does not override it",
                held.holder
            )
        }
        _ => "the lease changed hands while the request was recorded; ask again".into(),
    }
}

fn request_of(item: &Item) -> Option<Request> {
    let kind = RequestKind::parse(item.get("request")?.as_s().ok()?)?;
    let reason = item
        .get("request_reason")
        .and_then(|r| r.as_s().ok())
        .cloned()
        .unwrap_or_default();
    Some(Request { kind, reason })
}

fn purge_at(expires_ms: u64) -> u64 {
    (expires_ms / 1000).saturating_add(PURGE_AFTER.as_secs())
}

fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn held_of(item: &Item) -> Option<Held> {
    Some(Held {
        holder: item.get("holder")?.as_s().ok()?.clone(),
        version: number(item, "version")?,
        expires_at_ms: number(item, "expires_at_ms").unwrap_or(0),
    })
}

fn lease_of(item: Option<&Item>, target: &str) -> Result<Lease, Error> {
    item.and_then(held_of)
        .map(|held| Lease {
            holder: held.holder,
            version: held.version,
        })
        .ok_or_else(|| Error::Aws {
            operation: "UpdateItem",
            summary: format!("the lease item of {target} came back without holder and version"),
        })
}

fn dynamo_error<E>(
    operation: &'static str,
    err: RetryError<
        aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    >,
) -> Error
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    crate::elb::retry_error(operation, err, |_, summary| Error::Aws {
        operation,
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(holder: &str, expires_at_ms: u64, request: Option<&str>) -> Item {
        let mut item = Item::new();
        item.insert("holder".into(), s(holder));
        item.insert("version".into(), n(4));
        item.insert("expires_at_ms".into(), n(expires_at_ms));
        if let Some(request) = request {
            item.insert("request".into(), s(request));
            item.insert("request_reason".into(), s("paged"));
        }
        item
    }

    #[test]
    fn a_renewal_hands_back_the_pending_request() {
        assert_eq!(request_of(&item("run-1", 10, None)), None);
        assert_eq!(
            request_of(&item("run-1", 10, Some("abort"))),
            Some(Request {
                kind: RequestKind::Abort,
                reason: "paged".into()
            })
        );
        assert_eq!(request_of(&item("run-1", 10, Some("pause"))), None);
    }

    #[test]
    fn a_refused_request_says_why() {
        let promote = RequestKind::Promote;
        assert!(refusal(None, None, promote, 5).contains("none is running"));
        assert!(
            refusal(Some(&item("run-1", 4, None)), None, promote, 5).contains("none is running")
        );
        let live = item("run-1", 10, None);
        assert!(
            refusal(Some(&live), Some("run-2"), promote, 5)
                .contains("held by rollout run-1 (lease version 4), not by run-2")
        );
        let aborting = item("run-1", 10, Some("abort"));
        assert!(refusal(Some(&aborting), None, promote, 5).contains("abort is already pending"));
        assert!(refusal(Some(&live), None, RequestKind::Abort, 5).contains("ask again"));
    }
}
